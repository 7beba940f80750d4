"""A model of one collection interval on a cluster, to count how often each series is shipped.

Given the Vector configurations and pod placements the program generates, and a list of nodes,
`ship_one_interval` returns every (data set, node described, node named in `host`) shipment.
The model knows what each endpoint serves:
- `host_metrics` and `${VECTOR_HOST_IP}:9100` read the node the pod runs on;
- kube-state-metrics and the event exporter are single cluster-wide pods;
- Prometheus' `/federate` returns every node's cAdvisor series once (its node discovery scrapes
  each kubelet once) and every DCGM exporter pod's series once (endpoint discovery);
- a plain Service in front of a per-node exporter answers from one pod chosen at random, which is
  what the original install's DCGM scrape did.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from simulation.mock_program import ProgramRun
from simulation.scheduler import Node, PodPlacement, schedulable

CLUSTER = "<cluster>"


@dataclass(frozen=True)
class Workload:
    """A Vector workload: its config, and where its pods run."""

    name: str
    config: dict[str, Any]
    daemonset: bool
    replicas: int
    placement: PodPlacement


@dataclass(frozen=True)
class Shipment:
    data_set: str  # host, node-exporter, kube-state-metrics, event-exporter, cadvisor, dcgm
    describes: str  # the node the series are about, or <cluster>
    host_tag: str | None  # the node the shipped series name in `host`
    by: str  # the pod that shipped them


def pods(workload: Workload, nodes: list[Node]) -> list[tuple[str, Node]]:
    """(pod name, node) for every pod of the workload on this cluster."""
    eligible = [n for n in nodes if schedulable(n, workload.placement)]
    if workload.daemonset:
        return [(f"{workload.name}-{n.name}", n) for n in eligible]
    return [(f"{workload.name}-{i}", eligible[i % len(eligible)]) for i in range(workload.replicas)]


def _federated(source: dict[str, Any]) -> str | None:
    matchers = " ".join((source.get("query") or {}).get("match[]", []))
    endpoint = source["endpoints"][0]
    if "/federate" not in endpoint:
        return None
    if "DCGM_FI_" in matchers or "DCGM_FI_" in endpoint:
        return "dcgm"
    if "container_" in matchers or "container_" in endpoint:
        return "cadvisor"
    raise AssertionError(f"unknown federation query {source}")


def _served_by(
    source: dict[str, Any],
    pod_node: Node,
    nodes: list[Node],
    gpu_nodes: list[Node],
    rng: random.Random,
) -> list[tuple[str, str]]:
    """(data set, node described) for one scrape of one source from a pod on pod_node."""
    if source["type"] == "host_metrics":
        return [("host", pod_node.name)]
    endpoint = source["endpoints"][0]
    federated = _federated(source)
    if federated == "cadvisor":
        return [("cadvisor", n.name) for n in nodes]
    if federated == "dcgm":
        return [("dcgm", n.name) for n in gpu_nodes]
    if "${VECTOR_HOST_IP}:9100" in endpoint:
        return [("node-exporter", pod_node.name)]
    if "kube-state-metrics" in endpoint:
        return [("kube-state-metrics", CLUSTER)]
    if "event-exporter" in endpoint:
        return [("event-exporter", CLUSTER)]
    if "dcgm" in endpoint:
        # A ClusterIP Service in front of one exporter per GPU node: one pod answers.
        return [("dcgm", rng.choice(gpu_nodes).name)] if gpu_nodes else []
    if "node-exporter" in endpoint:
        return [("node-exporter", rng.choice(nodes).name)]
    raise AssertionError(f"the model does not know {endpoint}")


def _host_tag(data_set: str, describes: str, pod_node: Node, config: dict[str, Any]) -> str | None:
    """Which node the shipped series name in `host`, read off the config's remap programs."""
    remaps = " ".join(
        t.get("source", "") for t in config.get("transforms", {}).values() if t["type"] == "remap"
    )
    if data_set in ("host", "node-exporter"):
        return (
            pod_node.name
            if "VECTOR_SELF_NODE_NAME" in remaps or "SPEC_NODE_NAME" in remaps
            else None
        )
    if data_set == "cadvisor":
        return describes if ".tags.host = .tags.instance" in remaps else pod_node.name
    if data_set == "dcgm":
        return (
            describes if (".tags.node" in remaps or ".tags.Hostname" in remaps) else pod_node.name
        )
    return None


