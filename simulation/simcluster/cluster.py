"""A simulated cluster started and stopped as one: the control plane on loopback, kwok nodes for
scale and, when asked, real nodes (see real_node.py) on the network of network.py with CoreDNS
as the cluster DNS. From a test:

    with SimulatedCluster(workdir, ClusterSpec(kwok_nodes=2, real_nodes=real_nodes(1),
                                               images=images)) as cluster:
        cluster.kubectl("get", "nodes")
        address, port = cluster.expose("cedana", fake_api_port)     # a loopback service
        cluster.label("real-0", {"nvidia.com/gpu.present": "true"})
    cluster.leftovers   # what the run left on the machine: must be []
    cluster.outside     # connections that left loopback or 198.18.0.0/15: must be []

Everything the run changes is undone by `stop()` (also on error): processes, pods through the
CRI, namespaces, cgroups, mounts, and the kernel settings the kubelet changes machine-wide.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from simulation.models.nodes import simulated_cluster_nodes
from simulation.simcluster.addresses import CLUSTER_RANGE, RELAY_ADDRESS, pod_cidr
from simulation.simcluster.cluster_dns import NAME as DNS_NAME
from simulation.simcluster.cluster_dns import NAMESPACE as DNS_NAMESPACE
from simulation.simcluster.cluster_dns import REAL_NODE_LABEL, coredns_manifests
from simulation.simcluster.control_plane import KUBECTL_FAILED, ControlPlane
from simulation.simcluster.host_state import (
    HostState,
    made_by,
    processes_left,
    restore_sysctls,
)
from simulation.simcluster.network import Hub, netns_path
from simulation.simcluster.node_images import Importer, NodeImages, ctr_import
from simulation.simcluster.real_node import (
    KUBELET_SYSCTLS,
    NodeSpec,
    RealNode,
    kube_router_binary,
    kube_router_rbac,
    node_manifest,
)
from simulation.support.loopback import LoopbackWatch, NamespaceWatch, descends_from
from simulation.support.waiting import wait_until

KIND_LABEL = "simulation.cedana.ai/kind"
REAL_KIND = "real"
# Seconds a real node may take to become Ready once the control plane is up (issue 19).
READY_BUDGET = 120


def kwok_node_manifests(size: int) -> list[dict[str, Any]]:
    """kwok's nodes: one control-plane node, CPU nodes and a GPU node of every platform."""
    manifests = []
    for kind, node in simulated_cluster_nodes(size):
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {
                        "kubernetes.io/hostname": node.name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        KIND_LABEL: kind,
                        **node.labels,
                    },
                },
                "spec": {"taints": node.taints} if node.taints else {},
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                },
            }
        )
    return manifests


def real_nodes(count: int, labels: dict[str, str] | None = None) -> tuple[NodeSpec, ...]:
    """`count` real nodes named real-0, real-1, … with the same extra labels."""
    return tuple(NodeSpec(f"real-{i}", dict(labels or {})) for i in range(count))


@dataclass(frozen=True)
class ClusterSpec:
    kwok_nodes: int = 0
    real_nodes: tuple[NodeSpec, ...] = ()
    # The archives every real node imports (the sandbox image and CoreDNS' at least).
    images: NodeImages | None = None
    # How a node imports them: (archives, containerd socket) -> anything; e.g.
    # simulation.images.build.import_images.
    importer: Importer = ctr_import


@dataclass(frozen=True)
class Exposed:
    """A loopback service as pods see it: at `address`:`port`, and under `dns` when it was
    given a Service."""

    name: str
    address: str
    port: int
    dns: str | None = None


def ready_nodes(items: Sequence[dict[str, Any]]) -> set[str]:
    return {
        n["metadata"]["name"]
        for n in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
    }


