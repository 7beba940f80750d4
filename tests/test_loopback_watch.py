"""The watch that shows the lab and the simulation talk to nothing but loopback."""

from __future__ import annotations

from collections.abc import Callable

from simulation.support.loopback import LoopbackWatch, Socket

TABLE = [
    Socket("127.0.0.1", 40001, "127.0.0.1", 9000, "01", "0"),  # loopback
    Socket("::", 9100, "::", 0, "0A", "0"),  # listening
    Socket("::ffff:127.0.0.1", 40002, "::ffff:127.0.0.1", 6000, "01", "0"),
    Socket("10.0.0.5", 40003, "203.0.113.80", 443, "02", "0"),  # leaving: a registry, say
]


def appearing(
    table: list[Socket], before: list[Socket] | None = None
) -> Callable[[], list[Socket]]:
    """A socket table that holds `before` when the watch starts and `table` from then on."""
    reads = iter([before or []])
    return lambda: next(reads, table)


def test_the_watch_reports_each_peer_off_the_machine_once() -> None:
    with LoopbackWatch(every=0.01, read=appearing(TABLE)) as watch:
        assert watch.found.wait(timeout=5)
    assert watch.outside == ["203.0.113.80:443 by (closed before it was seen)"]
    assert watch.before == []


def test_a_socket_there_before_the_run_began_is_not_its_finding() -> None:
    # CI: the test command's `uv pip install` left TIME_WAIT sockets (no holder, inode 0) to
    # the registry for 60 s; an earlier test may leave one to a pod's address.
    earlier = [
        Socket("10.0.0.5", 40003, "203.0.113.80", 443, "06", "0"),
        Socket("198.18.0.1", 40004, "198.18.128.4", 8081, "06", "0"),
    ]
    later = Socket("10.0.0.5", 40005, "203.0.113.80", 443, "02", "0")
    with LoopbackWatch(every=0.01, read=appearing([*earlier, later], earlier)) as watch:
        assert watch.found.wait(timeout=5)
    assert watch.before == [
        "203.0.113.80:443 by (closed before it was seen)",
        "198.18.128.4:8081 by (closed before it was seen)",
    ]
    # The same peer from a new socket, once the run is on, is a finding, holder or not.
    assert watch.outside == ["203.0.113.80:443 by (closed before it was seen)"]
