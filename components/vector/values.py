"""Helm values for the two vector/vector releases: the per-node agent and the collector."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components.catalog import INTERVALS
from components.common.cluster import Cluster
from components.common.egress import proxy_env
from components.common.images import ImagePolicy, mirrored
from components.common.names import (
    CEDANA_TARGET_FILE,
    DEFAULT_KEY_PREFIX,
    NODE_EXPORTER_PORT,
    VECTOR_AGENT_RELEASE,
    VECTOR_API_PORT,
    VECTOR_COLLECTOR_RELEASE,
    VECTOR_METRICS_PORT,
    VECTOR_METRICS_PORT_NAME,
    Endpoints,
    from_cedana,
)
from components.common.security import container_security_context, pod_security_context
from components.config import Resources, Settings
from components.credentials.wiring import CredentialWiring
from components.vector.pipeline import (
    NODE_IP_ENV,
    OWN_METRICS_SINK,
    AgentWiring,
    CollectorWiring,
    SinkSettings,
    agent_config,
    collector_config,
)

# Where the chart mounts its `data` volume: hostPath /var/lib/vector for the agent, the
# volume claim (or a size-limited emptyDir) for the collector.
DATA_DIR = "/vector-data-dir"
VECTOR_IMAGE = "docker.io/timberio/vector"  # the tag follows the pinned chart


@dataclass(frozen=True)
class VectorPodSettings:
    resources: Resources
    priority_class_name: str
    service_account: str
    images: ImagePolicy
    api: bool


def vector_image(images: ImagePolicy) -> dict[str, Any]:
    image: dict[str, Any] = {
        "repository": mirrored(VECTOR_IMAGE, images.registry),
        "pullSecrets": images.pull_secret_refs(),
    }
    if images.digest(VECTOR_IMAGE):
        image["sha"] = images.digest(VECTOR_IMAGE)
    return image


def probes(api: bool) -> dict[str, Any]:
    """Vector's `GET /health` (its API) for the kubelet; nothing without the API."""
    if not api:
        return {}
    check = {"httpGet": {"path": "/health", "port": VECTOR_API_PORT}, "timeoutSeconds": 5}
    return {
        # A start replays the disk buffer first; give it time before liveness counts.
        "startupProbe": {**check, "periodSeconds": 10, "failureThreshold": 30},
        "livenessProbe": {**check, "periodSeconds": 30, "failureThreshold": 3},
        "readinessProbe": {**check, "periodSeconds": 10, "failureThreshold": 1},
    }


def _common(
    config: dict[str, Any], pod: VectorPodSettings, wiring: CredentialWiring
) -> dict[str, Any]:
    return {
        "customConfig": config,
        "resources": pod.resources.to_kubernetes(),
        "podPriorityClassName": pod.priority_class_name,
        "serviceAccount": {
            "create": True,
            "name": pod.service_account,
            "annotations": dict(wiring.service_account_annotations),
            # Nothing in these pods talks to the Kubernetes API.
            "automountToken": False,
        },
        "podLabels": {"vector.dev/exclude": "true"},
        "podAnnotations": dict(wiring.pod_annotations),
        "env": list(wiring.env),
        "extraContainers": list(wiring.containers),
        "extraVolumes": list(wiring.volumes),
        "extraVolumeMounts": list(wiring.mounts),
        **({"initContainers": list(wiring.init_containers)} if wiring.init_containers else {}),
        **({"args": list(wiring.args)} if wiring.args else {}),
        "image": vector_image(pod.images),
        **probes(pod.api),
    }


