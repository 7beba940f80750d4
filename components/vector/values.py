"""Helm values for the two vector/vector releases: the per-node agent and the collector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.common.cluster import Cluster
from components.common.images import ImagePolicy, mirrored
from components.common.names import VECTOR_AGENT_RELEASE, VECTOR_COLLECTOR_RELEASE
from components.common.security import container_security_context, pod_security_context
from components.config import Resources, Settings
from components.credentials.wiring import CredentialWiring
from components.vector.pipeline import (
    HOST_IP_ENV,
    CollectorSources,
    SinkSettings,
    agent_config,
    collector_config,
)

# Where the chart mounts its `data` volume: hostPath /var/lib/vector for the agent, an
# emptyDir for the collector.
DATA_DIR = "/vector-data-dir"


VECTOR_IMAGE = "docker.io/timberio/vector"  # the tag follows the pinned chart


@dataclass(frozen=True)
class VectorPodSettings:
    resources: Resources
    priority_class_name: str
    service_account: str
    images: ImagePolicy


def vector_image(images: ImagePolicy) -> dict[str, Any]:
    image: dict[str, Any] = {
        "repository": mirrored(VECTOR_IMAGE, images.registry),
        "pullSecrets": images.pull_secret_refs(),
    }
    if images.digest(VECTOR_IMAGE):
        image["sha"] = images.digest(VECTOR_IMAGE)
    return image


def _common(
    config: dict[str, Any], pod: VectorPodSettings, wiring: CredentialWiring
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "customConfig": config,
        "resources": pod.resources.to_kubernetes(),
        "podPriorityClassName": pod.priority_class_name,
        # No component listens for other pods (the API is on loopback), so no Service; the
        # chart would otherwise render one without ports, which the API server rejects.
        "service": {"enabled": False},
        "serviceHeadless": {"enabled": False},
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
        "image": vector_image(pod.images),
    }
    return values


def agent_values(
    config: dict[str, Any],
    pod: VectorPodSettings,
    wiring: CredentialWiring,
    tolerations: list[dict[str, Any]],
) -> dict[str, Any]:
    values = _common(config, pod, wiring)
    values["role"] = "Agent"
    values["rbac"] = {"create": False}  # host_metrics needs no Kubernetes API access
    values["tolerations"] = tolerations
    values["env"] = [
        {"name": HOST_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        *values["env"],
    ]
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


def collector_values(
    config: dict[str, Any], pod: VectorPodSettings, wiring: CredentialWiring
) -> dict[str, Any]:
    """The chart keeps the collector's data dir (and so the disk buffer, bounded by its
    max_size) in an emptyDir: it survives container restarts, not the pod's deletion."""
    values = _common(config, pod, wiring)
    values["role"] = "Stateless-Aggregator"
    values["replicas"] = 1
    # Never two collectors at once, not even during a rollout: two would ship every
    # cluster-level series twice.
    values["updateStrategy"] = {"type": "Recreate"}
    values["securityContext"] = container_security_context()
    values["podSecurityContext"] = pod_security_context()
    return values


def sink_settings(settings: Settings, bucket: pulumi.Input[str], buffer_bytes: int) -> SinkSettings:
    return SinkSettings(
        bucket=bucket,
        region=settings.aws_region,
        key_prefix=settings.vector_key_prefix,
        batch_max_bytes=settings.vector_batch_max_bytes,
        batch_timeout_secs=settings.vector_batch_timeout_secs,
        compression=settings.vector_compression,
        buffer_max_bytes=buffer_bytes,
        endpoint=settings.s3_endpoint,
    )


def release_values(
    settings: Settings,
    cluster: Cluster,
    bucket: pulumi.Input[str],
    wiring: CredentialWiring,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Helm values of the agent release and of the collector release."""

    def pod(resources: Resources, service_account: str) -> VectorPodSettings:
        return VectorPodSettings(
            resources, settings.vector_priority_class_name, service_account, cluster.images
        )

    agent = agent_values(
        agent_config(
            sink_settings(settings, bucket, settings.vector_agent_buffer_bytes),
            data_dir=DATA_DIR,
            api=settings.vector_api,
            ship_node_exporter=settings.ship_node_exporter,
        ),
        pod(settings.vector_agent_resources, VECTOR_AGENT_RELEASE),
        wiring,
        list(settings.vector_agent_tolerations),
    )
    collector = collector_values(
        collector_config(
            sink_settings(settings, bucket, settings.vector_collector_buffer_bytes),
            CollectorSources(cluster.endpoints, collect_dcgm=settings.gpu_mode.collects),
            data_dir=DATA_DIR,
            api=settings.vector_api,
        ),
        pod(settings.vector_collector_resources, VECTOR_COLLECTOR_RELEASE),
        wiring,
    )
    return agent, collector
