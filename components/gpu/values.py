"""Helm values for NVIDIA's dcgm-exporter chart (pure)."""

from __future__ import annotations

from typing import Any

from components.common.images import ImagePolicy, mirrored
from components.common.names import DCGM_PORT
from components.common.security import RUNTIME_DEFAULT_SECCOMP
from components.config import Resources
from components.gpu.placement import GpuPlacement

DCGM_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter"
# The chart takes no digest; a pinned digest rides on the tag of the pinned chart's image.
DCGM_IMAGE_TAG = "4.5.3-4.8.2-distroless"


def dcgm_image(images: ImagePolicy) -> dict[str, str]:
    image = {"repository": mirrored(DCGM_IMAGE, images.registry)}
    digest = images.digest(DCGM_IMAGE)
    if digest:
        image["tag"] = f"{DCGM_IMAGE_TAG}@{digest}"
    return image


def dcgm_values(
    placement: GpuPlacement, resources: Resources, priority_class_name: str, images: ImagePolicy
) -> dict[str, Any]:
    return {
        "image": dcgm_image(images),
        # Needs the Prometheus Operator's CRDs; this stack's Prometheus finds the pods itself.
        "serviceMonitor": {"enabled": False},
        # The chart's default, system-node-critical, is refused outside kube-system on GKE.
        "priorityClassName": priority_class_name,
        "nodeSelector": placement.node_selector,
        "affinity": placement.affinity,
        "tolerations": placement.tolerations,
        "resources": resources.to_kubernetes(),
        "service": {"enable": True, "port": DCGM_PORT},
        "imagePullSecrets": images.pull_secret_refs(),
        # The pod runs with the runtime's default seccomp profile; the chart sets none.
        "podSecurityContext": {"seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
        # Exception: dcgm-exporter runs as root with SYS_ADMIN (the profiling metrics
        # DCGM_FI_PROF_* need it) and reads the kubelet's pod-resources socket from the host;
        # its root filesystem stays writable because the embedded DCGM host engine writes
        # there. It drops every other capability and cannot escalate.
        "securityContext": {
            "runAsNonRoot": False,
            "runAsUser": 0,
            "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
    }
