"""NVIDIA's dcgm-exporter on GPU nodes only (gpuMode install)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import DCGM_PORT, DCGM_RELEASE
from components.gpu import GpuPlacement, gpu_placement
from components.settings import Resources, Settings

DCGM_REPO = "https://nvidia.github.io/dcgm-exporter/helm-charts"


@dataclass(frozen=True)
class DcgmArgs:
    namespace: pulumi.Input[str]
    chart_version: str
    placement: GpuPlacement
    resources: Resources
    priority_class_name: str
    image_pull_secrets: tuple[str, ...] = ()

    @staticmethod
    def from_settings(settings: Settings, namespace: pulumi.Input[str]) -> DcgmArgs:
        return DcgmArgs(
            namespace=namespace,
            chart_version=settings.dcgm_chart_version,
            placement=gpu_placement(settings.gpu_node_selector),
            resources=settings.dcgm_resources,
            priority_class_name=settings.dcgm_priority_class_name,
            image_pull_secrets=settings.image_pull_secrets,
        )


def dcgm_values(a: DcgmArgs) -> dict[str, Any]:
    return {
        # Needs the Prometheus Operator's CRDs; this stack's Prometheus finds the pods itself.
        "serviceMonitor": {"enabled": False},
        # The chart's default, system-node-critical, is refused outside kube-system on GKE.
        "priorityClassName": a.priority_class_name,
        "nodeSelector": a.placement.node_selector,
        "affinity": a.placement.affinity,
        "tolerations": a.placement.tolerations,
        "resources": a.resources.to_kubernetes(),
        "service": {"enable": True, "port": DCGM_PORT},
        "imagePullSecrets": [{"name": n} for n in a.image_pull_secrets],
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
