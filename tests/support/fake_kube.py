"""A stand-in for the Kubernetes API server on 127.0.0.1: answers the GETs verify makes.

Routes map a path to an answer (status, body, content type) or to a function of the query
string, so the service-proxy paths can answer like Prometheus' HTTP API. Unknown paths get the
API server's 404 Status. Every request is recorded; `hold` makes answers wait on an Event (a
cluster that does not answer), released at exit, so nothing here sleeps on the clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

Answer = tuple[int, Any, str]  # status, body (dict/list as JSON, str, bytes), content type
Route = Answer | Callable[[dict[str, list[str]]], Answer]


def status_body(code: int, message: str) -> dict[str, Any]:
    """The API server's Status object for an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


class FakeKube:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.hold = threading.Event()
        self.hold.set()  # set: answer at once
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeKube:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.released.set()
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Path, context: str = "fake") -> Path:
        """A kubeconfig whose context `context` points at this server (plain http, no auth)."""
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake"}}],
                    "current-context": context,
                }
            )
        )
        return path

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                fake.requests.append((parts.path, query))
                # A held cluster answers only once released (bounded by the test's exit).
                while not fake.hold.wait(0.05):
                    if fake.released.is_set():
                        return
                route = fake.routes.get(parts.path)
                if route is None:
                    answer: Answer = (
                        404,
                        status_body(404, f'the server could not find "{parts.path}"'),
                        "application/json",
                    )
                elif callable(route):
                    answer = route(query)
                else:
                    answer = route
                code, body, content_type = answer
                if isinstance(body, (dict, list)):
                    payload = json.dumps(body).encode()
                elif isinstance(body, str):
                    payload = body.encode()
                else:
                    payload = bytes(body)
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
