#!/usr/bin/env python3
"""Cedana credentials refresher: a sidecar that keeps Vector supplied with fresh AWS credentials.

It trades the Cedana auth token for short-lived STS credentials
(`POST {CEDANA_URL}/v2/monitoring/credentials`) and

- serves them on loopback as the AWS container-credentials document (`GET /credentials`), which
  the AWS SDK in Vector refetches before they expire (`AWS_CONTAINER_CREDENTIALS_FULL_URI`);
- keeps `CREDENTIALS_FILE` current (an AWS shared-credentials file, written atomically), with
  the expiry recorded so that a restart serves unexpired credentials at once.

Standard library only; configured by environment (see cred_refresher/README.md).
"""

from __future__ import annotations

import configparser
import contextlib
import hmac
import ipaddress
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CREDENTIALS_PATH = "/credentials"
EARLY_REFRESH = timedelta(minutes=15)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_REQUIRED_FIELDS = ("access_key_id", "secret_access_key", "session_token", "expiration")
_FILE_META = re.compile(r"^# (expiration|bucket|prefix|region): (.*)$")


# --- Pure helpers ---------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration (45m, 1h30m, 1.5s, 500ms); ValueError otherwise."""
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if not match:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text:
        raise ValueError("empty duration")
    return total


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (Z or offset, optional fractional seconds), as an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_refresh_delay(now: datetime, expiration: datetime, interval: float) -> float:
    """Seconds until the next refresh: the interval, or earlier so it happens before expiry.

    The margin before expiry is 15 minutes, at most half of the remaining lifetime, so even
    short-lived credentials are replaced while they still work.
    """
    remaining = (expiration - now).total_seconds()
    margin = min(EARLY_REFRESH.total_seconds(), remaining / 2)
    return max(0.0, min(interval, remaining - margin))


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [0.5, 1] of min(max, initial * 2^n)."""
    return min(maximum, initial * 2 ** min(attempt, 32)) * rng.uniform(0.5, 1.0)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


# --- Configuration --------------------------------------------------------------------------


class StartupError(Exception):
    """A configuration problem: the process exits non-zero with this message."""


@dataclass(frozen=True)
class Config:
    cedana_url: str
    auth_token: str = field(repr=False)
    cluster_id: str
    refresh_interval_text: str
    refresh_interval: float
    credentials_file: Path
    endpoint: tuple[str, int]
    token_file: Path | None
    health_port: int
    s3_bucket: str | None
    request_timeout: float
    retry_initial: float
    retry_max: float


def load_config(env: dict[str, str]) -> Config:
    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise StartupError(f"Required environment variable {name} not set")
        return value

    def duration(name: str, default: str) -> tuple[str, float]:
        text = env.get(name, "").strip() or default
        try:
            seconds = parse_duration(text)
        except ValueError:
            raise StartupError(
                f"Invalid {name}: {text!r} is not a duration such as 45m, 30s or 1h30m"
            ) from None
        if seconds <= 0:
            raise StartupError(f"Invalid {name}: must be greater than zero")
        return text, seconds

    cedana_url = required("CEDANA_URL").rstrip("/")
    auth_token = required("CEDANA_AUTH_TOKEN")
    cluster_id = required("CLUSTER_ID")
    interval_text, interval = duration("REFRESH_INTERVAL", "45m")
    endpoint_text = env.get("CREDENTIALS_ENDPOINT", "").strip() or "127.0.0.1:9099"
    try:
        endpoint = split_host_port(endpoint_text)
    except ValueError:
        raise StartupError(
            f"Invalid CREDENTIALS_ENDPOINT: {endpoint_text!r} is not host:port"
        ) from None
    if not is_loopback(endpoint[0]):
        raise StartupError(
            f"Invalid CREDENTIALS_ENDPOINT: {endpoint[0]!r} is not a loopback address;"
            " the credentials endpoint must only be reachable inside the pod"
        )
    health_text = env.get("HEALTH_PORT", "").strip() or "8081"
    if not health_text.isdigit() or not 0 < int(health_text) < 65536:
        raise StartupError(f"Invalid HEALTH_PORT: {health_text!r} is not a port number")
    token_file = env.get("CREDENTIALS_AUTH_TOKEN_FILE", "").strip()
    return Config(
        cedana_url=cedana_url,
        auth_token=auth_token,
        cluster_id=cluster_id,
        refresh_interval_text=interval_text,
        refresh_interval=interval,
        credentials_file=Path(
            env.get("CREDENTIALS_FILE", "").strip() or "/credentials/aws-credentials"
        ),
        endpoint=endpoint,
        token_file=Path(token_file) if token_file else None,
        health_port=int(health_text),
        s3_bucket=env.get("S3_BUCKET", "").strip() or None,
        request_timeout=duration("REQUEST_TIMEOUT", "10s")[1],
        retry_initial=duration("RETRY_INITIAL_DELAY", "2s")[1],
        retry_max=duration("RETRY_MAX_DELAY", "5m")[1],
    )


# --- Credentials ----------------------------------------------------------------------------


class FetchError(Exception):
    """A failed refresh; the message is safe to log."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    bucket: str = ""
    prefix: str = ""
    region: str = ""

    def document(self) -> dict[str, str]:
        """The AWS container-credentials document."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token,
            "Expiration": format_time(self.expiration),
        }


def parse_response(body: bytes, now: datetime) -> Credentials:
    try:
        data = json.loads(body)
    except ValueError:
        raise FetchError("response is not valid JSON") from None
    if not isinstance(data, dict):
        raise FetchError("response is not a JSON object")
    for name in _REQUIRED_FIELDS:
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise FetchError(f"response is missing {name}")
    try:
        expiration = parse_time(data["expiration"])
    except ValueError:
        raise FetchError("response has an unparseable expiration") from None
    if expiration <= now:
        raise FetchError(f"response credentials already expired at {format_time(expiration)}")
    return Credentials(
        access_key_id=data["access_key_id"],
        secret_access_key=data["secret_access_key"],
        session_token=data["session_token"],
        expiration=expiration,
        bucket=str(data.get("bucket") or ""),
        prefix=str(data.get("prefix") or ""),
        region=str(data.get("region") or ""),
    )


def fetch_credentials(config: Config, now: datetime) -> Credentials:
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's Cedana API
        f"{config.cedana_url}/v2/monitoring/credentials",
        data=json.dumps({"cluster_id": config.cluster_id}).encode(),
        headers={
            "Authorization": f"Bearer {config.auth_token}",
            "Content-Type": "application/json",
            "User-Agent": "cedana-cred-refresher",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=config.request_timeout) as response:  # noqa: S310
            body = response.read(1 << 20)
    except urllib.error.HTTPError as error:
        excerpt = error.read(200).decode("utf-8", "replace").strip()
        excerpt = excerpt.replace(config.auth_token, "[REDACTED]")
        raise FetchError(f"status {error.code}: {excerpt}") from None
    except TimeoutError:
        raise FetchError(f"request timed out after {config.request_timeout:g}s") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"request failed: {type(reason).__name__}: {reason}") from None
    return parse_response(body, now)


def write_credentials_file(path: Path, credentials: Credentials) -> None:
    """Atomically: a 0600 temp file in the same directory, fsync, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = (
        "# Written by cred-refresher; the comments let a restart reuse unexpired credentials.\n"
        f"# expiration: {format_time(credentials.expiration)}\n"
        f"# bucket: {credentials.bucket}\n"
        f"# prefix: {credentials.prefix}\n"
        f"# region: {credentials.region}\n"
        "[default]\n"
        f"aws_access_key_id = {credentials.access_key_id}\n"
        f"aws_secret_access_key = {credentials.secret_access_key}\n"
        f"aws_session_token = {credentials.session_token}\n"
    )
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise


