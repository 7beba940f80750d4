"""An HTTPS (CONNECT) proxy on loopback, as corporate clusters put in front of the Internet.

It knows names nothing else resolves (`hosts`: name -> loopback port's host), so a client that
reaches such a name must have gone through it; it records every tunnel, so a test can tell
what went through the proxy and what did not. It only ever connects to loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulation.support.pipes import pipe


@dataclass
class ConnectProxy:
    hosts: Mapping[str, str] = field(default_factory=dict)  # name -> loopback address
    tunnels: list[tuple[str, int]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ConnectProxy:
        self._start(self._accept)
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._start(self._tunnel, client)

    def _target(self, authority: str) -> tuple[str, int] | None:
        host, _, port = authority.rpartition(":")
        address = self.hosts.get(host.strip("[]"), host.strip("[]"))
        try:
            loopback = ipaddress.ip_address(address).is_loopback
        except ValueError:
            loopback = False
        return (address, int(port)) if loopback and port.isdigit() else None

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, authority, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            target = self._target(authority) if method == "CONNECT" else None
            if target is None:
                self.refused.append(f"{method} {authority}")
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection(target, timeout=10)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append((authority.rpartition(":")[0], target[1]))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            client.settimeout(None)
            with upstream:
                self._start(pipe, upstream, client)
                pipe(client, upstream)
