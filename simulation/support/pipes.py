"""Copying bytes between two sockets, for the relays and proxies of the lab and the simulation."""

from __future__ import annotations

import contextlib
import socket


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copies `source` to `sink` until either side closes; then shuts both down."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
