"""Names, ports and in-cluster addresses, derived from release names and the namespace.

Services are found by name, so the release names are those the original install uses; every URL
is derived from them, the namespace and the cluster domain (never hard-coded).
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "cedana-monitoring"

# Release and object names the original install uses; services are found by these names.
PROMETHEUS_RELEASE = "prometheus"
VECTOR_AGENT_RELEASE = "vector"
VECTOR_COLLECTOR_RELEASE = "vector-collector"
DCGM_RELEASE = "dcgm-exporters"
EVENT_EXPORTER_NAME = "kubernetes-event-exporter"
# The refresher sidecar reads this Secret by name, as the original install creates it.
CEDANA_CREDENTIALS_SECRET = "cedana-credentials"

# Ports, each in one place.
PROMETHEUS_SERVICE_PORT = 80
KUBE_STATE_METRICS_PORT = 8080
NODE_EXPORTER_PORT = 9100
DCGM_PORT = 9400
EVENT_EXPORTER_PORT = 2112
CREDENTIALS_PORT = 9099  # the refresher's container-credentials endpoint, on loopback
REFRESHER_HEALTH_PORT = 8081
VECTOR_API_PORT = 8686  # Vector's API: GET /health for the kubelet's probes
VECTOR_AGENTS_PORT = 6000  # the collector's `vector` source, which the agents send to
VECTOR_REMOTE_WRITE_PORT = 9201  # the collector's `prometheus_remote_write` source
VECTOR_EVENTS_PORT = 9202  # the collector's `http_server` source, which the event exporter posts to
# Vector's own metrics (its `prometheus_exporter` sink), on the agents and the collector: Prometheus
# scrapes them and keeps them (never shipped); `scripts/verify` reads them through the API server.
VECTOR_METRICS_PORT = 9598
# The chart names a container port after its component, kebab-cased: the sink `vector_metrics`.
VECTOR_METRICS_PORT_NAME = "vector-metrics"
PROMETHEUS_SERVER_PORT = 9090  # the server's container port, behind its Service's port 80
# The sinks' component ids, which Vector's own metrics carry (component_id, buffer_id).
S3_SINK = "s3_sink"  # the collector's, the only writer to S3
AGENT_SINK = "collector"  # each agent's, to the collector
EVENTS_PATH = "/events"
DEFAULT_KEY_PREFIX = "vector/data/{{ tags.ts }}/"
# Where Cedana's answer says to write (credentialsMode cedana): the refresher writes its bucket,
# region and key prefix as JSON into a directory of the collector's pod that Vector watches; the
# name does not end in .json, .yaml or .toml, so Vector does not read the file as configuration.
CEDANA_TARGET_BACKEND = "cedana"  # Vector's secret backend: SECRET[cedana.bucket]
CEDANA_TARGET_DIR = "/var/run/cedana/target"
CEDANA_TARGET_FILE = f"{CEDANA_TARGET_DIR}/target.secrets"
FIRST_ANSWER_CONTAINER = "cedana-first-answer"  # the collector's init container that writes it


def from_cedana(key: str) -> str:
    """A field of Cedana's answer, as Vector's configuration names it."""
    return f"SECRET[{CEDANA_TARGET_BACKEND}.{key}]"


def static_prefix(key_prefix: str) -> str:
    """The part of a key prefix before its first template field: what the policy can name."""
    return key_prefix.split("{{", 1)[0]


def helm_fullname(release: str, chart: str) -> str:
    """The chart-standard fullname: the release name if it contains the chart name."""
    name = release if chart in release else f"{release}-{chart}"
    return name[:63].rstrip("-")


def service_url(service: str, namespace: str, port: int, path: str, cluster_domain: str) -> str:
    return f"http://{service}.{namespace}.svc.{cluster_domain}:{port}{path}"


@dataclass(frozen=True)
class Endpoints:
    """The address book: every in-cluster URL the stack uses, for one namespace."""

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
    def dcgm_service(self) -> str:
        return helm_fullname(DCGM_RELEASE, "dcgm-exporter")

    def host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.{self.cluster_domain}"

    def url(self, service: str, port: int, path: str = "") -> str:
        return service_url(service, self.namespace, port, path, self.cluster_domain)

    @property
    def prometheus_server(self) -> str:
        return self.url(self.prometheus_server_service, PROMETHEUS_SERVICE_PORT)

    @property
    def kube_state_metrics(self) -> str:
        return self.url(self.kube_state_metrics_service, KUBE_STATE_METRICS_PORT, "/metrics")

    @property
    def event_exporter(self) -> str:
        return self.url(EVENT_EXPORTER_NAME, EVENT_EXPORTER_PORT, "/metrics")

    def node_exporter(self, port: int = NODE_EXPORTER_PORT) -> str:
        return self.url(self.node_exporter_service, port, "/metrics")

    @property
    def collector_service(self) -> str:
        return helm_fullname(VECTOR_COLLECTOR_RELEASE, "vector")

    @property
    def collector_events(self) -> str:
        return self.url(self.collector_service, VECTOR_EVENTS_PORT, EVENTS_PATH)

    @property
    def collector_remote_write(self) -> str:
        return self.url(self.collector_service, VECTOR_REMOTE_WRITE_PORT, "/")
