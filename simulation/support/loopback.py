"""This machine's sockets as the kernel lists them (/proc/net). Tests, the lab and the simulation
prove they stay on loopback by reading these tables, never by connecting anywhere.

Read by hand rather than with psutil.net_connections: that maps every socket to its process by
walking every /proc/<pid>/fd on each call, far too slow for a poll every 20 ms on a loaded
machine (short-lived sockets would slip through); here only a finding's holder is looked up.

`LoopbackWatch` reads the root network namespace (this process's): every peer must be loopback.
`NamespaceWatch` reads the namespaces a run creates (real nodes, their pods, the hub), through
/proc/<pid>/net of a process inside each: every peer must be loopback or in the ranges the run
owns (198.18.0.0/15), and so must every address in each namespace's connection-tracking table,
which keeps a closed connection for seconds to minutes and so also shows the short-lived ones a
poll of the sockets misses."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

TCP = (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6))
UDP = (("/proc/net/udp", socket.AF_INET), ("/proc/net/udp6", socket.AF_INET6))
LISTEN = "0A"


@dataclass(frozen=True)
class Socket:
    local: str
    local_port: int
    remote: str
    remote_port: int
    state: str
    inode: str


def _address(text: str, family: int) -> tuple[str, int]:
    address, port = text.split(":")
    # The kernel prints each 32-bit word of the address in host (little-endian) order.
    raw = bytes.fromhex(address)
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw), int(port, 16)


def sockets(
    tables: tuple[tuple[str, int], ...] = TCP + UDP, proc: str = "/proc"
) -> Iterator[Socket]:
    """The sockets of this process's network namespace; with `proc` "/proc/<pid>", those of
    that process's."""
    for table, family in tables:
        path = Path(proc) / table.removeprefix("/proc/")
        try:
            text = path.read_text()
        except OSError:  # no such table, or the process is gone
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            local, local_port = _address(fields[1], family)
            remote, remote_port = _address(fields[2], family)
            yield Socket(local, local_port, remote, remote_port, fields[3], fields[9])


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on the port."""
    return {s.local for s in sockets(TCP) if s.local_port == port and s.state == LISTEN}


def leaves_the_machine(address: str) -> bool:
    """True for a peer that is neither loopback nor unset (a listening or unconnected socket)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_unspecified)


CLOSED = "(closed before it was seen)"


def _holder_process(inode: str) -> tuple[int | None, str]:
    """The process holding the socket, if one still does: its pid and command line."""
    if inode == "0":  # closing (TIME_WAIT): no process holds it any more
        return None, CLOSED
    target = f"socket:[{inode}]"
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(str(fd.readlink()) == target for fd in (process / "fd").iterdir()):
                cmdline = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                return int(process.name), cmdline[:160]
        except OSError:
            continue
    return None, CLOSED


def _holder(inode: str) -> str:
    """The command line of the process holding the socket, if it still does."""
    return _holder_process(inode)[1]


def descends_from(ancestor: int) -> Callable[[int], bool]:
    """A test of whether a process is `ancestor` or was started by it, directly or not."""

    def test(pid: int) -> bool:
        for _ in range(64):
            if pid == ancestor:
                return True
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return False
            pid = int(stat.rpartition(")")[2].split()[1])
            if pid <= 1:
                return False
        return False

    return test


@dataclass
class LoopbackWatch:
    """Polls the socket tables while it is entered; `outside` lists every socket whose peer
    left the machine ("address:port by command"). Short-lived sockets can slip between two
    polls, so an empty list is evidence, not proof; a single entry is a finding.

    A socket already in the table when the watch starts goes to `before`: it predates the run.
    CI failed two runs on such sockets that they had no part in: the TIME_WAITs of the test
    command's own `uv pip install` to the registry, which the kernel keeps 60 s after closing.

    With `ours` (e.g. `descends_from(os.getpid())`), a socket held by a process that is not
    ours goes to `others` instead: another program on a shared machine is not the run's
    finding. One no process holds any more stays in `outside`: it could have been ours."""

    every: float = 0.02
    read: Callable[[], Iterable[Socket]] = sockets
    ours: Callable[[int], bool] | None = None
    outside: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    before: list[str] = field(default_factory=list)
    found: threading.Event = field(default_factory=threading.Event)  # set at the first entry
    _seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @staticmethod
    def _key(s: Socket) -> str:
        return f"{s.local_port}>{s.remote}:{s.remote_port}"

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            for s in self.read():
                key = self._key(s)
                if key in self._seen or not leaves_the_machine(s.remote):
                    continue
                self._seen.add(key)
                pid, holder = _holder_process(s.inode)
                entry = f"{s.remote}:{s.remote_port} by {holder}"
                if self.ours is not None and pid is not None and not self.ours(pid):
                    self.others.append(entry)
                    continue
                self.outside.append(entry)
                self.found.set()

    def start(self) -> LoopbackWatch:
        for s in self.read():
            key = self._key(s)
            if leaves_the_machine(s.remote) and key not in self._seen:
                self._seen.add(key)
                self.before.append(f"{s.remote}:{s.remote_port} by {_holder(s.inode)}")
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stops polling (again is harmless) and gives what was found."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        return self.outside

    def __enter__(self) -> LoopbackWatch:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CONNTRACKED = ("tcp", "udp", "icmp", "icmpv6", "sctp")
