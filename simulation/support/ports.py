"""Loopback ports for listeners that are not ours.

A listener this code opens itself binds port 0 and reads the port back (`bound_port`): no race.
A port handed to another process (Vector, Prometheus, the refresher, a control-plane binary)
has to be chosen before that process starts, so `free_port` asks the kernel for one and lets
it go; another process could take it in between, which on loopback is rare enough.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def bound_port(sock: socket.socket) -> int:
    """The port a socket bound to port 0 was given."""
    return int(sock.getsockname()[1])


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return bound_port(probe)
