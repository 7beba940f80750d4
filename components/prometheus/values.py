"""Helm values for prometheus-community/prometheus, as this stack uses it.

Prometheus here is a relay, not long-term storage: it scrapes every kubelet's cAdvisor (and,
with GPUs, every DCGM exporter) once and remote-writes exactly the shipped series to the Vector
collector, retrying until the collector has taken each sample. Its write-ahead log holds what
the collector has not taken yet; the server keeps a few hours in an emptyDir.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.catalog import (
    CADVISOR_JOB,
    CADVISOR_SERIES,
    DCGM_JOB,
    DCGM_PREFIXES,
    INTERVALS,
    KUBE_STATE_METRICS,
    name_regex,
)
from components.common.images import ImagePolicy, mirrored
from components.common.names import (
    DCGM_PORT,
    VECTOR_AGENT_RELEASE,
    VECTOR_COLLECTOR_RELEASE,
    VECTOR_METRICS_PORT_NAME,
    Endpoints,
)
from components.common.quantities import memory_bytes
from components.common.security import container_security_context, pod_security_context
from components.config import GpuMode, Resources
from components.config.model import resources

# Node agents run on every node, tainted GPU nodes included.
NODE_AGENT_TOLERATIONS = [{"operator": "Exists", "effect": "NoSchedule"}]


@dataclass(frozen=True)
class DcgmTarget:
    """Where Prometheus finds the GPU exporters: every endpoint of one Service, or one URL."""

    service: str | None
    namespace: str | None
    port: int
    path: str
    url: str


def dcgm_target(url: str) -> DcgmTarget:
    """Reads `http://<service>.<namespace>.svc[.<domain>]:<port>/<path>`; other URLs are static."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    labels = host.split(".")
    if len(labels) >= 3 and labels[2] == "svc":
        return DcgmTarget(labels[0], labels[1], port, parts.path or "/metrics", url)
    return DcgmTarget(None, None, port, parts.path or "/metrics", url)


def dcgm_target_for(mode: GpuMode, external: str, endpoints: Endpoints) -> DcgmTarget | None:
    """Which GPU exporter Prometheus scrapes, per gpuMode (`external`: the endpoint URL)."""
    if mode is GpuMode.OFF:
        return None
    if mode is GpuMode.EXTERNAL:
        return dcgm_target(external)
    return DcgmTarget(endpoints.dcgm_service, endpoints.namespace, DCGM_PORT, "/metrics", "")


def dcgm_scrape_config(target: DcgmTarget) -> dict[str, Any]:
    """One scrape per exporter pod (one per GPU node), never a load-balanced sample."""
    keep = name_regex(DCGM_PREFIXES)
    job: dict[str, Any] = {
        "job_name": DCGM_JOB,
        "scrape_interval": f"{INTERVALS['dcgm-exporter']}s",
        "metrics_path": target.path,
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": keep, "action": "keep"},
        ],
    }
    if target.service is None:
        parts = urlsplit(target.url)
        job["scheme"] = parts.scheme
        job["static_configs"] = [{"targets": [f"{parts.hostname}:{target.port}"]}]
        return job
    job["kubernetes_sd_configs"] = [
        {"role": "endpointslice", "namespaces": {"names": [target.namespace]}}
    ]
    job["relabel_configs"] = [
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "regex": target.service,
            "action": "keep",
        },
        {
            "source_labels": ["__meta_kubernetes_endpointslice_port"],
            "regex": str(target.port),
            "action": "keep",
        },
        # The node a GPU belongs to, straight from Kubernetes.
        {
            "source_labels": ["__meta_kubernetes_endpointslice_endpoint_node_name"],
            "target_label": "node",
        },
    ]
    return job


# The chart's default jobs (chart 28+ keeps them in the `scrapeConfigs` map). Only the cAdvisor
# job feeds the collector; the others (API servers, every annotated pod and service…) would
# cost memory and CPU for series nobody reads, so they are switched off.
CHART_DEFAULT_JOBS = (
    "prometheus",
    "kubernetes-api-servers",
    "kubernetes-nodes",
    "kubernetes-nodes-cadvisor",
    "kubernetes-service-endpoints",
    "kubernetes-service-endpoints-slow",
    "prometheus-pushgateway",
    "kubernetes-services",
    "kubernetes-pods",
    "kubernetes-pods-slow",
)


