"""The real nodes' network, made of namespaces the run creates and removes (the root namespace
gets no address, link, route or firewall rule):

    hub netns   cdn-<run>-hub   bridge hub0: 198.18.0.1/24 and the relay address 198.18.0.2;
                                a route to each node's pods via that node
    node netns  cdn-<run>-n<i>  eth0 198.18.0.(10+i)/24 (a veth whose peer is on hub0), default
                                route via the hub (which routes nowhere else), routes to the
                                other nodes' pods; the node's pods behind its CNI bridge

The control plane stays on 127.0.0.1 in the root namespace. `Hub.expose` puts a loopback
service at an address of the hub (a relay process: listener in the hub, upstream on loopback),
which is how kubelets and pods reach the API server; `Hub.egress_proxy` is the way back, for
the API server's egress selector (logs, exec, port-forward, proxies to pods and Services).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from simulation.simcluster.addresses import (
    CLUSTER_CIDR,
    HUB_ADDRESS,
    HUB_NETWORK,
    RELAY_ADDRESS,
    node_ip,
    pod_cidr,
)
from simulation.support.processes import Process
from simulation.support.waiting import wait_until

NETNS_DIR = Path("/run/netns")
RELAY = Path(__file__).with_name("relay.py")
HUB_BRIDGE = "hub0"
NODE_LINK = "eth0"
PREFIX = HUB_NETWORK.prefixlen
NETWORK_TOOLS = ("ip", "nsenter", "unshare", "sysctl")
HOLD = "import signal\nwhile True:\n    signal.pause()"


def run(argv: list[str], timeout: float = 60) -> str:
    """A command of ours; its output, or RuntimeError with what it printed."""
    result = subprocess.run(  # noqa: S603 - system tools, arguments built here
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def in_netns(name: str, argv: list[str]) -> list[str]:
    """argv run inside the named network namespace, in this mount namespace (`ip netns exec`
    would also give it a mount namespace of its own)."""
    return ["nsenter", f"--net={netns_path(name)}", *argv]


def netns_exists(name: str) -> bool:
    return netns_path(name).exists()


def _sysctl(name: str, settings: dict[str, str]) -> None:
    run(in_netns(name, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items())]))


@dataclass
class Hub:
    """The hub namespace and its bridge, the nodes' links to it and the relays."""

    run_id: str
    workdir: Path
    nodes: list[int] = field(default_factory=list)
    relays: list[Process] = field(default_factory=list)
    created_netns_dir: bool = False

    @property
    def name(self) -> str:
        return f"cdn-{self.run_id}-hub"

    def node_netns(self, index: int) -> str:
        return f"cdn-{self.run_id}-n{index}"

    def create(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.created_netns_dir = not NETNS_DIR.exists()
        run(["ip", "netns", "add", self.name])
        hub = ["ip", "-n", self.name]
        run([*hub, "link", "set", "lo", "up"])
        run([*hub, "link", "add", HUB_BRIDGE, "type", "bridge"])
        run([*hub, "addr", "add", f"{HUB_ADDRESS}/{PREFIX}", "dev", HUB_BRIDGE])
        run([*hub, "addr", "add", f"{RELAY_ADDRESS}/{PREFIX}", "dev", HUB_BRIDGE])
        run([*hub, "link", "set", HUB_BRIDGE, "up"])
        # The relays' listeners live in the hub but their processes do not: a process that
        # stays there lets the run's watch read the hub's sockets (/proc/<pid>/net).
        holder = Process(
            "hub",
            in_netns(self.name, [sys.executable, "-I", "-c", HOLD, str(self.workdir)]),
            {"PATH": os.environ.get("PATH", "")},
            self.workdir / "hub.log",
        )
        holder.start()
        self.relays.append(holder)

    def add_node(self, index: int) -> str:
        """A node's namespace, linked to the hub and routed to every other node's pods; its
        name."""
        name = self.node_netns(index)
        address = node_ip(index)
        run(["ip", "netns", "add", name])
        node = ["ip", "-n", name]
        peer = f"veth-n{index}"
        run(
            [
                *node,
                "link",
                "add",
                NODE_LINK,
                "type",
                "veth",
                "peer",
                "name",
                peer,
                "netns",
                self.name,
            ]
        )
        run(["ip", "-n", self.name, "link", "set", peer, "master", HUB_BRIDGE, "up"])
        run([*node, "link", "set", "lo", "up"])
        run([*node, "addr", "add", f"{address}/{PREFIX}", "dev", NODE_LINK])
        run([*node, "link", "set", NODE_LINK, "up"])
        run([*node, "route", "add", "default", "via", HUB_ADDRESS])
        run(["ip", "-n", self.name, "route", "add", pod_cidr(index), "via", address])
        for other in self.nodes:
            run([*node, "route", "add", pod_cidr(other), "via", node_ip(other)])
            run(
                [
                    "ip",
                    "-n",
                    self.node_netns(other),
                    "route",
                    "add",
                    pod_cidr(index),
                    "via",
                    address,
                ]
            )
        # A router for its pods, whose bridged traffic passes iptables (kube-proxy, kube-router).
        _sysctl(
            name,
            {
                "net.ipv4.ip_forward": "1",
                "net.bridge.bridge-nf-call-iptables": "1",
                "net.bridge.bridge-nf-call-ip6tables": "1",
            },
        )
        self.nodes.append(index)
        return name

    def _relay(self, name: str, argv: list[str]) -> Process:
        ready = self.workdir / f"relay-{name}.ready"
        ready.unlink(missing_ok=True)
        process = Process(
            f"relay-{name}",
            [sys.executable, "-I", str(RELAY), *argv, "--ready", str(ready)],
            {"PATH": os.environ.get("PATH", "")},
            self.workdir / f"relay-{name}.log",
        )
        process.start()
        self.relays.append(process)

        def listening() -> bool:
            if not process.running():
                raise RuntimeError(f"relay {name} exited: see {process.log}")
            return ready.exists()

        wait_until(listening, 60, f"relay {name} to listen", every=0.1)
        return process

    def expose(self, name: str, loopback_port: int, port: int | None = None) -> tuple[str, int]:
        """A service listening on 127.0.0.1:`loopback_port` (root namespace), reachable from
        every node and pod at the returned address and port (`port`, default the same)."""
        port = port or loopback_port
        self._relay(
            name,
            [
                "tcp",
                f"--listen={RELAY_ADDRESS}:{port}",
                f"--listen-netns={netns_path(self.name)}",
                f"--to=127.0.0.1:{loopback_port}",
            ],
        )
        return RELAY_ADDRESS, port

    def egress_proxy(self, socket: Path, through: str) -> None:
        """The API server's way to kubelets, pods and Services: a CONNECT proxy on `socket`
        that opens connections inside the node namespace `through` (where kube-proxy makes
        Service addresses work), to 198.18.0.0/15 only."""
        self._relay(
            "egress",
            [
                "connect",
                f"--listen-unix={socket}",
                f"--to-netns={netns_path(through)}",
                f"--allow={CLUSTER_CIDR}",
            ],
        )

    def stop_relays(self) -> None:
        """The relays and the hub's holder."""
        for relay in self.relays:
            relay.stop(timeout=10)

    def namespace_ids(self) -> dict[str, str]:
        """Each namespace of the run by name: its id as /proc/<pid>/ns/net names it."""
        names = [self.name, *(self.node_netns(i) for i in self.nodes)]
        return {n: f"net:[{netns_path(n).stat().st_ino}]" for n in names if netns_exists(n)}

    def delete(self) -> list[str]:
        """Every namespace of the run deleted (their links, routes and rules go with them); the
        namespace directory too when this run made it and nothing else is left in it. What
        could not be deleted."""
        problems = []
        for name in [*(self.node_netns(i) for i in self.nodes), self.name]:
            if netns_exists(name):
                try:
                    run(["ip", "netns", "delete", name])
                except RuntimeError as error:
                    problems.append(str(error))
        if self.created_netns_dir and NETNS_DIR.exists() and not any(NETNS_DIR.iterdir()):
            # `ip netns add` bind-mounted the directory on itself to share it.
            for _ in range(5):
                if not _is_mount_point(NETNS_DIR):
                    break
                subprocess.run(["umount", str(NETNS_DIR)], check=False, capture_output=True)  # noqa: S603, S607
                time.sleep(0.1)
            try:
                NETNS_DIR.rmdir()
            except OSError as error:
                problems.append(f"{NETNS_DIR}: {error}")
        return problems


def _is_mount_point(path: Path) -> bool:
    target = str(path)
    with Path("/proc/self/mountinfo").open() as mounts:
        return any(line.split()[4] == target for line in mounts)


def missing_network_tools() -> list[str]:
    return [tool for tool in NETWORK_TOOLS if not shutil.which(tool)]
