"""Ingress rules for the namespace: deny by default, then exactly the data path's flows.

Flows (all inside the namespace):
- Vector agents -> Vector collector :6000 (Vector's native protocol);
- Prometheus server -> Vector collector :9201 (remote write);
- event exporter -> Vector collector :9202 (the Events Cedana reads);
- Vector collector -> kube-state-metrics :8080, event exporter :2112;
- Prometheus server -> dcgm-exporter :9400 (gpuMode install);
- Prometheus server -> every Vector pod :9598 (Vector's own metrics, kept in Prometheus).
From anywhere, for `scripts/verify`, which reads through the API server's proxy (the API
server's connections carry no pod labels, and its addresses differ per cluster, so no selector
can name it; docs/security.md says why this is acceptable):
- Prometheus' HTTP API :9090 (queries of the series it keeps);
- the refresher's health port :8081 (/health, /ready, /status: times, bucket and prefix, never
  a secret; credentialsMode cedana).
Not listed, on purpose:
- Vector's API (:8686, the health probes) is open to nothing: the kubelet's probes come from
  the pod's own node, which NetworkPolicy does not block (Kubernetes documentation, "What you
  can't do with network policies"), and no pod may reach it;
- node-exporter runs in the host network, where NetworkPolicy does not apply;
- the credentials endpoint listens on loopback only.
Egress stays open: the collector writes to S3 (and the refresher calls Cedana's API) at
addresses that change and cannot be named by a NetworkPolicy, and Prometheus reads every node's
kubelet.
"""

from __future__ import annotations

from typing import Any

from components.common.labels import selector
from components.common.names import (
    DCGM_PORT,
    DCGM_RELEASE,
    EVENT_EXPORTER_NAME,
    EVENT_EXPORTER_PORT,
    KUBE_STATE_METRICS_PORT,
    PROMETHEUS_RELEASE,
    PROMETHEUS_SERVER_PORT,
    REFRESHER_HEALTH_PORT,
    VECTOR_AGENT_RELEASE,
    VECTOR_AGENTS_PORT,
    VECTOR_COLLECTOR_RELEASE,
    VECTOR_EVENTS_PORT,
    VECTOR_METRICS_PORT,
    VECTOR_REMOTE_WRITE_PORT,
)

AGENT_PODS = {
    "app.kubernetes.io/name": "vector",
    "app.kubernetes.io/instance": VECTOR_AGENT_RELEASE,
}
COLLECTOR_PODS = {
    "app.kubernetes.io/name": "vector",
    "app.kubernetes.io/instance": VECTOR_COLLECTOR_RELEASE,
}
PROMETHEUS_SERVER_PODS = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/instance": PROMETHEUS_RELEASE,
    "app.kubernetes.io/component": "server",
}
KUBE_STATE_METRICS_PODS = {
    "app.kubernetes.io/name": "kube-state-metrics",
    "app.kubernetes.io/instance": PROMETHEUS_RELEASE,
}
DCGM_PODS = {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": DCGM_RELEASE}
VECTOR_PODS = {"app.kubernetes.io/name": "vector"}  # the agents and the collector


def deny_all_ingress() -> dict[str, Any]:
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}


def allow(target: dict[str, str], source: dict[str, str], port: int) -> dict[str, Any]:
    return {
        "podSelector": {"matchLabels": target},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": source}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }
        ],
    }


def allow_from_anywhere(target: dict[str, str], port: int) -> dict[str, Any]:
    """A rule without `from`: any source, on this port only."""
    return {
        "podSelector": {"matchLabels": target},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": port}]}],
    }


def network_policies(install_dcgm: bool, refresher: bool = False) -> dict[str, dict[str, Any]]:
    """Policy name -> spec."""
    policies = {
        "default-deny-ingress": deny_all_ingress(),
        "collector-to-kube-state-metrics": allow(
            KUBE_STATE_METRICS_PODS, COLLECTOR_PODS, KUBE_STATE_METRICS_PORT
        ),
        "collector-to-event-exporter": allow(
            selector(EVENT_EXPORTER_NAME), COLLECTOR_PODS, EVENT_EXPORTER_PORT
        ),
        "agents-to-collector": allow(COLLECTOR_PODS, AGENT_PODS, VECTOR_AGENTS_PORT),
        "prometheus-to-collector": allow(
            COLLECTOR_PODS, PROMETHEUS_SERVER_PODS, VECTOR_REMOTE_WRITE_PORT
        ),
        "event-exporter-to-collector": allow(
            COLLECTOR_PODS, selector(EVENT_EXPORTER_NAME), VECTOR_EVENTS_PORT
        ),
        "prometheus-to-vector-metrics": allow(
            VECTOR_PODS, PROMETHEUS_SERVER_PODS, VECTOR_METRICS_PORT
        ),
        "api-server-to-prometheus": allow_from_anywhere(
            PROMETHEUS_SERVER_PODS, PROMETHEUS_SERVER_PORT
        ),
    }
    if refresher:
        policies["api-server-to-refresher-status"] = allow_from_anywhere(
            COLLECTOR_PODS, REFRESHER_HEALTH_PORT
        )
    if install_dcgm:
        policies["prometheus-to-dcgm-exporter"] = allow(
            DCGM_PODS, PROMETHEUS_SERVER_PODS, DCGM_PORT
        )
    return policies