def ship_one_interval(
    workloads: list[Workload], nodes: list[Node], gpu_nodes: list[Node], seed: int = 0
) -> list[Shipment]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible model, not cryptography
    shipments = []
    for workload in workloads:
        connected = _sources_reaching_a_sink(workload.config)
        for pod, node in pods(workload, nodes):
            for name, source in workload.config["sources"].items():
                if name not in connected:
                    continue  # scraped but never shipped
                for data_set, describes in _served_by(source, node, nodes, gpu_nodes, rng):
                    host = _host_tag(data_set, describes, node, workload.config)
                    shipments.append(Shipment(data_set, describes, host, pod))
    return shipments


def _sources_reaching_a_sink(config: dict[str, Any]) -> set[str]:
    """Sources with a path to a sink through the transforms."""
    consumers: dict[str, list[str]] = {}
    for name, component in {**config.get("transforms", {}), **config["sinks"]}.items():
        for upstream in component["inputs"]:
            consumers.setdefault(upstream, []).append(name)
    sinks = set(config["sinks"])

    def reaches(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in sinks:
            return True
        return any(reaches(c, seen | {name}) for c in consumers.get(name, []) if c not in seen)

    return {s for s in config["sources"] if reaches(s)}


def copies(shipments: list[Shipment]) -> Counter[tuple[str, str]]:
    return Counter((s.data_set, s.describes) for s in shipments)


# --- The workloads: this program's (from a run under mocks) and the original install's ------


def vector_values(run: ProgramRun) -> tuple[dict[str, Any], dict[str, Any]]:
    charts = run.charts()
    return charts["vector"].plain["values"], charts["vector-collector"].plain["values"]


def workloads(run: ProgramRun) -> list[Workload]:
    agent, collector = vector_values(run)
    return [
        Workload(
            "vector-agent",
            agent["customConfig"],
            daemonset=True,
            replicas=0,
            placement=PodPlacement.of_daemonset(
                agent.get("nodeSelector"), agent.get("affinity"), agent.get("tolerations")
            ),
        ),
        Workload(
            "vector-collector",
            collector["customConfig"],
            daemonset=False,
            replicas=int(collector["replicas"]),
            placement=PodPlacement(
                collector.get("nodeSelector") or {},
                collector.get("affinity") or {},
                collector.get("tolerations") or [],
            ),
        ),
    ]


# The original install: one agent per node, no tolerations, every cluster-level endpoint scraped
# by every agent, DCGM through a load-balanced Service, node-exporter never connected.
ORIGINAL_CONFIG: dict[str, Any] = {
    "sources": {
        "kube-state-metrics": {
            "type": "prometheus_scrape",
            "endpoints": ["http://prometheus-kube-state-metrics.ns.svc:8080/metrics"],
        },
        "dcgm-exporter": {
            "type": "prometheus_scrape",
            "endpoints": ["http://nvidia-dcgm-exporter.gpu-operator.svc:9400/metrics"],
        },
        "node-exporter": {
            "type": "prometheus_scrape",
            "endpoints": ["http://prometheus-prometheus-node-exporter.ns.svc:9100/metrics"],
        },
        "cadvisor": {
            "type": "prometheus_scrape",
            "endpoints": [
                "http://prometheus-server.ns.svc/federate?match[]=container_cpu_usage_seconds_total"
            ],
        },
        "host_metrics": {"type": "host_metrics"},
        "event-exporter": {
            "type": "prometheus_scrape",
            "endpoints": ["http://kubernetes-event-exporter.ns.svc:2112/metrics"],
        },
    },
    "transforms": {
        "host_filter": {
            "type": "remap",
            "inputs": ["host_metrics"],
            "source": '.tags.host = get_env_var!("SPEC_NODE_NAME")',
        },
        "cadvisor_tag": {
            "type": "remap",
            "inputs": ["cadvisor"],
            "source": '.tags.host = get_env_var!("SPEC_NODE_NAME")',
        },
        "kube_state_tag": {"type": "remap", "inputs": ["kube-state-metrics"], "source": ""},
        "dcgm_tag": {
            "type": "remap",
            "inputs": ["dcgm-exporter"],
            "source": '.tags.host = get_env_var!("SPEC_NODE_NAME")',
        },
        "event_exporter_tag": {"type": "remap", "inputs": ["event-exporter"], "source": ""},
    },
    "sinks": {
        "s3_sink": {
            "inputs": [
                "host_filter",
                "cadvisor_tag",
                "kube_state_tag",
                "dcgm_tag",
                "event_exporter_tag",
            ]
        }
    },
}


def original_workloads() -> list[Workload]:
    return [
        Workload(
            "original-agent", ORIGINAL_CONFIG, True, 0, PodPlacement.of_daemonset(None, None, [])
        )
    ]