# What the stack observes of itself, for `scripts/verify`: kept in Prometheus (a few hours),
# never remote-written (the remote write keeps only the cAdvisor and DCGM jobs' series).
VECTOR_METRICS_JOB = "vector"
SELF_JOB = "prometheus"  # the chart's own job: the server's /metrics on localhost:9090
OBSERVED_INTERVAL = "30s"
# Of Vector's own metrics, what verify reads: deliveries (the last write to S3), errors and
# drops, the buffers' fill. Everything else Vector exposes (histograms per component, …) is
# dropped at the scrape, so a thousand agents cost Prometheus some ten series each.
VECTOR_METRICS_KEPT = (
    "vector_component_sent_events_total",
    "vector_component_errors_total",
    "vector_component_discarded_events_total",
    "vector_buffer_size_bytes",
    "vector_buffer_max_size_bytes",
    "vector_buffer_discarded_events_total",
)
# Of Prometheus' own metrics, its remote write queue: failures, retries, pending samples, lag.
SELF_METRICS_KEPT = "prometheus_remote_storage_.*"


def vector_metrics_scrape_config(namespace: str) -> dict[str, Any]:
    """Every agent and collector pod of the namespace, on its `vector-metrics` port.

    Pod discovery (not a Service: the agents have none), kept to the two vector releases and
    that port; each series gets the pod, its node and its release.
    """
    releases = f"{VECTOR_AGENT_RELEASE}|{VECTOR_COLLECTOR_RELEASE}"
    return {
        "enabled": True,
        "scrape_interval": OBSERVED_INTERVAL,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {
                "source_labels": [
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name",
                    "__meta_kubernetes_pod_label_app_kubernetes_io_instance",
                    "__meta_kubernetes_pod_container_port_name",
                ],
                "separator": ";",
                "regex": f"vector;({releases});{VECTOR_METRICS_PORT_NAME}",
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
            {
                "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
                "target_label": "release",
            },
        ],
        "metric_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": "|".join(VECTOR_METRICS_KEPT),
                "action": "keep",
            }
        ],
    }


def self_scrape_config() -> dict[str, Any]:
    """Merged into the chart's own job (localhost:9090): only the remote write's metrics."""
    return {
        "enabled": True,
        "scrape_interval": OBSERVED_INTERVAL,
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": SELF_METRICS_KEPT, "action": "keep"}
        ],
    }


def scrape_configs(dcgm: DcgmTarget | None, observe: str | None = None) -> dict[str, Any]:
    """The chart's `scrapeConfigs` map: cAdvisor (trimmed to what is shipped) and DCGM; with
    `observe` (the stack's namespace), also what verify reads: Vector's and Prometheus' own."""
    jobs: dict[str, Any] = {job: {"enabled": False} for job in CHART_DEFAULT_JOBS}
    jobs[CADVISOR_JOB] = {
        "enabled": True,
        # Merged into the chart's own job definition: keep only the series the collector
        # ships, so the TSDB and the write-ahead log stay small.
        "metric_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": "|".join(CADVISOR_SERIES),
                "action": "keep",
            }
        ],
    }
    if dcgm is not None:
        job = dcgm_scrape_config(dcgm)
        del job["job_name"]
        jobs[DCGM_JOB] = {"enabled": True, **job}
    if observe is not None:
        jobs[VECTOR_METRICS_JOB] = vector_metrics_scrape_config(observe)
        jobs[SELF_JOB] = self_scrape_config()
    return jobs


# The config reloader beside the server: tiny and constant, so not a setting.
RELOADER_RESOURCES = resources("10m", "16Mi", "50m", "32Mi")
# Only what the collector ships: fewer objects watched, fewer series, a smaller ClusterRole.
KSM_COLLECTORS = ["pods", "jobs"]
SERVER_SERVICE_ACCOUNT = "prometheus-server"

# Upstream image repositories of the pinned chart (tags follow the chart version).
SERVER_IMAGE = "quay.io/prometheus/prometheus"
RELOADER_IMAGE = "quay.io/prometheus-operator/prometheus-config-reloader"
KSM_REGISTRY, KSM_REPOSITORY = "registry.k8s.io", "kube-state-metrics/kube-state-metrics"
NODE_EXPORTER_REGISTRY, NODE_EXPORTER_REPOSITORY = "quay.io", "prometheus/node-exporter"


@dataclass(frozen=True)
class PrometheusValuesArgs:
    retention: str
    storage_size: str
    server_resources: Resources
    kube_state_metrics_resources: Resources
    node_exporter_resources: Resources
    # None: no node-exporter (nothing ships its data, or the cluster's own one is read).
    node_exporter_port: int | None
    dcgm: DcgmTarget | None
    # The server's ClusterRole, created by this program with only the reads it needs.
    server_cluster_role: str
    images: ImagePolicy
    # The collector's prometheus_remote_write source.
    remote_write_url: str
    # The namespace whose Vector pods Prometheus scrapes for their own metrics (verify reads
    # them); None scrapes none.
    observe: str | None = None


