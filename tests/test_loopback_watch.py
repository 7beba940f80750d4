"""The watch that shows the lab and the simulation talk to nothing but loopback."""

from __future__ import annotations

from simulation.support.loopback import LoopbackWatch, Socket

TABLE = [
    Socket("127.0.0.1", 40001, "127.0.0.1", 9000, "01", "0"),  # loopback
    Socket("::", 9100, "::", 0, "0A", "0"),  # listening
    Socket("::ffff:127.0.0.1", 40002, "::ffff:127.0.0.1", 6000, "01", "0"),
    Socket("10.0.0.5", 40003, "203.0.113.80", 443, "02", "0"),  # leaving: a registry, say
]


def test_the_watch_reports_each_peer_off_the_machine_once() -> None:
    with LoopbackWatch(every=0.01, read=lambda: TABLE) as watch:
        assert watch.found.wait(timeout=5)
    assert watch.outside == ["203.0.113.80:443 by (closed before it was seen)"]