@dataclass
class SimulatedCluster:
    workdir: Path
    spec: ClusterSpec = field(default_factory=ClusterSpec)
    say: Callable[[str], None] = lambda _: None  # progress, e.g. print
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    timings: dict[str, float] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)
    # not the run's: another program's, or already there when the run began
    others: list[str] = field(default_factory=list)
    watched_namespaces: list[str] = field(default_factory=list)  # the run's, as the watch saw
    namespace_ids: dict[str, str] = field(default_factory=dict)  # the hub's and nodes' by name
    leftovers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    nodes: list[RealNode] = field(default_factory=list)
    hub: Hub | None = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        real = bool(self.spec.real_nodes)
        if real and self.spec.images is None:
            raise ValueError("real nodes need their images (ClusterSpec.images): nothing is pulled")
        if real and not kube_router_binary():
            raise ValueError("real nodes need kube-router (see real_node.KUBE_ROUTER_HELP)")
        self.plane = ControlPlane(
            self.workdir / "control-plane",
            egress_socket=self.workdir / "egress.sock" if real else None,
        )
        self.started = time.monotonic()

    # -- start

    def _mark(self, name: str, since: float | None = None) -> float:
        seconds = round(time.monotonic() - (self.started if since is None else since), 1)
        self.timings[name] = seconds
        self.say(f"{name}: {seconds} s")
        return seconds

    def _namespaces(self) -> list[str]:
        if not self.hub:
            return []
        names = [self.hub.name, *(self.hub.node_netns(i) for i in self.hub.nodes)]
        return [str(netns_path(n)) for n in names]

    def start(self) -> SimulatedCluster:
        self.started = time.monotonic()
        self.before = HostState.capture()
        self.root_watch = LoopbackWatch(ours=descends_from(os.getpid())).start()
        self.netns_watch = NamespaceWatch(
            markers=[str(self.workdir)], allowed=[CLUSTER_RANGE], namespaces=self._namespaces
        )
        if self.spec.real_nodes:  # a kwok-only run makes no namespace
            self.netns_watch.start()
        try:
            runtimes = self._start_network_and_runtimes() if self.spec.real_nodes else None
            self.plane.start()
            control_plane_up = time.monotonic()
            self._mark("control_plane_seconds")
            if runtimes is not None:
                self._start_real_nodes(runtimes, control_plane_up)
            if self.spec.kwok_nodes:
                self.apply(kwok_node_manifests(self.spec.kwok_nodes))
                self.wait_nodes_ready(self.spec.kwok_nodes + len(self.nodes))
                self._mark("nodes_ready_seconds")
            if self.nodes:
                self._start_dns()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_network_and_runtimes(self) -> threading.Thread:
        """The hub, the nodes' namespaces and runtimes with their images: none of it needs the
        control plane, so it runs while the control plane starts."""
        self.hub = Hub(self.run_id, self.workdir / "network")
        self.hub.create()
        for index, spec in enumerate(self.spec.real_nodes):
            netns = self.hub.add_node(index)
            self.nodes.append(
                RealNode(
                    spec=spec,
                    index=index,
                    netns=netns,
                    directory=self.workdir / f"n{index}",
                    pki=self.plane.pki,
                    api_server=f"https://{RELAY_ADDRESS}:{self.plane.ports['api']}",
                    cgroup_root=f"/cdn-{self.run_id}-n{index}",
                )
            )
        self.namespace_ids = self.hub.namespace_ids()
        assert self.spec.images is not None
        images, importer = self.spec.images, self.spec.importer
        errors: list[BaseException] = []

        def prepare(node: RealNode) -> None:
            node.start_runtime(images.sandbox)
            node.import_images(images, importer)

        def prepare_all() -> None:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                for future in [pool.submit(prepare, n) for n in self.nodes]:
                    if error := future.exception():
                        errors.append(error)

        thread = threading.Thread(target=prepare_all, daemon=True)
        thread.errors = errors  # type: ignore[attr-defined]
        thread.start()
        return thread

    def _start_real_nodes(self, runtimes: threading.Thread, control_plane_up: float) -> None:
        assert self.hub is not None
        address, port = self.hub.expose("kube-apiserver", self.plane.ports["api"])
        self.hub.egress_proxy(self.workdir / "egress.sock", self.nodes[0].netns)
        self.apply(kube_router_rbac())
        self.apply(
            [
                node_manifest(
                    n.spec, n.index, {KIND_LABEL: REAL_KIND, REAL_NODE_LABEL[0]: REAL_NODE_LABEL[1]}
                )
                for n in self.nodes
            ]
        )
        runtimes.join(timeout=600)
        if runtimes.is_alive():
            raise TimeoutError("the real nodes' runtimes and images took over 600 s")
        if runtimes.errors:  # type: ignore[attr-defined]
            raise runtimes.errors[0]  # type: ignore[attr-defined]
        for node in self.nodes:
            self.timings[f"{node.name}_runtime_seconds"] = node.timings["runtime_seconds"]
            self.timings[f"{node.name}_import_seconds"] = node.timings["import_seconds"]
        for node in self.nodes:
            node.start_agents()

        def all_ready() -> bool:
            for node in self.nodes:
                node.check_running()  # a node whose kubelet exited never gets Ready
            try:
                items = json.loads(self.kubectl("get", "nodes", "-o", "json", timeout=30))
            except KUBECTL_FAILED:
                return False
            return {n.name for n in self.nodes} <= ready_nodes(items["items"])

        wait_until(
            all_ready,
            READY_BUDGET + 60,
            f"the real nodes to be Ready (logs in {self.workdir}/n*)",
            every=1,
        )
        self._mark("real_nodes_ready_after_control_plane_seconds", control_plane_up)
        router = kube_router_binary()
        assert router is not None
        started = time.monotonic()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.start_firewall(router), self.nodes))
        self._mark("network_policies_enforced_seconds", started)
        self.say(f"real nodes on {address}:{port} (API relay), pods in {pod_cidr(0)}, …")

    def _start_dns(self) -> None:
        started = time.monotonic()
        self.apply(coredns_manifests())

        def available() -> bool:
            deployment = json.loads(
                self.kubectl(
                    "get", "deployment", DNS_NAME, "-n", DNS_NAMESPACE, "-o", "json", timeout=30
                )
            )
            return bool(deployment.get("status", {}).get("availableReplicas"))

        wait_until(available, 180, "CoreDNS to be available", every=1)
        self._mark("dns_seconds", started)

    # -- use

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        return self.plane.kubectl(*args, stdin=stdin, timeout=timeout)

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        document = {"apiVersion": "v1", "kind": "List", "items": manifests}
        self.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(document), timeout=600)

    def wait_nodes_ready(self, count: int, timeout: float = 300) -> None:
        wait_until(
            lambda: (
                len(ready_nodes(json.loads(self.kubectl("get", "nodes", "-o", "json"))["items"]))
                >= count
            ),
            timeout,
            f"{count} nodes to become Ready",
            every=1,
        )

    def label(self, node: str, labels: dict[str, str]) -> None:
        """Labels on a node, real or kwok (the admin sets them: NodeRestriction keeps a kubelet
        from setting most)."""
        self.kubectl("label", "node", node, "--overwrite", *(f"{k}={v}" for k, v in labels.items()))

    def expose(
        self,
        name: str,
        loopback_port: int,
        *,
        port: int | None = None,
        namespace: str | None = None,
    ) -> Exposed:
        """A service listening on 127.0.0.1:`loopback_port` made reachable from every pod: at
        the relay address (198.18.0.2) and `port` (default the same), and, with `namespace`,
        as the Service `name` there (no selector; its EndpointSlice names the relay)."""
        if self.hub is None:
            raise RuntimeError("only a cluster with real nodes has pods that could reach it")
        address, port = self.hub.expose(name, loopback_port, port)
        if namespace is None:
            return Exposed(name, address, port)
        self.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"ports": [{"name": "tcp", "port": port, "targetPort": port}]},
                },
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": f"{name}-relay",
                        "namespace": namespace,
                        "labels": {"kubernetes.io/service-name": name},
                    },
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                    "ports": [{"name": "tcp", "port": port, "protocol": "TCP"}],
                },
            ]
        )
        return Exposed(name, address, port, f"{name}.{namespace}.svc.cluster.local")

    def kubectl_hint(self) -> str:
        lines = [
            f"export KUBECONFIG={self.plane.admin}",
            "kubectl get nodes -o wide",
        ]
        for node in self.nodes:
            lines.append(
                f"nsenter --net={netns_path(node.netns)} crictl"
                f" --runtime-endpoint=unix://{node.socket} ps   # {node.name}'s containers"
            )
        return "\n".join(lines)

    # -- stop

    def stop(self) -> list[str]:
        """Everything stopped and removed, in reverse order; the problems met (also in
        `problems`), what the machine kept (`leftovers`) and the connections seen off the
        cluster's ranges (`outside`). Stopping twice is harmless."""
        if self._stopped:
            return self.problems
        self._stopped = True
        started = time.monotonic()
        if self.nodes:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                for problems in pool.map(lambda n: n.stop(), self.nodes):
                    self.problems += problems
        if self.hub:
            self.hub.stop_relays()
        self.plane.stop()
        if hasattr(self, "root_watch"):
            self.outside = [*self.root_watch.stop(), *self.netns_watch.stop()]
            self.others = [*self.root_watch.others, *self.root_watch.before]
            self.watched_namespaces = sorted(self.netns_watch.seen_namespaces)
        if self.hub:
            self.problems += self.hub.delete()
        if hasattr(self, "before"):
            restored = restore_sysctls(self.before, KUBELET_SYSCTLS)
            if restored:
                self.say("kernel settings the kubelet changed, put back: " + "; ".join(restored))
            self.leftovers = self._leftovers()
        self._mark("teardown_seconds", started)
        return self.problems

    def _leftovers(self) -> list[str]:
        after = HostState.capture()
        found = self.before.differences(after, made_by(self.run_id, self.workdir))
        namespaces = [n.mount_ns for n in self.nodes if n.mount_ns]
        namespaces += sorted(self.netns_watch.seen_namespaces)
        found += [f"process left: {p}" for p in processes_left([str(self.workdir)], namespaces)]
        for node in self.nodes:
            found += [f"cgroup left: {c}" for c in node.remove_cgroups(timeout=0)]
        return found

    def __enter__(self) -> SimulatedCluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            self.stop()
            return
        with contextlib.suppress(Exception):  # the error that stopped the run comes first
            self.stop()
