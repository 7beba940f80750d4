"""How the run's namespaces reach loopback and back (the relays, as processes on loopback), the
watches that show no connection leaves loopback or 198.18.0.0/15, and the comparison of the
machine before and after a run. The real thing runs in tests/cluster/test_real_nodes.py."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.simcluster import addresses
from simulation.simcluster.host_state import HostState, made_by, read_sysctls
from simulation.support.loopback import (
    LoopbackWatch,
    Socket,
    conntrack_addresses,
    descends_from,
    within,
)
from simulation.support.ports import free_port
from simulation.support.waiting import wait_until
from tests.test_loopback_watch import appearing

RELAY = Path(__file__).parents[1] / "simulation" / "simcluster" / "relay.py"
RANGE = [addresses.CLUSTER_RANGE]


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP echo server on loopback; its port."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                while data := connection.recv(4096):
                    connection.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@contextlib.contextmanager
def relay(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    ready = tmp_path / "ready"
    process = subprocess.Popen([sys.executable, "-I", str(RELAY), *args, f"--ready={ready}"])
    try:
        wait_until(lambda: ready.exists() or process.poll() is not None, 20, "the relay")
        assert process.poll() is None
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_relay_carries_bytes_both_ways(tmp_path: Path, echo: int) -> None:
    port = free_port()
    with (
        relay(tmp_path, "tcp", f"--listen=127.0.0.1:{port}", f"--to=127.0.0.1:{echo}"),
        socket.create_connection(("127.0.0.1", port), timeout=5) as client,
    ):
        client.sendall(b"hello relay")
        assert client.recv(100) == b"hello relay"


def _connect(path: Path, target: str) -> tuple[bytes, socket.socket]:
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(5)
    client.connect(str(path))
    client.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += client.recv(1)
    return answer, client


def test_the_egress_proxy_connects_to_allowed_addresses_only(tmp_path: Path, echo: int) -> None:
    path = tmp_path / "egress.sock"
    with relay(tmp_path, "connect", f"--listen-unix={path}", "--allow=127.0.0.0/8"):
        answer, client = _connect(path, f"127.0.0.1:{echo}")
        with client:
            assert answer.startswith(b"HTTP/1.1 200")
            client.sendall(b"through")
            assert client.recv(100) == b"through"
        for refused in ("198.51.100.7:443", f"localhost:{echo}"):  # outside; a name
            answer, client = _connect(path, refused)
            client.close()
            assert answer.startswith(b"HTTP/1.1 403"), refused


def test_an_address_counts_as_the_clusters_when_loopback_or_in_its_range() -> None:
    for inside in ("127.0.0.1", "::1", "0.0.0.0", "198.18.10.4", "198.19.0.1", "::ffff:198.18.0.2"):
        assert within(inside, RANGE), inside
    for outside in ("10.255.255.53", "198.20.0.1", "203.0.113.80", "fe80::1"):
        assert not within(outside, RANGE), outside


def test_the_connection_table_shows_every_address_of_a_flow(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "nf_conntrack").write_text(
        "ipv4     2 tcp      6 117 TIME_WAIT src=198.18.10.5 dst=198.19.0.1 sport=4000 "
        "dport=443 src=198.18.0.2 dst=198.18.10.5 sport=43989 dport=4000 [ASSURED] mark=0 use=1\n"
        "ipv4     2 udp      17 29 src=198.18.10.5 dst=10.255.255.53 sport=5000 dport=53 "
        "[UNREPLIED] src=10.255.255.53 dst=198.18.10.5 sport=53 dport=5000 mark=0 use=1\n"
        "ipv4     2 unknown  2 599 src=198.18.10.1 dst=224.0.0.22 src=224.0.0.22 dst=198.18.10.1 "
        "mark=0 use=1\n"
    )
    found = list(conntrack_addresses(str(tmp_path)))
    outside = {address for address, _ in found if not within(address, RANGE)}
    assert outside == {"10.255.255.53"}  # IGMP's multicast is no connection
    flows = {flow for address, flow in found if address == "10.255.255.53"}
    assert flows == {"udp src=198.18.10.5 dst=10.255.255.53 sport=5000 dport=53"}


def test_another_programs_connection_is_not_the_runs_finding() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        inode = str(os.fstat(held.fileno()).st_ino)
        table = [Socket("10.0.0.5", 40003, "203.0.113.80", 443, "01", inode)]
        with LoopbackWatch(every=0.01, read=appearing(table), ours=lambda pid: False) as watch:
            wait_until(lambda: watch.others, 5, "the watch to see the socket")
        assert watch.outside == []
        assert watch.others[0].startswith("203.0.113.80:443 by ")
        with LoopbackWatch(
            every=0.01, read=appearing(table), ours=descends_from(os.getpid())
        ) as mine:
            assert mine.found.wait(timeout=5)
        assert mine.others == []
        # Ours, held: a finding, naming this process as the holder.
        assert len(mine.outside) == 1
        assert mine.outside[0].startswith("203.0.113.80:443 by ")
        this_process = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert mine.outside[0].endswith(f" by {this_process[:160]}")


def test_the_machines_state_tells_what_a_run_changed(tmp_path: Path) -> None:
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "panic").write_text("1\n")
    (tmp_path / "kernel" / "random").mkdir()
    (tmp_path / "kernel" / "random" / "uuid").write_text("changes every read\n")
    assert read_sysctls(tmp_path) == {"kernel.panic": "1"}
    before = HostState(
        {"kernel.panic": "1"}, "", frozenset(), frozenset({"/"}), frozenset(), frozenset()
    )
    after = HostState(
        {"kernel.panic": "10"},
        "",
        frozenset({"/var/lib/kubelet"}),
        frozenset({"/", "/run/netns"}),
        frozenset(),
        frozenset({"cdn-abc-hub"}),
    )
    assert before.differences(after) == [
        "sysctl kernel.panic: '1' -> '10'",
        "path left: /var/lib/kubelet",
        "mount left: /run/netns",
        "netns left: cdn-abc-hub",
    ]
    assert before.differences(before) == []


def test_another_runs_namespaces_and_mounts_are_not_this_runs_leftovers(tmp_path: Path) -> None:
    ours = made_by("abc123", tmp_path)
    assert ours("netns", "cdn-abc123-n0")
    assert not ours("netns", "cedana-listen-12570-sysctl")
    assert ours("mount", f"{tmp_path}/n0/run")
    assert ours("mount", "/var/lib/kubelet")
    assert not ours("mount", "/run/netns/cedana-listen-12570-sysctl")
    assert not ours("mount", "/mnt/somebody-elses")
    assert ours("sysctl", "kernel.panic") and ours("link", "veth0")
