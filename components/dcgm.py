"""NVIDIA's dcgm-exporter on GPU nodes only (gpuMode install)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import DCGM_PORT, DCGM_RELEASE
from components.gpu import GpuPlacement, gpu_placement
from components.images import ImagePolicy, mirrored
from components.security import RUNTIME_DEFAULT_SECCOMP
from components.settings import Resources, Settings

DCGM_REPO = "https://nvidia.github.io/dcgm-exporter/helm-charts"
DCGM_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter"
# The chart takes no digest; a pinned digest rides on the tag of the pinned chart's image.
DCGM_IMAGE_TAG = "4.5.3-4.8.2-distroless"


@dataclass(frozen=True)
class DcgmArgs:
    namespace: pulumi.Input[str]
    chart_version: str
    placement: GpuPlacement
    resources: Resources
    priority_class_name: str
    images: ImagePolicy

    @staticmethod
    def from_settings(
        settings: Settings, namespace: pulumi.Input[str], images: ImagePolicy
    ) -> DcgmArgs:
        return DcgmArgs(
            namespace=namespace,
            chart_version=settings.dcgm_chart_version,
            placement=gpu_placement(settings.gpu_node_selector),
            resources=settings.dcgm_resources,
            priority_class_name=settings.dcgm_priority_class_name,
            images=images,
        )


def dcgm_image(images: ImagePolicy) -> dict[str, str]:
    image = {"repository": mirrored(DCGM_IMAGE, images.registry)}
    digest = images.digest(DCGM_IMAGE)
    if digest:
        image["tag"] = f"{DCGM_IMAGE_TAG}@{digest}"
    return image


def dcgm_values(a: DcgmArgs) -> dict[str, Any]:
    return {
        "image": dcgm_image(a.images),
        # Needs the Prometheus Operator's CRDs; this stack's Prometheus finds the pods itself.
        "serviceMonitor": {"enabled": False},
        # The chart's default, system-node-critical, is refused outside kube-system on GKE.
        "priorityClassName": a.priority_class_name,
        "nodeSelector": a.placement.node_selector,
        "affinity": a.placement.affinity,
        "tolerations": a.placement.tolerations,
        "resources": a.resources.to_kubernetes(),
        "service": {"enable": True, "port": DCGM_PORT},
        "imagePullSecrets": a.images.pull_secret_refs(),
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


class DcgmExporter(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: DcgmArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:DcgmExporter", name, {}, opts)
        k8s.helm.v4.Chart(
            f"{name}-chart",
            chart="dcgm-exporter",
            version=args.chart_version,
            repository_opts={"repo": DCGM_REPO},
            name=DCGM_RELEASE,
            namespace=args.namespace,
            values=dcgm_values(args),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
