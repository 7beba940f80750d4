"""This machine's sockets as the kernel lists them (/proc/net). Tests, the lab and the simulation
prove they stay on loopback by reading these tables, never by connecting anywhere.

Read by hand rather than with psutil.net_connections: that maps every socket to its process by
walking every /proc/<pid>/fd on each call, far too slow for a poll every 20 ms on a loaded
machine (short-lived sockets would slip through); here only a finding's holder is looked up."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
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


def sockets(tables: tuple[tuple[str, int], ...] = TCP + UDP) -> Iterator[Socket]:
    for table, family in tables:
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
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


def _holder(inode: str) -> str:
    """The command line of the process holding the socket, if it still does."""
    if inode == "0":  # closing (TIME_WAIT): no process holds it any more
        return "(closed before it was seen)"
    target = f"socket:[{inode}]"
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(str(fd.readlink()) == target for fd in (process / "fd").iterdir()):
                return (process / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:160]
        except OSError:
            continue
    return "(closed before it was seen)"


@dataclass
class LoopbackWatch:
    """Polls the socket tables while it is entered; `outside` lists every socket whose peer
    left the machine ("address:port by command"). Short-lived sockets can slip between two
    polls, so an empty list is evidence, not proof; a single entry is a finding."""

    every: float = 0.02
    read: Callable[[], Iterable[Socket]] = sockets
    outside: list[str] = field(default_factory=list)
    found: threading.Event = field(default_factory=threading.Event)  # set at the first entry
    _seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            for s in self.read():
                key = f"{s.local_port}>{s.remote}:{s.remote_port}"
                if key in self._seen or not leaves_the_machine(s.remote):
                    continue
                self._seen.add(key)
                self.outside.append(f"{s.remote}:{s.remote_port} by {_holder(s.inode)}")
                self.found.set()

    def start(self) -> LoopbackWatch:
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
