"""Vector from the vector/vector chart: a per-node agent and one cluster-level collector."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.charts import ChartSource, chart_source
from components.common.cluster import Cluster
from components.common.names import VECTOR_AGENT_RELEASE, VECTOR_COLLECTOR_RELEASE
from components.config import Settings
from components.credentials.wiring import CredentialWiring
from components.vector.values import VectorSettings, release_values


@dataclass(frozen=True)
class VectorArgs:
    vector: VectorSettings
    source: ChartSource
    cluster: Cluster
    wiring: CredentialWiring  # the collector's: the only pod with credentials

    @staticmethod
    def from_settings(
        settings: Settings,
        cluster: Cluster,
        bucket: pulumi.Input[str],
        wiring: CredentialWiring,
        listen: str,
    ) -> VectorArgs:
        return VectorArgs(
            vector=VectorSettings.from_settings(settings, bucket, listen),
            source=chart_source(
                "vector",
                settings.vector_chart_version,
                settings.charts_dir,
                settings.chart_repository,
            ),
            cluster=cluster,
            wiring=wiring,
        )


class Vector(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: VectorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:Vector", name, {}, opts)
        agent, collector = release_values(args.vector, args.cluster, args.wiring)
        for role, release, values in (
            ("agent", VECTOR_AGENT_RELEASE, agent),
            ("collector", VECTOR_COLLECTOR_RELEASE, collector),
        ):
            k8s.helm.v4.Chart(
                f"{name}-{role}",
                **args.source.args(),
                name=release,
                namespace=args.cluster.namespace_output,
                values=values,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