def read_credentials_file(path: Path, now: datetime) -> Credentials | None:
    """Unexpired credentials from a file this program wrote, else None."""
    try:
        text = path.read_text()
    except OSError:
        return None
    meta = {}
    for line in text.splitlines():
        match = _FILE_META.match(line)
        if match:
            meta[match.group(1)] = match.group(2).strip()
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
        profile = parser["default"]
        expiration = parse_time(meta["expiration"])
        credentials = Credentials(
            access_key_id=profile["aws_access_key_id"],
            secret_access_key=profile["aws_secret_access_key"],
            session_token=profile["aws_session_token"],
            expiration=expiration,
            bucket=meta.get("bucket", ""),
            prefix=meta.get("prefix", ""),
            region=meta.get("region", ""),
        )
    except (configparser.Error, KeyError, ValueError):
        return None
    return credentials if credentials.expiration > now else None


# --- Running ----------------------------------------------------------------------------------


def log(message: str, *, error: bool = False) -> None:
    stream = sys.stderr if error else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def now_utc() -> datetime:
    return datetime.now(UTC)


class State:
    """The last good credentials, shared by the refresher and the servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None

    def set(self, credentials: Credentials) -> None:
        with self._lock:
            self._credentials = credentials

    def current(self) -> Credentials | None:
        """The held credentials while unexpired; expired ones are never handed out."""
        with self._lock:
            credentials = self._credentials
        if credentials is None or credentials.expiration <= now_utc():
            return None
        return credentials

    def held(self) -> Credentials | None:
        with self._lock:
            return self._credentials


class Refresher(threading.Thread):
    def __init__(self, config: Config, state: State, stop: threading.Event, first_delay: float):
        super().__init__(name="refresher", daemon=True)
        self.config, self.state, self.stop = config, state, stop
        self.first_delay = first_delay
        self.rng = random.Random()  # noqa: S311 - jitter, not cryptography

    def run(self) -> None:
        delay, attempt = self.first_delay, 0
        while not self.stop.wait(delay):
            try:
                credentials = fetch_credentials(self.config, now_utc())
                write_credentials_file(self.config.credentials_file, credentials)
            except (FetchError, OSError) as error:
                delay = backoff_delay(
                    attempt, self.config.retry_initial, self.config.retry_max, self.rng
                )
                attempt += 1
                log(
                    f"[{format_time(now_utc())}] Credential refresh failed: {error}"
                    f" (retrying in {delay:.1f}s)",
                    error=True,
                )
                continue
            self.state.set(credentials)
            attempt = 0
            log(
                f"[{format_time(now_utc())}] Credentials written successfully"
                f" (expires: {format_time(credentials.expiration)},"
                f" bucket: {credentials.bucket}, prefix: {credentials.prefix})"
            )
            self.warn_on_bucket_mismatch(credentials)
            delay = next_refresh_delay(
                now_utc(), credentials.expiration, self.config.refresh_interval
            )

    def warn_on_bucket_mismatch(self, credentials: Credentials) -> None:
        configured = self.config.s3_bucket
        if configured and credentials.bucket and credentials.bucket != configured:
            log(
                f"Warning: Cedana issued credentials for bucket {credentials.bucket!r} but this"
                f" stack writes to {configured!r}; check the s3Bucket setting",
                error=True,
            )


class _Quiet(BaseHTTPRequestHandler):
    server_version = "cred-refresher"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """No access logs: they add noise and nothing a user needs."""

    def reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def credentials_handler(state: State, token_file: Path | None) -> type[BaseHTTPRequestHandler]:
    class Handler(_Quiet):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != CREDENTIALS_PATH:
                self.reply(404, "not found\n")
                return
            if token_file is not None and not self.authorized():
                self.reply(401, "unauthorized\n")
                return
            credentials = state.current()
            if credentials is None:
                self.reply(503, "no unexpired credentials\n")
                return
            self.reply(200, json.dumps(credentials.document()), "application/json")

        def authorized(self) -> bool:
            assert token_file is not None
            try:
                expected = token_file.read_text().strip()
            except OSError:
                return False
            given = self.headers.get("Authorization", "")
            return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    return Handler


def health_handler(state: State, refresher: threading.Thread) -> type[BaseHTTPRequestHandler]:
    class Handler(_Quiet):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                # An API outage keeps this at 200: restarting the pod would not help.
                if refresher.is_alive():
                    self.reply(200, "OK\n")
                else:
                    self.reply(503, "refresher stopped\n")
            elif path == "/ready":
                credentials = state.current()
                if credentials is None:
                    self.reply(503, "NOT READY: no unexpired credentials\n")
                else:
                    self.reply(200, f"READY (expires: {format_time(credentials.expiration)})\n")
            else:
                self.reply(404, "not found\n")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server_class = _Server6 if ":" in host else _Server
    server = server_class((host, port), handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    ).start()
    return server


def serve_all_interfaces(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """Dual-stack where the node has IPv6, IPv4 otherwise: the kubelet probes the pod IP."""
    try:
        return serve("::", port, handler)
    except OSError:
        return serve("0.0.0.0", port, handler)  # noqa: S104 - the probes come from the node


def main(env: dict[str, str] | None = None) -> int:
    try:
        config = load_config(dict(os.environ) if env is None else env)
    except StartupError as error:
        log(str(error), error=True)
        return 2

    log("Starting credentials refresher")
    log(f"  Cedana URL: {config.cedana_url}")
    log(f"  Cluster ID: {config.cluster_id}")
    log(f"  Refresh Interval: {config.refresh_interval_text}")
    log(f"  Credentials File: {config.credentials_file}")
    host, port = config.endpoint
    log(f"  Credentials Endpoint: http://{host}:{port}{CREDENTIALS_PATH}")

    state, stop = State(), threading.Event()
    first_delay = 0.0
    saved = read_credentials_file(config.credentials_file, now_utc())
    if saved is not None:
        state.set(saved)
        first_delay = next_refresh_delay(now_utc(), saved.expiration, config.refresh_interval)
        log(
            f"Reusing unexpired credentials from {config.credentials_file}"
            f" (expires: {format_time(saved.expiration)}, bucket: {saved.bucket},"
            f" prefix: {saved.prefix})"
        )

    refresher = Refresher(config, state, stop, first_delay)
    try:
        servers = [
            serve(host, port, credentials_handler(state, config.token_file)),
            serve_all_interfaces(config.health_port, health_handler(state, refresher)),
        ]
    except OSError as error:
        log(f"Cannot listen: {error}", error=True)
        return 1
    log(f"Health server listening on :{config.health_port}")

    def request_stop(signum: int, _frame: object) -> None:
        log(f"Received {signal.Signals(signum).name}, shutting down")
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    refresher.start()
    while not stop.wait(1.0):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()
    log("Shutting down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
