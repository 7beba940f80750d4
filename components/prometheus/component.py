"""Prometheus (server, kube-state-metrics, node-exporter) from the community chart."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common.charts import ChartSource, chart_source
from components.common.cluster import Cluster
from components.common.names import PROMETHEUS_RELEASE, Endpoints
from components.common.rbac import cluster_role_for
from components.config import Settings
from components.prometheus.values import (
    SERVER_SERVICE_ACCOUNT,
    PrometheusValuesArgs,
    dcgm_target_for,
    prometheus_values,
    server_cluster_role_rules,
)


@dataclass(frozen=True)
class PrometheusArgs:
    namespace: pulumi.Input[str]
    endpoints: Endpoints
    source: ChartSource
    values: PrometheusValuesArgs

    @staticmethod
    def from_settings(settings: Settings, cluster: Cluster) -> PrometheusArgs:
        return PrometheusArgs(
            namespace=cluster.namespace_output,
            endpoints=cluster.endpoints,
            source=chart_source(
                "prometheus",
                settings.prometheus_chart_version,
                settings.charts_dir,
                settings.chart_repository,
            ),
            values=PrometheusValuesArgs(
                retention=settings.prometheus_retention,
                storage_size=settings.prometheus_storage_size,
                server_resources=settings.prometheus_server_resources,
                kube_state_metrics_resources=settings.kube_state_metrics_resources,
                node_exporter_resources=settings.node_exporter_resources,
                node_exporter_port=(
                    settings.node_exporter_port
                    if settings.ship_node_exporter and not settings.use_existing_node_exporter
                    else None
                ),
                dcgm=dcgm_target_for(settings.gpu_mode, settings.dcgm_endpoint, cluster.endpoints),
                server_cluster_role=f"{cluster.namespace}-{SERVER_SERVICE_ACCOUNT}",
                images=cluster.images,
                remote_write_url=cluster.endpoints.collector_remote_write,
                observe=cluster.namespace,
            ),
        )


class Prometheus(pulumi.ComponentResource):
    endpoints: dict[str, str]

    def __init__(
        self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cedana:monitoring:Prometheus", name, {}, opts)
        # The server's ClusterRole and binding are ours (the chart's role reads more than the
        # server needs); cluster-scoped names carry the namespace so two installs never clash.
        cluster_role_for(
            f"{name}-server-cluster-role",
            self,
            args.values.server_cluster_role,
            "prometheus-server",
            server_cluster_role_rules(args.values.dcgm is not None),
            SERVER_SERVICE_ACCOUNT,
            args.namespace,
        )
        k8s.helm.v4.Chart(
            f"{name}-chart",
            **args.source.args(),
            name=PROMETHEUS_RELEASE,
            namespace=args.namespace,
            values=prometheus_values(args.values),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ep = args.endpoints
        self.endpoints = {
            "server": ep.prometheus_server,
            "kubeStateMetrics": ep.kube_state_metrics,
            "remoteWrite": ep.collector_remote_write,
        }
        self.register_outputs({"endpoints": self.endpoints})
