"""A stand-in for Cedana's credentials API on 127.0.0.1, with programmable answers.

`mode` chooses the answer to each request:

- "ok": fresh credentials of the current `generation`, expiring after `lifetime`, with the
  expiration written in the `offset` time zone (UTC as "Z" by default);
- failures: "500", "401", "malformed", "incomplete", "hang" (no answer until released);
- hostile answers: "garbage" (not HTTP), "broken-chunked" (a chunked body that breaks off),
  "nested-json" (30 000 nested arrays), "huge" (credentials padded past 64 KiB), "far-future"
  and "far-past" (expirations that overflow once converted to UTC), "year-9999", "non-string"
  (a number as the bucket), "newline-token" (a session token that would add lines to an INI
  file), "echo-error" (a 500 whose body echoes the Authorization header and a forged log line),
  "redirect" (a 302 to `redirect_to`), "trickle" (a body at a few bytes a second).

Every request, of any method, is recorded with its arrival time.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from simulation.support.ports import bound_port


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
        self.offset: timedelta | None = None  # None: expiration in UTC, written with "Z"
        self.last_expiration: datetime | None = None
        self.redirect_to = "http://127.0.0.1:9/"
        self.bucket, self.prefix = bucket, prefix
        self.requests: list[Recorded] = []
        self.issued: set[str] = set()
        self.changed = threading.Condition()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # A short poll keeps shutdown (every test's teardown) quick.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{bound_port(self.server.socket)}"

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
        self.last_expiration = expiration
        if self.offset is None:
            written = expiration.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        else:
            local = expiration.astimezone(timezone(self.offset))
            written = local.isoformat(timespec="milliseconds")
        generation = self.generation
        body = {
            "access_key_id": key_id(generation),
            "secret_access_key": secret_key(generation),
            "session_token": session_token(generation),
            "expiration": written,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": "us-east-1",
        }
        self.issued |= {body["access_key_id"], body["secret_access_key"], body["session_token"]}
        return body

    def answer(self, headers: dict[str, str]) -> tuple[int, bytes] | str | None:
        """(status, body), the name of a raw answer the handler writes itself, or None (hang)."""
        fixed = {
            "500": (500, b"internal error"),
            "401": (401, b'{"error": "unauthorized"}'),
            "malformed": (200, b'{"access_key_id": "ASIA'),
            "nested-json": (200, b"[" * 30_000 + b"]" * 30_000),
        }
        if self.mode in fixed:
            return fixed[self.mode]
        if self.mode in ("garbage", "broken-chunked", "redirect", "trickle"):
            return self.mode
        if self.mode == "hang":
            return None
        if self.mode == "echo-error":
            echoed = f"denied {headers.get('Authorization')}"
            forged = "\n2026-01-01 INFO Credentials written successfully (forged)\n"
            return 500, (echoed + forged).encode()
        return 200, self.credentials_answer()

    def credentials_answer(self) -> bytes:
        """The body of a 200: credentials, as they are or spoilt as the mode says."""
        body: dict[str, object] = {**self.credentials()}
        expirations = {
            "far-future": "9999-12-31T23:59:59-05:00",
            "far-past": "0001-01-01T00:00:00+05:00",
            "year-9999": "9999-12-31T23:59:59Z",
        }
        if self.mode in expirations:
            body["expiration"] = expirations[self.mode]
        elif self.mode == "incomplete":
            del body["session_token"]
        elif self.mode == "non-string":
            body["bucket"] = 42
        elif self.mode == "newline-token":
            injected = "\n[default]\naws_access_key_id = ASIAINJECTED"
            body["session_token"] = f"{body['session_token']}{injected}"
        elif self.mode == "huge":
            return json.dumps(body).encode() + b" " * 70_000
        elif self.mode != "ok":
            raise AssertionError(self.mode)
        return json.dumps(body).encode()

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
                        Recorded(
                            time.monotonic(), self.command, self.path, dict(self.headers), body
                        )
                    )
                    reply = fake.answer(dict(self.headers))
                    fake.changed.notify_all()
                if reply is None:
                    fake.release.wait(30)
                    return
                if isinstance(reply, str):
                    with contextlib.suppress(OSError):
                        self.raw(reply)
                    return
                status, payload = reply
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                # A client that follows a redirect may come back with another method.
                self.do_POST()

            def raw(self, kind: str) -> None:
                if kind == "garbage":
                    self.wfile.write(b"\x00\x01\x02 this is not HTTP\r\n\r\n")
                elif kind == "broken-chunked":
                    self.wfile.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                        b'10\r\n{"access_key_id"\r\nzz\r\n'
                    )
                elif kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fake.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "trickle":
                    # Every read gets a byte well within any socket timeout; the whole answer
                    # would take hours.
                    self.wfile.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100000\r\n\r\n{"
                    )
                    self.wfile.flush()
                    deadline = time.monotonic() + 30
                    while not fake.release.wait(0.25) and time.monotonic() < deadline:
                        self.wfile.write(b" ")
                        self.wfile.flush()

        return Handler
