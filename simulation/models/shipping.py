"""A model of one collection interval on a cluster, to count how often each series is shipped.

Given the Vector configurations and pod placements the program generates, and a list of nodes,
`ship_one_interval` returns every (data set, node described, node named in `host`) shipment
that reaches S3. The model knows what each endpoint serves and where events travel:
- `host_metrics` reads the node the pod runs on; so does a node-local Service (traffic policy
  Local, as the program gives node-exporter's);
- kube-state-metrics and the event exporter are single cluster-wide pods;
- Prometheus scrapes each kubelet's cAdvisor once (node discovery) and each DCGM exporter pod
  once (endpoint discovery), and remote-writes those samples once to whoever listens with a
  `prometheus_remote_write` source;
- a `vector` sink delivers to the workload whose `vector` source listens, which ships it on;
- a plain Service in front of a per-node exporter answers from one pod chosen at random, which is
  what the original install's DCGM scrape did; Prometheus' `/federate` returns every node's
  series once (the original install's cAdvisor).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from simulation.mocks import ProgramRun
from simulation.models.scheduler import Node, PodPlacement, schedulable

CLUSTER_WIDE = "<cluster>"


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
    by: str  # the pod that collected them (and, through a forwarder, who wrote them)


def pods(workload: Workload, nodes: list[Node]) -> list[tuple[str, Node]]:
    """(pod name, node) for every pod of the workload on this cluster."""
    eligible = [n for n in nodes if schedulable(n, workload.placement)]
    if workload.daemonset:
        return [(f"{workload.name}-{n.name}", n) for n in eligible]
    return [(f"{workload.name}-{i}", eligible[i % len(eligible)]) for i in range(workload.replicas)]


def _served_by(
    source: dict[str, Any],
    pod_node: Node,
    nodes: list[Node],
    gpu_nodes: list[Node],
    rng: random.Random,
) -> list[tuple[str, str]]:
    """(data set, node described) for one interval of one source from a pod on pod_node."""
    if source["type"] == "host_metrics":
        return [("host", pod_node.name)]
    if source["type"] == "prometheus_remote_write":
        # What Prometheus pushes: every kubelet's cAdvisor, every GPU exporter pod's DCGM.
        return [("cadvisor", n.name) for n in nodes] + [("dcgm", n.name) for n in gpu_nodes]
    if source["type"] == "vector":
        return []  # receives what forwarders send; counted at the forwarder
    if source["type"] == "http_server":
        return [("events", CLUSTER_WIDE)]  # what the one event exporter posts
    endpoint = source["endpoints"][0]
    if "/federate" in endpoint:
        return [("cadvisor", n.name) for n in nodes]
    if "node-exporter" in endpoint:
        # The program's node-exporter Service is node-local; the original's was not wired.
        return [("node-exporter", pod_node.name)]
    if "kube-state-metrics" in endpoint:
        return [("kube-state-metrics", CLUSTER_WIDE)]
    if "event-exporter" in endpoint:
        return [("event-exporter", CLUSTER_WIDE)]
    if "dcgm" in endpoint:
        # A ClusterIP Service in front of one exporter per GPU node: one pod answers.
        return [("dcgm", rng.choice(gpu_nodes).name)] if gpu_nodes else []
    raise AssertionError(f"the model does not know {endpoint}")


def _remaps(config: dict[str, Any]) -> str:
    return " ".join(
        t.get("source", "") for t in config.get("transforms", {}).values() if t["type"] == "remap"
    )


def _host_tag(data_set: str, describes: str, pod_node: Node, config: dict[str, Any]) -> str | None:
    """Which node the shipped series name in `host`, read off the config's remap programs."""
    remaps = _remaps(config)
    if data_set in ("host", "node-exporter"):
        names_node = "VECTOR_SELF_NODE_NAME" in remaps or "SPEC_NODE_NAME" in remaps
        return pod_node.name if names_node else None
    if data_set == "cadvisor":
        return describes if ".tags.host = .tags.instance" in remaps else pod_node.name
    if data_set == "dcgm":
        return (
            describes if (".tags.node" in remaps or ".tags.Hostname" in remaps) else pod_node.name
        )
    return None


def _reaching(config: dict[str, Any], sink_types: set[str]) -> set[str]:
    """Sources (and the DCGM/cAdvisor branches of a remote-write source) that reach a sink of
    one of these types through the transforms."""
    consumers: dict[str, list[str]] = {}
    for name, component in {**config.get("transforms", {}), **config["sinks"]}.items():
        for upstream in component["inputs"]:
            consumers.setdefault(upstream, []).append(name)
    sinks = {n for n, s in config["sinks"].items() if s.get("type", "aws_s3") in sink_types}

    def reaches(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in sinks:
            return True
        return any(reaches(c, seen | {name}) for c in consumers.get(name, []) if c not in seen)

    reached = {s for s in config["sources"] if reaches(s)}
    # A remote-write source ships only the branches whose filter reaches the sink.
    for branch in ("cadvisor_filter", "dcgm_filter"):
        if branch in config.get("transforms", {}) and reaches(branch):
            reached.add(branch)
    return reached


def _writes_to_s3(config: dict[str, Any]) -> bool:
    return any(s.get("type", "aws_s3") == "aws_s3" for s in config["sinks"].values())


def ship_one_interval(
    workloads: list[Workload], nodes: list[Node], gpu_nodes: list[Node], seed: int = 0
) -> list[Shipment]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible model, not cryptography
    # A forwarder's events are written by the workload that listens with a `vector` source.
    relays = [
        w for w in workloads if any(s["type"] == "vector" for s in w.config["sources"].values())
    ]
    relay_ships = {
        w.name: any(
            src["type"] == "vector" and name in _reaching(w.config, {"aws_s3"})
            for name, src in w.config["sources"].items()
        )
        for w in relays
    }
    shipments = []
    for workload in workloads:
        direct = _reaching(workload.config, {"aws_s3"}) if _writes_to_s3(workload.config) else set()
        forwarded = _reaching(workload.config, {"vector"})
        relayed = any(relay_ships.values()) and forwarded
        for pod, node in pods(workload, nodes):
            for name, source in workload.config["sources"].items():
                if name not in direct and not (relayed and name in forwarded):
                    continue  # scraped but never shipped
                for data_set, describes in _served_by(source, node, nodes, gpu_nodes, rng):
                    if source["type"] == "prometheus_remote_write" and (
                        f"{data_set}_filter" not in direct
                    ):
                        continue
                    host = _host_tag(data_set, describes, node, workload.config)
                    shipments.append(Shipment(data_set, describes, host, pod))
    return shipments


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
