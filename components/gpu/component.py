"""NVIDIA's dcgm-exporter on GPU nodes only (gpuMode install)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.charts import ChartSource, chart_source
from components.common.cluster import Cluster
from components.common.images import ImagePolicy
from components.common.names import DCGM_RELEASE
from components.config import Resources, Settings
from components.gpu.placement import GpuPlacement, gpu_placement
from components.gpu.values import dcgm_values


@dataclass(frozen=True)
class DcgmArgs:
    namespace: pulumi.Input[str]
    source: ChartSource
    placement: GpuPlacement
    resources: Resources
    priority_class_name: str
    images: ImagePolicy

    @staticmethod
    def from_settings(settings: Settings, cluster: Cluster) -> DcgmArgs:
        return DcgmArgs(
            namespace=cluster.namespace_output,
            source=chart_source(
                "dcgm-exporter",
                settings.dcgm_chart_version,
                settings.charts_dir,
                settings.chart_repository,
            ),
            placement=gpu_placement(settings.gpu_node_selector),
            resources=settings.dcgm_resources,
            priority_class_name=settings.dcgm_priority_class_name,
            images=cluster.images,
        )


class DcgmExporter(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: DcgmArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:DcgmExporter", name, {}, opts)
        k8s.helm.v4.Chart(
            f"{name}-chart",
            **args.source.args(),
            name=DCGM_RELEASE,
            namespace=args.namespace,
            values=dcgm_values(
                args.placement, args.resources, args.priority_class_name, args.images
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