CONNTRACK_ADDRESS = re.compile(r"\b(?:src|dst)=(\S+)")


def within(address: str, allowed: Sequence[Network]) -> bool:
    """Loopback, unset, or in one of the allowed ranges."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified or any(ip in network for network in allowed)


def conntrack_addresses(proc: str) -> Iterator[tuple[str, str]]:
    """(address, the entry it is in) for every address of the connection-tracking table of
    the network namespace of the process at `proc` (/proc/<pid>)."""
    try:
        text = (Path(proc) / "net" / "nf_conntrack").read_text()
    except OSError:
        return
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[2] not in CONNTRACKED:
            continue  # IGMP and the like: no connection, and nothing routes it out
        # "ipv4 2 tcp 6 117 TIME_WAIT src=… dst=… sport=… dport=… src=… …": the protocol and
        # the original direction name the flow (the timeout and state change as it ages).
        flow = " ".join([fields[2], *[f for f in fields if "=" in f][:4]])
        for address in CONNTRACK_ADDRESS.findall(line):
            yield address, flow


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _netns(pid: str) -> str | None:
    try:
        return str(Path(f"/proc/{pid}/ns/net").readlink())
    except OSError:
        return None


def run_namespaces(markers: Sequence[str], namespaces: Iterable[str] = ()) -> dict[str, str]:
    """netns id ("net:[inode]") -> a process inside it, for every network namespace other than
    this process's that either is one of `namespaces` (paths of namespace files) or holds a
    process whose command line names a marker, or a descendant of one (containerd's shims name
    the node's socket; the pods are their children)."""
    own = _netns("self")
    wanted = set()
    for path in namespaces:
        try:
            wanted.add(f"net:[{Path(path).stat().st_ino}]")
        except OSError:
            continue
    parent: dict[str, str] = {}
    marked: set[str] = set()
    netns: dict[str, str] = {}
    for entry in os.scandir("/proc"):
        pid = entry.name
        if not pid.isdigit():
            continue
        stat = _read(f"/proc/{pid}/stat")
        if not stat:
            continue
        parent[pid] = stat.rpartition(")")[2].split()[1]
        if namespace := _netns(pid):
            netns[pid] = namespace
        cmdline = _read(f"/proc/{pid}/cmdline")
        if any(marker in cmdline for marker in markers):
            marked.add(pid)

    def ours(pid: str) -> bool:
        seen = 0
        while pid in parent and seen < 64:
            if pid in marked:
                return True
            pid, seen = parent[pid], seen + 1
        return False

    found: dict[str, str] = {}
    for pid, namespace in netns.items():
        if namespace == own or namespace in found:
            continue
        if namespace in wanted or ours(pid):
            found[namespace] = pid
    return found


@dataclass
class NamespaceWatch:
    """Polls the sockets and connection-tracking tables of the run's network namespaces while
    it is entered; `outside` lists every peer (or tracked address) neither loopback nor in
    `allowed`, as "address:port by command (netns)". Which namespaces are the run's is found
    again every `discover_every` seconds (see `run_namespaces`)."""

    markers: Sequence[str]
    allowed: Sequence[Network]
    namespaces: Callable[[], Iterable[str]] = tuple
    every: float = 0.05
    discover_every: float = 0.5
    conntrack_every: float = 1.0
    outside: list[str] = field(default_factory=list)
    seen_namespaces: set[str] = field(default_factory=set)
    found: threading.Event = field(default_factory=threading.Event)
    _seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _report(self, key: str, text: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self.outside.append(text)
        self.found.set()

    def _check_sockets(self, namespace: str, pid: str) -> None:
        for s in sockets(proc=f"/proc/{pid}"):
            if not within(s.remote, self.allowed):
                self._report(
                    f"{namespace}:{s.local_port}>{s.remote}:{s.remote_port}",
                    f"{s.remote}:{s.remote_port} by {_holder(s.inode)} ({namespace})",
                )

    def _check_conntrack(self, namespace: str, pid: str) -> None:
        for address, entry in conntrack_addresses(f"/proc/{pid}"):
            if not within(address, self.allowed):
                self._report(f"{namespace}:{entry}", f"{address} tracked: {entry} ({namespace})")

    def _poll(self) -> None:
        watched: dict[str, str] = {}
        discovered = conntracked = 0.0
        while not self._stop.wait(self.every):
            now = time.monotonic()
            try:
                if now - discovered >= self.discover_every:
                    watched = run_namespaces(self.markers, self.namespaces())
                    self.seen_namespaces |= set(watched)
                    discovered = now
                for namespace, pid in watched.items():
                    self._check_sockets(namespace, pid)
                if now - conntracked >= self.conntrack_every:
                    for namespace, pid in watched.items():
                        self._check_conntrack(namespace, pid)
                    conntracked = now
            except Exception as error:  # a look that failed is a finding, not a silent stop
                self._report(f"failed:{error!r}", f"the watch could not look: {error!r}")

    def start(self) -> NamespaceWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stops polling (again is harmless) and gives what was found."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        return self.outside
