"""A small S3 front on loopback, before moto's server: it checks that requests are signed with
credentials the fake Cedana issued and that have not expired (moto checks nothing), records
every write, and can play an outage (connection refused) or a 403 for a while."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simulation.support.ports import bound_port

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    b"<Message>{message}</Message></Error>"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a connection cut by an outage: expected
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class Write:
    at: float
    key: str
    size: int
    access_key: str


@dataclass
class S3Front:
    upstream_port: int
    # (access key, request path) -> None when allowed now, else the S3 error code to answer
    # (ExpiredToken; AccessDenied for a key outside what the credentials were issued for)
    authorize: Callable[[str, str], str | None]
    port: int = 0
    mode: str = "pass"  # pass, forbidden
    writes: list[Write] = field(default_factory=list)
    refused: list[tuple[float, str, str]] = field(default_factory=list)  # (at, key id, code)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Client connections held open (HTTP keep-alive) and requests being forwarded to moto:
    # an outage must cut the first, after letting the second finish.
    _connections: set[socket.socket] = field(default_factory=set)
    _forwarding: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with front._lock:
                    front._connections.add(self.connection)

            def finish(self) -> None:
                with front._lock:
                    front._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with front._idle:
                    if front._server is None:  # down: a kept-alive connection gets no answer
                        self.close_connection = True
                        return
                    front._forwarding += 1
                try:
                    self._forward(body)
                finally:
                    with front._idle:
                        front._forwarding -= 1
                        front._idle.notify_all()

            def _forward(self, body: bytes) -> None:
                match = CREDENTIAL.search(self.headers.get("Authorization", ""))
                key_id = match.group(1) if match else ""
                code = (
                    "AccessDenied"
                    if front.mode == "forbidden"
                    else front.authorize(key_id, self.path)
                )
                if code:
                    with front._lock:
                        front.refused.append((time.time(), key_id, code))
                    status = 400 if code == "ExpiredToken" else 403
                    self._answer(
                        status,
                        DENIED.replace(b"{code}", code.encode()).replace(
                            b"{message}", b"refused by the lab"
                        ),
                    )
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", front.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if self.command == "PUT" and response.status == 200:
                    with front._lock:
                        front.writes.append(Write(time.time(), self.path, len(body), key_id))
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _proxy  # noqa: N815

            def log_message(self, *_: object) -> None:
                pass

        return Handler

    def start(self) -> int:
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = bound_port(self._server.socket)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.port

    def stop(self) -> None:
        """S3 is unreachable until `start` again: the port refuses connections, and connections
        kept alive from before are cut once the requests already forwarded have their answer
        (a request cut half-way could be stored and sent again: not the outage measured here)."""
        server = self._server
        if not server:
            return
        with self._idle:
            self._server = None
            self._idle.wait_for(lambda: self._forwarding == 0, timeout=30)
        server.shutdown()
        server.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