def agent_values(
    config: dict[str, Any],
    pod: VectorPodSettings,
    tolerations: list[dict[str, Any]],
    *,
    node_ip_env: bool = False,
) -> dict[str, Any]:
    """The agent holds no credentials: it only forwards to the collector."""
    node_ip = {"name": NODE_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
    values = _common(config, pod, CredentialWiring(env=[node_ip] if node_ip_env else []))
    values["role"] = "Agent"
    values["rbac"] = {"create": False}  # host_metrics needs no Kubernetes API access
    values["tolerations"] = tolerations
    # Nothing listens for other pods but Vector's own metrics (Prometheus finds each agent's
    # pod itself), so no Service; the chart would otherwise render one for the API port.
    values["service"] = {"enabled": False}
    values["serviceHeadless"] = {"enabled": False}
    # The chart would also list the `vector` sink's address as a container port; the agent
    # listens on the API port and its own metrics' port only.
    ports = (
        [{"name": "api", "containerPort": VECTOR_API_PORT, "protocol": "TCP"}] if pod.api else []
    )
    if OWN_METRICS_SINK in config["sinks"]:
        ports.append(
            {
                "name": VECTOR_METRICS_PORT_NAME,
                "containerPort": VECTOR_METRICS_PORT,
                "protocol": "TCP",
            }
        )
    values["containerPorts"] = ports
    # Only what host_metrics reads, read-only; the chart's defaults also mount /var/log and
    # /var/lib for log collection, which this stack does not do.
    values["defaultVolumes"] = [
        {"name": "procfs", "hostPath": {"path": "/proc"}},
        {"name": "sysfs", "hostPath": {"path": "/sys"}},
    ]
    values["defaultVolumeMounts"] = [
        {"name": "procfs", "mountPath": "/host/proc", "readOnly": True},
        {"name": "sysfs", "mountPath": "/host/sys", "readOnly": True},
    ]
    # Exception to the non-root rule: the agent keeps its disk buffer in the node's
    # /var/lib/vector (hostPath, owned by root), so it survives pod restarts. It still runs
    # without any capability, without privilege escalation and with a read-only root.
    security = container_security_context(run_as_user=None)
    security.update({"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0})
    values["securityContext"] = security
    values["podSecurityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    return values


def buffer_volume_size(buffer_bytes: int) -> str:
    """The buffer with 10% to spare (Vector keeps some state beside it), in Mi."""
    return f"{-(-buffer_bytes * 11 // 10 // 2**20)}Mi"


def collector_values(
    config: dict[str, Any],
    pod: VectorPodSettings,
    wiring: CredentialWiring,
    persistence: dict[str, Any],
    buffer_bytes: int,
) -> dict[str, Any]:
    """The single writer: a StatefulSet (the chart's Aggregator role) whose disk buffer lives
    on a volume claim, so a drain, an eviction or a new node loses nothing."""
    values = _common(config, pod, wiring)
    if not persistence["enabled"]:
        # The chart then gives the data dir an emptyDir without a limit; the buffer itself
        # (Vector keeps it in <data_dir>/buffer) gets an emptyDir bounded to its size, so a full
        # buffer never counts against the node's ephemeral storage beyond that.
        bounded = {"name": "buffer", "emptyDir": {"sizeLimit": buffer_volume_size(buffer_bytes)}}
        values["extraVolumes"] = [*values["extraVolumes"], bounded]
        values["extraVolumeMounts"] = [
            *values["extraVolumeMounts"],
            {"name": "buffer", "mountPath": f"{DATA_DIR}/buffer"},
        ]
    values["role"] = "Aggregator"
    values["replicas"] = 1
    # One replica, replaced by deleting first: never two writers, not even during a rollout.
    values["updateStrategy"] = {"type": "RollingUpdate"}
    values["podManagementPolicy"] = "OrderedReady"
    # The agents and Prometheus find the collector through its Service (ports from the
    # `vector` and `prometheus_remote_write` sources).
    values["service"] = {"enabled": True, "type": "ClusterIP"}
    values["persistence"] = persistence
    values["securityContext"] = container_security_context()
    values["podSecurityContext"] = pod_security_context()
    return values


@dataclass(frozen=True)
class AgentSettings:
    """What the per-node agent collects and how its pod runs."""

    buffer_bytes: int
    host_collectors: tuple[str, ...]
    ship_node_exporter: bool
    resources: Resources
    tolerations: tuple[dict[str, Any], ...]
    node_exporter_port: int = NODE_EXPORTER_PORT
    existing_node_exporter: bool = False

    @staticmethod
    def from_settings(settings: Settings) -> AgentSettings:
        return AgentSettings(
            buffer_bytes=settings.vector_agent_buffer_bytes,
            host_collectors=settings.vector_host_metrics_collectors,
            ship_node_exporter=settings.ship_node_exporter,
            resources=settings.vector_agent_resources,
            tolerations=tuple(t.to_kubernetes() for t in settings.vector_agent_tolerations),
            node_exporter_port=settings.node_exporter_port,
            existing_node_exporter=settings.use_existing_node_exporter,
        )

    def wiring(self, endpoints: Endpoints, api: bool, listen: str) -> AgentWiring:
        return AgentWiring.in_cluster(
            endpoints,
            api=api,
            node_exporter_port=self.node_exporter_port,
            existing_node_exporter=self.ship_node_exporter and self.existing_node_exporter,
            listen=listen,
        )


@dataclass(frozen=True)
class CollectorSettings:
    """Where the collector writes, what it collects, and how its pod keeps its buffer."""

    sink: SinkSettings
    collect_dcgm: bool
    ship_events: bool
    resources: Resources
    persistence: bool
    storage_size: str
    storage_class: str
    # HTTPS_PROXY / NO_PROXY for S3 (Vector reads them), when egress goes through a proxy.
    proxy_env: tuple[dict[str, Any], ...] = ()

    @staticmethod
    def from_settings(settings: Settings, bucket: pulumi.Input[str] | None) -> CollectorSettings:
        cedana = settings.left_to_cedana()
        prefix = f"{from_cedana('key_prefix')}{{{{ tags.ts }}}}/" if cedana else DEFAULT_KEY_PREFIX
        return CollectorSettings(
            sink=SinkSettings(
                bucket=from_cedana("bucket") if bucket is None else bucket,
                region=settings.aws_region or from_cedana("region"),
                key_prefix=settings.vector_key_prefix or prefix,
                batch_max_bytes=settings.vector_batch_max_bytes,
                batch_timeout_secs=settings.vector_batch_timeout_secs,
                compression=settings.vector_compression,
                buffer_max_bytes=settings.vector_collector_buffer_bytes,
                endpoint=settings.s3_endpoint,
                target_file=CEDANA_TARGET_FILE if cedana else None,
            ),
            collect_dcgm=settings.gpu_mode.collects,
            ship_events=bool(settings.event_reasons),
            resources=settings.vector_collector_resources,
            persistence=settings.vector_collector_persistence,
            storage_size=settings.vector_collector_storage_size,
            storage_class=settings.vector_collector_storage_class,
            proxy_env=tuple(
                proxy_env(settings.https_proxy, settings.cluster_domain, settings.no_proxy)
            ),
        )


def collector_persistence(collector: CollectorSettings) -> dict[str, Any]:
    if not collector.persistence:
        return {"enabled": False}
    persistence: dict[str, Any] = {
        "enabled": True,
        "accessModes": ["ReadWriteOnce"],
        "size": collector.storage_size,
    }
    if collector.storage_class:
        persistence["storageClassName"] = collector.storage_class
    return persistence


def agent_pipeline(
    agent: AgentSettings,
    wiring: AgentWiring,
    data_dir: str = DATA_DIR,
    intervals: Mapping[str, int] = INTERVALS,
) -> dict[str, Any]:
    """The agent's Vector config; the lab passes loopback wiring and shorter intervals."""
    return agent_config(
        wiring,
        data_dir=data_dir,
        buffer_bytes=agent.buffer_bytes,
        host_collectors=agent.host_collectors,
        ship_node_exporter=agent.ship_node_exporter,
        intervals=intervals,
    )


def collector_pipeline(
    collector: CollectorSettings,
    wiring: CollectorWiring,
    data_dir: str = DATA_DIR,
    intervals: Mapping[str, int] = INTERVALS,
) -> dict[str, Any]:
    """The collector's Vector config; the lab passes loopback wiring and shorter intervals."""
    return collector_config(
        wiring,
        collector.sink,
        data_dir=data_dir,
        collect_dcgm=collector.collect_dcgm,
        ship_events=collector.ship_events,
        intervals=intervals,
    )


@dataclass(frozen=True)
class VectorSettings:
    """Both releases: the agent, the collector, and what their pods share."""

    agent: AgentSettings
    collector: CollectorSettings
    priority_class_name: str
    api: bool
    listen: str  # the address every listener binds (`[::]`, or `0.0.0.0` without IPv6)

    @staticmethod
    def from_settings(
        settings: Settings, bucket: pulumi.Input[str] | None, listen: str
    ) -> VectorSettings:
        return VectorSettings(
            agent=AgentSettings.from_settings(settings),
            collector=CollectorSettings.from_settings(settings, bucket),
            priority_class_name=settings.vector_priority_class_name,
            api=settings.vector_api,
            listen=listen,
        )


def release_values(
    vector: VectorSettings, cluster: Cluster, wiring: CredentialWiring
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Helm values of the agent release and of the collector release."""

    def pod(resources: Resources, service_account: str) -> VectorPodSettings:
        return VectorPodSettings(
            resources, vector.priority_class_name, service_account, cluster.images, vector.api
        )

    api = vector.api
    agent = agent_values(
        agent_pipeline(vector.agent, vector.agent.wiring(cluster.endpoints, api, vector.listen)),
        pod(vector.agent.resources, VECTOR_AGENT_RELEASE),
        list(vector.agent.tolerations),
        node_ip_env=vector.agent.ship_node_exporter and vector.agent.existing_node_exporter,
    )
    collector = collector_values(
        collector_pipeline(
            vector.collector,
            CollectorWiring.in_cluster(cluster.endpoints, api=api, listen=vector.listen),
        ),
        pod(vector.collector.resources, VECTOR_COLLECTOR_RELEASE),
        replace(wiring, env=[*wiring.env, *vector.collector.proxy_env]),
        collector_persistence(vector.collector),
        vector.collector.sink.buffer_max_bytes,
    )
    return agent, collector