def server_cluster_role_rules(discover_dcgm: bool) -> list[dict[str, Any]]:
    """What the server reads: nodes and their kubelet metrics (cAdvisor), pods (the Vector pods
    whose own metrics it scrapes), and, for DCGM, the EndpointSlices and Services of the
    exporter's Service. The chart's own role also reads ingresses and configmaps everywhere,
    which this stack never scrapes."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]},
    ]
    if discover_dcgm:
        rules += [
            {"apiGroups": [""], "resources": ["services"], "verbs": ["list", "watch"]},
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "watch"],
            },
        ]
    return rules


def retention_size(storage_size: str) -> str:
    """80% of the volume, so Prometheus trims its TSDB before the emptyDir limit evicts it."""
    return f"{memory_bytes(storage_size) * 8 // 10 // 2**20}MB"


def remote_write(url: str, collect_dcgm: bool) -> list[dict[str, Any]]:
    """Prometheus pushes exactly the shipped series to the collector, each sample once.

    Prometheus retries a failed or unanswered batch (5xx, 429, network) with backoff from its
    write-ahead log, and never samples: nothing depends on a scrape timeout. Metadata (metric
    types) is not sent: the series keep the shape federation gave them (gauges).
    """
    shipped = [f"{CADVISOR_JOB};({'|'.join(CADVISOR_SERIES)})"]
    if collect_dcgm:
        shipped.append(f"{DCGM_JOB};({name_regex(DCGM_PREFIXES)})")
    return [
        {
            "url": url,
            "name": "vector-collector",
            "remote_timeout": "30s",
            "write_relabel_configs": [
                {
                    "source_labels": ["job", "__name__"],
                    "separator": ";",
                    "regex": "|".join(shipped),
                    "action": "keep",
                }
            ],
            "metadata_config": {"send": False},
        }
    ]


def _image(repository: str, images: ImagePolicy, digest_key: str = "digest") -> dict[str, str]:
    values = {"repository": mirrored(repository, images.registry)}
    if images.digest(repository):
        values[digest_key] = images.digest(repository)
    return values


def _registry_image(
    registry: str, repository: str, images: ImagePolicy, digest_key: str
) -> dict[str, str]:
    values = {"registry": images.registry or registry, "repository": repository}
    digest = images.digest(f"{registry}/{repository}")
    if digest:
        values[digest_key] = digest
    return values


def prometheus_values(a: PrometheusValuesArgs) -> dict[str, Any]:
    pull_secrets = a.images.pull_secret_refs()
    return {
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "imagePullSecrets": pull_secrets,
        "serviceAccounts": {"server": {"create": True, "name": SERVER_SERVICE_ACCOUNT}},
        "server": {
            "image": _image(SERVER_IMAGE, a.images),
            "retention": a.retention,
            "retentionSize": retention_size(a.storage_size),
            "persistentVolume": {"enabled": False},
            "emptyDir": {"sizeLimit": a.storage_size},
            "resources": a.server_resources.to_kubernetes(),
            "useExistingClusterRoleName": a.server_cluster_role,
            "remoteWrite": remote_write(a.remote_write_url, a.dcgm is not None),
            "securityContext": pod_security_context(),
            "containerSecurityContext": container_security_context(),
        },
        "configmapReload": {
            "prometheus": {
                "image": _image(RELOADER_IMAGE, a.images),
                "resources": RELOADER_RESOURCES.to_kubernetes(),
                "containerSecurityContext": container_security_context(),
            }
        },
        "scrapeConfigs": scrape_configs(a.dcgm, a.observe),
        "kube-state-metrics": {
            "image": _registry_image(KSM_REGISTRY, KSM_REPOSITORY, a.images, "sha"),
            "imagePullSecrets": pull_secrets,
            "resources": a.kube_state_metrics_resources.to_kubernetes(),
            "collectors": KSM_COLLECTORS,
            "metricAllowlist": list(KUBE_STATE_METRICS),
            "securityContext": {"enabled": True, **pod_security_context()},
            "containerSecurityContext": container_security_context(),
        },
        "prometheus-node-exporter": node_exporter_values(a),
    }


def node_exporter_values(a: PrometheusValuesArgs) -> dict[str, Any]:
    """Installed only when something reads it: its host port on every node would otherwise
    keep the pods of any other node-exporter (or ours) from starting, for nothing."""
    if a.node_exporter_port is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "image": _registry_image(
            NODE_EXPORTER_REGISTRY, NODE_EXPORTER_REPOSITORY, a.images, "digest"
        ),
        "imagePullSecrets": a.images.pull_secret_refs(),
        "resources": a.node_exporter_resources.to_kubernetes(),
        "tolerations": NODE_AGENT_TOLERATIONS,
        # Node-local: each Vector agent reaches its own node's exporter through the
        # Service (on IPv4 and IPv6 nodes alike), never another node's.
        "service": {
            "internalTrafficPolicy": "Local",
            "port": a.node_exporter_port,
            "targetPort": a.node_exporter_port,
        },
        # Exception: node-exporter keeps the chart's host network, host PID namespace and
        # read-only host root mount: it reports the node itself, not its own container.
        # It still runs as nobody without any capability.
        "containerSecurityContext": container_security_context(),
    }
