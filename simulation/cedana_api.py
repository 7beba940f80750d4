"""A stand-in for Cedana's credentials API on 127.0.0.1, with programmable answers.

`mode` chooses the answer to each request: "ok" (fresh credentials of the current
`generation`), "500", "401", "malformed", "incomplete" or "hang" (no answer until released).
Every request is recorded with its arrival time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Recorded:
    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def key_id(generation: int) -> str:
    return f"ASIAFAKE{generation:012d}"


def secret_key(generation: int) -> str:
    return f"fake/secret/{generation:04d}/wJalrXUtnFEMIK7MDENGbPxRfiCY"


def session_token(generation: int) -> str:
    return f"FwoGZXIvYXdzEFAKESESSIONTOKEN{generation:04d}xyzzy"


class FakeCedana:
    def __init__(
        self, bucket: str = "cedana-metrics", prefix: str = "org-1/v2/vector/data"
    ) -> None:
        self.mode = "ok"
        self.generation = 1
        self.lifetime = timedelta(hours=1)
        self.bucket, self.prefix = bucket, prefix
        self.requests: list[Recorded] = []
        self.issued: set[str] = set()
        self.changed = threading.Condition()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeCedana:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for_requests(self, count: int, timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.requests) >= count, timeout)

    def credentials(self) -> dict[str, str]:
        expiration = datetime.now(UTC) + self.lifetime
        generation = self.generation
        body = {
            "access_key_id": key_id(generation),
            "secret_access_key": secret_key(generation),
            "session_token": session_token(generation),
            "expiration": expiration.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": "us-east-1",
        }
        self.issued |= {body["access_key_id"], body["secret_access_key"], body["session_token"]}
        return body

    def answer(self) -> tuple[int, bytes] | None:
        if self.mode == "ok":
            return 200, json.dumps(self.credentials()).encode()
        if self.mode == "500":
            return 500, b"internal error"
        if self.mode == "401":
            return 401, b'{"error": "unauthorized"}'
        if self.mode == "malformed":
            return 200, b'{"access_key_id": "ASIA'
        if self.mode == "incomplete":
            body = self.credentials()
            del body["session_token"]
            return 200, json.dumps(body).encode()
        if self.mode == "hang":
            return None
        raise AssertionError(self.mode)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake.changed:
                    fake.requests.append(
                        Recorded(time.monotonic(), "POST", self.path, dict(self.headers), body)
                    )
                    reply = fake.answer()
                    fake.changed.notify_all()
                if reply is None:
                    fake.release.wait(30)
                    return
                status, payload = reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
