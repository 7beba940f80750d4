"""Vector from the vector/vector chart: a per-node agent and one cluster-level collector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.endpoints import VECTOR_AGENT_RELEASE, VECTOR_COLLECTOR_RELEASE

VECTOR_REPO = "https://helm.vector.dev"


@dataclass(frozen=True)
class VectorArgs:
    namespace: pulumi.Input[str]
    chart_version: str
    agent_values: dict[str, Any]
    collector_values: dict[str, Any]


class Vector(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: VectorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:Vector", name, {}, opts)
        for role, release, values in (
            ("agent", VECTOR_AGENT_RELEASE, args.agent_values),
            ("collector", VECTOR_COLLECTOR_RELEASE, args.collector_values),
        ):
            k8s.helm.v4.Chart(
                f"{name}-{role}",
                chart="vector",
                version=args.chart_version,
                repository_opts={"repo": VECTOR_REPO},
                name=release,
                namespace=args.namespace,
                values=values,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
