"""Helm values for prometheus-community/prometheus, as this stack uses it.

Prometheus here is a short-lived source for federation, not long-term storage: the Vector
collector reads cAdvisor (and, with GPUs, DCGM) series from `/federate` once a minute, so the
server keeps a few hours in an emptyDir and scrapes only what the collector reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from components.settings import Resources, memory_bytes
from components.vector_config import CADVISOR_JOB, CADVISOR_PREFIXES, DCGM_JOB, DCGM_PREFIXES

# Node agents run on every node, tainted GPU nodes included.
NODE_AGENT_TOLERATIONS = [{"operator": "Exists", "effect": "NoSchedule"}]
DCGM_SCRAPE_INTERVAL = "15s"


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


def dcgm_scrape_config(target: DcgmTarget) -> dict[str, Any]:
    """One scrape per exporter pod (one per GPU node), never a load-balanced sample."""
    keep = "|".join(p + ".*" for p in DCGM_PREFIXES)
    job: dict[str, Any] = {
        "job_name": DCGM_JOB,
        "scrape_interval": DCGM_SCRAPE_INTERVAL,
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


def scrape_configs(dcgm: DcgmTarget | None) -> dict[str, Any]:
    """The chart's `scrapeConfigs` map: cAdvisor (trimmed to what is shipped) and DCGM."""
    jobs: dict[str, Any] = {job: {"enabled": False} for job in CHART_DEFAULT_JOBS}
    jobs[CADVISOR_JOB] = {
        "enabled": True,
        # Merged into the chart's own job definition: keep only the series the collector
        # ships, so the TSDB stays small.
        "metric_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": "|".join(p + ".*" for p in CADVISOR_PREFIXES),
                "action": "keep",
            }
        ],
    }
    if dcgm is not None:
        job = dcgm_scrape_config(dcgm)
        del job["job_name"]
        jobs[DCGM_JOB] = {"enabled": True, **job}
    return jobs


@dataclass(frozen=True)
class PrometheusValuesArgs:
    retention: str
    storage_size: str
    server_resources: Resources
    kube_state_metrics_resources: Resources
    node_exporter_resources: Resources
    dcgm: DcgmTarget | None


def retention_size(storage_size: str) -> str:
    """80% of the volume, so Prometheus trims its TSDB before the emptyDir limit evicts it."""
    return f"{memory_bytes(storage_size) * 8 // 10 // 2**20}MB"


def prometheus_values(a: PrometheusValuesArgs) -> dict[str, Any]:
    return {
        "alertmanager": {"enabled": False},
        "prometheus-pushgateway": {"enabled": False},
        "server": {
            "retention": a.retention,
            "retentionSize": retention_size(a.storage_size),
            "persistentVolume": {"enabled": False},
            "emptyDir": {"sizeLimit": a.storage_size},
            "resources": a.server_resources.to_kubernetes(),
        },
        "scrapeConfigs": scrape_configs(a.dcgm),
        "kube-state-metrics": {
            "resources": a.kube_state_metrics_resources.to_kubernetes(),
        },
        "prometheus-node-exporter": {
            "resources": a.node_exporter_resources.to_kubernetes(),
            "tolerations": NODE_AGENT_TOLERATIONS,
        },
    }
