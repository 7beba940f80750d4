"""A small S3 front on loopback, before moto's server: it checks that requests are signed with
credentials the fake Cedana issued and that have not expired (moto checks nothing), records
every write, and can play an outage (connection refused) or a 403 for a while."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    b"<Message>{message}</Message></Error>"
)


@dataclass(frozen=True)
class Write:
    at: float
    key: str
    size: int
    access_key: str


@dataclass
class S3Front:
    upstream_port: int
    # access key -> None when valid now, else the S3 error code to answer (e.g. ExpiredToken)
    authorize: Callable[[str], str | None]
    port: int = 0
    mode: str = "pass"  # pass, forbidden
    writes: list[Write] = field(default_factory=list)
    refused: list[tuple[float, str, str]] = field(default_factory=list)  # (at, key id, code)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                match = CREDENTIAL.search(self.headers.get("Authorization", ""))
                key_id = match.group(1) if match else ""
                code = "AccessDenied" if front.mode == "forbidden" else front.authorize(key_id)
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
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.port

    def stop(self) -> None:
        """S3 is unreachable: the port refuses connections until `start` again."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
