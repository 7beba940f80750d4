"""Service names and URLs, derived from release names and the namespace (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass

# Release names the original install uses; services are found by these names.
PROMETHEUS_RELEASE = "prometheus"
VECTOR_AGENT_RELEASE = "vector"
VECTOR_COLLECTOR_RELEASE = "vector-collector"
DCGM_RELEASE = "dcgm-exporters"
EVENT_EXPORTER_NAME = "kubernetes-event-exporter"

EVENT_EXPORTER_PORT = 2112
DCGM_PORT = 9400


def helm_fullname(release: str, chart: str) -> str:
    """The chart-standard fullname: the release name if it contains the chart name."""
    name = release if chart in release else f"{release}-{chart}"
    return name[:63].rstrip("-")


def service_url(service: str, namespace: str, port: int, path: str, cluster_domain: str) -> str:
    return f"http://{service}.{namespace}.svc.{cluster_domain}:{port}{path}"


@dataclass(frozen=True)
class Endpoints:
    """Every in-cluster URL the collectors use, for one namespace."""

    namespace: str
    cluster_domain: str = "cluster.local"

    @property
    def prometheus_server_service(self) -> str:
        return f"{helm_fullname(PROMETHEUS_RELEASE, 'prometheus')}-server"

    @property
    def kube_state_metrics_service(self) -> str:
        return helm_fullname(PROMETHEUS_RELEASE, "kube-state-metrics")

    @property
    def node_exporter_service(self) -> str:
        return helm_fullname(PROMETHEUS_RELEASE, "prometheus-node-exporter")

    @property
    def prometheus_server(self) -> str:
        return service_url(
            self.prometheus_server_service, self.namespace, 80, "", self.cluster_domain
        )

    @property
    def kube_state_metrics(self) -> str:
        return service_url(
            self.kube_state_metrics_service, self.namespace, 8080, "/metrics", self.cluster_domain
        )

    @property
    def event_exporter(self) -> str:
        return service_url(
            EVENT_EXPORTER_NAME,
            self.namespace,
            EVENT_EXPORTER_PORT,
            "/metrics",
            self.cluster_domain,
        )

    @property
    def dcgm_service(self) -> str:
        return helm_fullname(DCGM_RELEASE, "dcgm-exporter")

    def federate(self, *matchers: str) -> str:
        query = "&".join(f"match[]={m}" for m in matchers)
        return f"{self.prometheus_server}/federate?{query}"
