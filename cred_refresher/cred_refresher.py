#!/usr/bin/env python3
"""Cedana credentials refresher: a sidecar that keeps Vector supplied with fresh AWS credentials.

It trades the Cedana auth token for short-lived STS credentials
(`POST {CEDANA_URL}/v2/monitoring/credentials`) and

- serves them on loopback as the AWS container-credentials document (`GET /credentials`), which
  the AWS SDK in Vector refetches before they expire (`AWS_CONTAINER_CREDENTIALS_FULL_URI`);
- keeps `CREDENTIALS_FILE` current (an AWS shared-credentials file, written atomically), with
  the expiry recorded so that a restart serves unexpired credentials at once;
- with `TARGET_FILE`, keeps where Cedana's answer says to write (bucket, region, key prefix) in
  that file, as JSON, for Vector's secret backend; Vector reloads when it changes;
- answers `/health`, `/ready` and `/status` (a small JSON document for `scripts/verify`: the
  expiry, the last refresh and the last error, the bucket and prefix issued and whether they
  fit the stack; never a secret) on `HEALTH_PORT`.

Standard library only; configured by environment (see cred_refresher/README.md). It imports
little on purpose (no urllib.request, http.server, dataclasses, tempfile, ipaddress): each of
those costs resident memory in a container that runs for months.
"""

from __future__ import annotations

import configparser
import contextlib
import hmac
import http.client
import io
import ipaddress
import json
import os
import random
import re
import selectors
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    # (method, path, lower-cased headers) -> (status, body, content type)
    Handler = Callable[[str, str, dict[str, str]], tuple[int, str, str]]

CREDENTIALS_PATH = "/credentials"
STATUS_PATH = "/status"
API_PATH = "/v2/monitoring/credentials"
EARLY_REFRESH = timedelta(minutes=15)
# The refresh interval varies by this fraction either way, so that a fleet of pods started
# together (a rollout) does not call Cedana in step for ever after.
JITTER = 0.10
# With no unexpired credentials held, nothing reaches S3: retries come at least this often (the
# lab measured a 5-minute backoff holding writes back minutes after Cedana answered again). One
# refresher per cluster, so Cedana's API sees at most two calls a minute from it.
STALLED_RETRY = 30.0
# A credentials answer is under 2 KiB; anything past this is not one.
MAX_BODY = 64 * 1024
# STS issues credentials for 15 minutes to 36 hours. Well under 15 minutes left on arrival
# means a clock is off (or the API hands out old credentials); a longer lifetime would make the
# SDK keep credentials past their real expiry.
SHORT_LIFETIME = 10 * 60.0
MAX_LIFETIME = 36 * 3600.0
# A JSON document of credentials is flat; deep nesting is refused before the parser recurses
# (json's C parser can exhaust a small thread stack, as musl's, before RecursionError).
MAX_BRACKETS = 64
# The servers: one request per connection, at most this much header, and at most this many
# connections per port waiting for their request (beyond it the oldest is dropped).
MAX_REQUEST = 8192
MAX_WAITING = 64

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Keys, secrets, tokens and times are printable ASCII without spaces: nothing that could end a
# line of the INI file or of a log.
_PLAIN = re.compile(r"[!-~]+")
_SECRET_FIELDS = ("access_key_id", "secret_access_key", "session_token")
_LABEL_FIELDS = ("bucket", "prefix", "region")
# The key prefix Vector writes under when Cedana names none (the program's default).
DEFAULT_KEY_PREFIX = "vector/data/"
# Characters S3 documents as safe in a key: nothing a template or a config could read as its own.
_SAFE_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
_FILE_META = re.compile(r"^# (expiration|bucket|prefix|region): (.*)$")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
TEXT = "text/plain"


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
    """An RFC 3339 time (Z or any offset, optional fractional seconds), as an aware UTC datetime.

    ValueError for anything else, including times that exist in no time zone's calendar once
    converted to UTC (year 1 with a positive offset, year 9999 with a negative one).
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError(f"time without a zone: {text!r}")
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time out of range: {text!r}") from None


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


def refresh_delay(
    now: datetime, expiration: datetime, interval: float, floor: float, rng: random.Random
) -> float:
    """Seconds from a good refresh to the next one.

    The interval with ±JITTER, earlier when expiry is near (next_refresh_delay), and never below
    the floor: credentials that expire at once (a clock ahead, an API handing out nearly expired
    ones) must not make the sidecar call Cedana in a tight loop.
    """
    jittered = interval * rng.uniform(1 - JITTER, 1 + JITTER)
    return max(floor, next_refresh_delay(now, expiration, jittered))


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Capped exponential backoff with jitter: uniform in [0.5, 1] of min(max, initial * 2^n)."""
    return min(maximum, initial * 2 ** min(attempt, 32)) * rng.uniform(0.5, 1.0)


def retry_delay(
    attempt: int,
    initial: float,
    maximum: float,
    floor: float,
    remaining: float | None,
    rng: random.Random,
) -> float:
    """Seconds from a failed refresh to the next attempt.

    The backoff, but at most half the remaining lifetime of the credentials held (`remaining`
    seconds, None when there are none), so a retry comes while they still work; with none
    held, at most STALLED_RETRY seconds, so S3 writes resume soon after Cedana answers again;
    never below the floor.
    """
    delay = backoff_delay(attempt, initial, maximum, rng)
    if remaining is not None and remaining > 0:
        delay = min(delay, remaining / 2)
    else:
        delay = min(delay, STALLED_RETRY * rng.uniform(0.5, 1.0))
    return max(floor, delay)


def excerpt(text: str, secret: str = "", limit: int = 100) -> str:
    """Text from elsewhere made fit for one log line.

    The secret masked, anything but printable ASCII escaped (so it can neither end the line nor
    forge another one), and at most `limit` characters.
    """
    if secret:
        text = text.replace(secret, "[REDACTED]")
    safe = "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode() for c in text)
    return safe if len(safe) <= limit else safe[:limit] + "..."


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost; no name is looked up."""
    if host.lower() == "localhost":
        return True
    try:
        return socket.inet_pton(socket.AF_INET, host)[0] == 127
    except OSError:
        pass
    try:
        return socket.inet_pton(socket.AF_INET6, host) == bytes(15) + b"\x01"
    except OSError:
        return False


def parse_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError(f"not a port number: {text!r}")
    return int(text)


def split_host_port(text: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port`; ValueError otherwise."""
    host, separator, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not separator or not host:
        raise ValueError(f"not host:port: {text!r}")
    return host, parse_port(port)


def covers(prefix: str, key_prefix: str) -> bool:
    """Whether keys starting with key_prefix fall under prefix (with or without a final /)."""
    if not prefix:
        return True
    return (key_prefix.rstrip("/") + "/").startswith(prefix.rstrip("/") + "/")


# --- Configuration --------------------------------------------------------------------------


class StartupError(Exception):
    """A configuration problem: the process exits non-zero with this message."""


class Config:
    """The environment, checked; a problem raises StartupError naming the variable."""

    def __init__(self, env: dict[str, str]) -> None:
        def get(name: str, default: str = "") -> str:
            return env.get(name, "").strip() or default

        def required(name: str) -> str:
            value = get(name)
            if not value:
                raise StartupError(f"Required environment variable {name} not set")
            return value

        def duration(name: str, default: str) -> tuple[str, float]:
            text = get(name, default)
            try:
                seconds = parse_duration(text)
            except ValueError:
                raise StartupError(
                    f"Invalid {name}: {text!r} is not a duration such as 45m, 30s or 1h30m"
                ) from None
            if seconds <= 0:
                raise StartupError(f"Invalid {name}: must be greater than zero")
            return text, seconds

        insecure = get("INSECURE_CEDANA_URL", "false").lower()
        if insecure not in ("true", "false"):
            raise StartupError(f"Invalid INSECURE_CEDANA_URL: {insecure!r} is not true or false")
        self.cedana_url = required("CEDANA_URL").rstrip("/")
        self.api_scheme, self.api_host, self.api_port, self.api_path = _check_url(
            self.cedana_url, insecure == "true"
        )
        self.auth_token = required("CEDANA_AUTH_TOKEN")
        if not _PLAIN.fullmatch(self.auth_token):
            # It goes into a header; http.client would quote it in the error it raises.
            raise StartupError(
                "Invalid CEDANA_AUTH_TOKEN: it must be printable ASCII without spaces"
            )
        self.cluster_id = required("CLUSTER_ID")
        self.refresh_interval_text, self.refresh_interval = duration("REFRESH_INTERVAL", "45m")
        self.credentials_file = get("CREDENTIALS_FILE", "/credentials/aws-credentials")
        endpoint_text = get("CREDENTIALS_ENDPOINT", "127.0.0.1:9099")
        try:
            self.endpoint = split_host_port(endpoint_text)
        except ValueError:
            raise StartupError(
                f"Invalid CREDENTIALS_ENDPOINT: {endpoint_text!r} is not host:port"
                " with a port from 1 to 65535"
            ) from None
        if not is_loopback(self.endpoint[0]):
            raise StartupError(
                f"Invalid CREDENTIALS_ENDPOINT: {self.endpoint[0]!r} is not a loopback address;"
                " the credentials endpoint must only be reachable inside the pod"
            )
        health_text = get("HEALTH_PORT", "8081")
        try:
            self.health_port = parse_port(health_text)
        except ValueError:
            raise StartupError(
                f"Invalid HEALTH_PORT: {health_text!r} is not a port number (1 to 65535)"
            ) from None
        self.token_file = get("CREDENTIALS_AUTH_TOKEN_FILE") or None
        self.s3_bucket, self.key_prefix = get("S3_BUCKET") or None, get("KEY_PREFIX") or None
        # TARGET_FILE: where Cedana's answer says to write, for Vector. UNTIL_CREDENTIALS: the
        # collector's init container, which fetches until it holds credentials, writes, exits.
        self.target_file, self.until_credentials = (
            get("TARGET_FILE") or None,
            get("UNTIL_CREDENTIALS").lower() == "true",
        )
        self.request_timeout = duration("REQUEST_TIMEOUT", "10s")[1]
        self.retry_initial = duration("RETRY_INITIAL_DELAY", "2s")[1]
        self.retry_max = duration("RETRY_MAX_DELAY", "5m")[1]
        self.min_delay = duration("MIN_REFRESH_DELAY", "5s")[1]
        # An attempt ends within REQUEST_TIMEOUT; the minute covers what no socket timeout
        # bounds (name resolution) and writing the file.
        self.stall_timeout = duration("STALL_TIMEOUT", f"{self.request_timeout + 60:g}s")[1]
        self.connection_timeout = duration("CONNECTION_TIMEOUT", "5s")[1]
        # Egress through an HTTPS proxy (CONNECT), as corporate clusters need; NO_PROXY names
        # the hosts reached directly. Lower-case names win, as curl and Vector read them.
        proxy_text = env.get("https_proxy", "").strip() or get("HTTPS_PROXY")
        self.no_proxy = env.get("no_proxy", "").strip() or get("NO_PROXY")
        self.proxy = _check_proxy(proxy_text) if proxy_text else None
        if self.proxy and bypasses_proxy(self.api_host, self.no_proxy):
            self.proxy = None

    def __repr__(self) -> str:
        return f"Config(cedana_url={self.cedana_url!r}, cluster_id={self.cluster_id!r})"


def _check_url(text: str, insecure: bool) -> tuple[str, str, int | None, str]:
    """CEDANA_URL as (scheme, host, port, path of the credentials call); StartupError if unfit.

    Plain http only to loopback, unless `insecure` (INSECURE_CEDANA_URL, the program's
    insecureCedanaUrl for a stand-in API in end-to-end tests).
    """

    def invalid(why: str) -> StartupError:
        shown = re.sub(r"//[^/]*@", "//***@", text)  # never echo a password
        return StartupError(f"Invalid CEDANA_URL: {excerpt(shown)!r} {why}")

    if not _PLAIN.fullmatch(text):
        raise invalid("contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise invalid("is not a URL with a valid host and port") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise invalid("is not an https:// URL with a host")
    if "?" in text or "#" in text:
        raise invalid("must not have a query or fragment")
    if parts.username is not None or parts.password is not None:
        raise invalid("must not contain a user or password (the token is CEDANA_AUTH_TOKEN)")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not insecure:
        # Plain http would hand the auth token to anyone on the path.
        raise invalid("must use https (plain http is only allowed to a loopback address)")
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/") + API_PATH


def _check_proxy(text: str) -> tuple[str, int]:
    """HTTPS_PROXY as (host, port): an http:// proxy that tunnels with CONNECT."""
    shown = re.sub(r"//[^/]*@", "//***@", text)
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        port = parts.port or 3128
    except ValueError:
        raise StartupError(f"Invalid HTTPS_PROXY: {excerpt(shown)!r} is not a URL") from None
    if parts.scheme != "http" or not parts.hostname:
        raise StartupError(
            f"Invalid HTTPS_PROXY: {excerpt(shown)!r} is not an http://host:port proxy"
        )
    if parts.username is not None or parts.password is not None:
        raise StartupError("Invalid HTTPS_PROXY: a proxy user or password is not supported")
    return parts.hostname, port


def bypasses_proxy(host: str, no_proxy: str) -> bool:
    """Whether NO_PROXY sends `host` directly: `*`, the host itself, a domain (`.svc` or
    `svc`, matching its subdomains) or an address range (`10.0.0.0/8`)."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None and "/" in entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip("*").lstrip(".").strip("[]")
        if host == domain or host.endswith(f".{domain}"):
            return True
    return False


def load_config(env: dict[str, str]) -> Config:
    return Config(env)


# --- Credentials ----------------------------------------------------------------------------


class FetchError(Exception):
    """A failed refresh; the message is safe to log."""


class Credentials:
    """One set of STS credentials, checked; repr shows no secret."""

    __slots__ = (
        "access_key_id",
        "bucket",
        "expiration",
        "prefix",
        "region",
        "secret_access_key",
        "session_token",
    )

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        expiration: datetime,
        bucket: str = "",
        prefix: str = "",
        region: str = "",
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.expiration = expiration
        self.bucket, self.prefix, self.region = bucket, prefix, region

    def __repr__(self) -> str:
        return (
            f"Credentials(expiration={format_time(self.expiration)!r}, bucket={self.bucket!r},"
            f" prefix={self.prefix!r}, region={self.region!r})"
        )

    def document(self) -> dict[str, str]:
        """The AWS container-credentials document."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token,
            "Expiration": format_time(self.expiration),
        }


def clock_note(now: datetime, date: str | None) -> str:
    """Both clocks, for a lifetime that looks wrong: ours and the response's Date header."""
    server = excerpt(date, limit=40) if date else "absent"
    return f"local time {format_time(now)}, response Date: {server}"


def credentials_from(data: dict[str, object], now: datetime, date: str | None) -> Credentials:
    """Credentials from the API's fields, if every one is fit for the file, the log and the SDK."""
    values: dict[str, str] = {}
    for name in (*_SECRET_FIELDS, "expiration"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise FetchError(f"response is missing {name}")
        if not _PLAIN.fullmatch(value):
            # The message never quotes the value: it may be a secret.
            raise FetchError(f"response field {name} contains spaces or control characters")
        values[name] = value
    for name in _LABEL_FIELDS:
        value = data.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise FetchError(f"response field {name} is not a string")
        if not value.isprintable():
            raise FetchError(f"response field {name} contains control characters")
        values[name] = value.strip()
    try:
        expiration = parse_time(values["expiration"])
    except ValueError:
        raise FetchError("response has an unparseable expiration") from None
    lifetime = (expiration - now).total_seconds()
    if lifetime <= 0:
        raise FetchError(
            f"response credentials already expired at {format_time(expiration)}"
            f" ({clock_note(now, date)})"
        )
    if lifetime > MAX_LIFETIME:
        raise FetchError(
            f"response credentials expire at {format_time(expiration)}, later than STS ever"
            f" allows (36h; {clock_note(now, date)})"
        )
    return Credentials(
        values["access_key_id"],
        values["secret_access_key"],
        values["session_token"],
        expiration,
        values["bucket"],
        values["prefix"],
        values["region"],
    )


def parse_response(body: bytes, now: datetime, date: str | None = None) -> Credentials:
    if body.count(b"[") + body.count(b"{") > MAX_BRACKETS:
        raise FetchError("response is not a flat JSON object (too deeply nested)")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError("response is not valid JSON") from None
    if not isinstance(data, dict):
        raise FetchError("response is not a JSON object")
    return credentials_from(data, now, date)


def describe(error: BaseException, secret: str) -> str:
    """An exception as a log-safe phrase."""
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {excerpt(str(error), secret)}"
    # Other messages (http.client's BadStatusLine, for one) quote what the server sent.
    return type(error).__name__


def _shut_down(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            # The plain socket's shutdown, also for TLS: it wakes a blocked read at once.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _read_body(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """At most MAX_BODY + 1 bytes of the body, in chunks, while the deadline lasts."""
    chunks, size = [], 0
    while size <= MAX_BODY:
        if time.monotonic() >= deadline:
            raise TimeoutError
        chunk = response.read(min(16384, MAX_BODY + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def fetch_credentials(config: Config, now: datetime) -> tuple[Credentials, str | None]:
    """One POST for credentials, under one deadline; the credentials and the Date header.

    Redirects are never followed: the auth token goes to CEDANA_URL and nowhere else. Any
    failure raises FetchError with a message that is safe to log.
    """
    timeout = config.request_timeout
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    # Through a proxy, the connection goes to the proxy, which opens a tunnel (CONNECT) to the
    # API; TLS, when the API uses it, runs inside the tunnel, end to end.
    host, port = config.proxy or (config.api_host, config.api_port)
    if config.api_scheme == "https":
        # A new default TLS context per request, on purpose: it holds the CA store (about
        # 2.4 MiB), which is thus freed between refreshes; building it takes some 20 ms.
        connection = http.client.HTTPSConnection(host, port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    if config.proxy:
        default = 443 if config.api_scheme == "https" else 80
        connection.set_tunnel(config.api_host, config.api_port or default)
    # REQUEST_TIMEOUT bounds each socket operation; this timer bounds the whole exchange, so a
    # server that answers a byte at a time cannot keep a refresh in flight.
    sockets: list[socket.socket] = []
    timer = threading.Timer(timeout, _shut_down, (sockets,))
    timer.daemon = True
    timer.start()
    try:
        connection.connect()
        sockets.append(connection.sock)
        if time.monotonic() >= deadline:
            raise TimeoutError
        connection.request(
            "POST",
            config.api_path,
            body=json.dumps({"cluster_id": config.cluster_id}).encode(),
            headers={
                "Authorization": f"Bearer {config.auth_token}",
                "Content-Type": "application/json",
                "User-Agent": "cedana-cred-refresher",
            },
        )
        response = connection.getresponse()
        body = _read_body(response, deadline)
        status, date = response.status, response.getheader("Date")
        location = response.getheader("Location") or ""
    except (OSError, http.client.HTTPException, ValueError) as error:
        if time.monotonic() >= deadline:
            raise FetchError(f"no complete answer within REQUEST_TIMEOUT ({timeout:g}s)") from None
        raise FetchError(f"request failed: {describe(error, config.auth_token)}") from None
    finally:
        timer.cancel()
        connection.close()

    if 300 <= status < 400:
        try:
            host = urlsplit(location).hostname or "(none)"
        except ValueError:
            host = "(unparseable)"
        raise FetchError(
            f"status {status}: refused to follow a redirect to host {excerpt(host, limit=60)};"
            " the auth token is only ever sent to CEDANA_URL"
        )
    if status != 200:
        size = f"{len(body)} bytes" if len(body) <= MAX_BODY else f"over {MAX_BODY} bytes"
        text = excerpt(body.decode("utf-8", "replace"), config.auth_token)
        message = f"status {status}, body ({size}): {text}"
        if status in (401, 403):
            message += "; check the cedana-credentials Secret (authToken, clusterId)"
        raise FetchError(message)
    if len(body) > MAX_BODY:
        raise FetchError(f"response is larger than {MAX_BODY} bytes")
    return parse_response(body, now, date), date


def write_atomically(path: Path, text: str, mode: int) -> None:
    """A temporary file of `mode` in the same directory, fsync, then a rename over the target.

    One writer (the refresher thread), so a fixed name is enough; O_NOFOLLOW refuses a planted
    symlink, and a leftover from a crash is truncated and reused.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_credentials_file(path: str | os.PathLike[str], credentials: Credentials) -> None:
    """Atomically, 0600. The profile is written by configparser without interpolation, from
    values checked to be single-line (credentials_from), so no value can add a line or a
    section."""
    profile = configparser.RawConfigParser()
    profile["default"] = {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
    }
    text = io.StringIO()
    text.write(
        "# Written by cred-refresher; the comments let a restart reuse unexpired credentials.\n"
        f"# expiration: {format_time(credentials.expiration)}\n"
        f"# bucket: {credentials.bucket}\n"
        f"# prefix: {credentials.prefix}\n"
        f"# region: {credentials.region}\n"
    )
    profile.write(text)
    write_atomically(Path(path), text.getvalue(), 0o600)


def target_of(credentials: Credentials) -> dict[str, str]:
    """Where Cedana's answer says to write, as Vector reads it: SECRET[cedana.bucket], ...region
    and ...key_prefix (the prefix with one final '/', to which Vector adds the minute)."""
    prefix = credentials.prefix.strip("/")
    return {
        "bucket": credentials.bucket,
        "region": credentials.region,
        "key_prefix": f"{prefix}/" if prefix else DEFAULT_KEY_PREFIX,
    }


def target_problem(target: dict[str, str]) -> str | None:
    """Why Vector could not write where the answer says, or None."""
    missing = [key for key in ("bucket", "region") if not target[key]]
    if missing:
        settings = " and ".join({"bucket": "s3Bucket", "region": "awsRegion"}[k] for k in missing)
        return f"Cedana's answer names no {' and no '.join(missing)}; set {settings}"
    if not _SAFE_PREFIX.fullmatch(target["key_prefix"]) or "//" in target["key_prefix"]:
        return f"Cedana's prefix {excerpt(target['key_prefix'])!r} is not a plain S3 key prefix"
    return None


def write_target_file(path: str | os.PathLike[str], target: dict[str, str]) -> bool:
    """Writes the target atomically if it differs from the file's; whether it did."""
    path, text = Path(path), json.dumps(target, sort_keys=True) + "\n"
    with contextlib.suppress(OSError, ValueError):
        if path.read_text(encoding="utf-8") == text:
            return False
    write_atomically(path, text, 0o644)  # not secret: Vector's user reads it
    return True


def read_credentials_file(path: str | os.PathLike[str], now: datetime) -> Credentials | None:
    """Unexpired credentials from a file this program wrote, else None."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    data: dict[str, object] = {}
    for line in text.splitlines():
        match = _FILE_META.match(line)
        if match:
            data[match.group(1)] = match.group(2).strip()
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
        profile = parser["default"]
        data["access_key_id"] = profile["aws_access_key_id"]
        data["secret_access_key"] = profile["aws_secret_access_key"]
        data["session_token"] = profile["aws_session_token"]
        return credentials_from(data, now, None)
    except (configparser.Error, KeyError, FetchError):
        return None


# --- Running ----------------------------------------------------------------------------------


def log(message: str, *, error: bool = False) -> None:
    stream = sys.stderr if error else sys.stdout
    # ASCII whatever the locale: a log line must never fail to print.
    stream.write(message.encode("ascii", "backslashreplace").decode() + "\n")
    stream.flush()


def now_utc() -> datetime:
    return datetime.now(UTC)


class State:
    """The last good credentials, shared by the refresher and the servers, and those that follow
    them once they expire (credentials for another place, while Vector finishes the old one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None
        self._successor: Credentials | None = None

    def set(self, credentials: Credentials) -> None:
        with self._lock:
            self._credentials, self._successor = credentials, None

    def follow(self, credentials: Credentials) -> None:
        """Serves these once the held ones expire."""
        with self._lock:
            self._successor = credentials

    def current(self) -> Credentials | None:
        """The held credentials while unexpired; expired ones are never handed out."""
        now = now_utc()
        with self._lock:
            if self._successor and (not self._credentials or self._credentials.expiration <= now):
                self._credentials, self._successor = self._successor, None
            credentials = self._credentials
        if credentials is None or credentials.expiration <= now:
            return None
        return credentials

    def held(self) -> Credentials | None:
        with self._lock:
            return self._credentials


class Attempts:
    """The refresh attempts so far: when the last one and the last good one ran, the last
    failure's time and reason (a log-safe FetchError message), and the failures in a row."""

    __slots__ = ("failures", "last_attempt", "last_error", "last_error_at", "last_success")

    def __init__(
        self,
        last_attempt: datetime | None = None,
        last_success: datetime | None = None,
        last_error_at: datetime | None = None,
        last_error: str | None = None,
        failures: int = 0,
    ) -> None:
        self.last_attempt, self.last_success = last_attempt, last_success
        self.last_error_at, self.last_error, self.failures = last_error_at, last_error, failures

    def succeeded(self, at: datetime) -> Attempts:
        return Attempts(at, at, self.last_error_at, self.last_error, 0)

    def failed(self, at: datetime, reason: str) -> Attempts:
        return Attempts(at, self.last_success, at, reason, self.failures + 1)


def status_document(
    config: Config, held: Credentials | None, attempts: Attempts, now: datetime
) -> dict[str, object]:
    """GET /status: what `scripts/verify` reports about the credentials, in one read.

    Times (RFC 3339, UTC, with this clock's `now` so a reader can allow for skew), the bucket,
    prefix and region Cedana issued, and whether they fit this stack (S3_BUCKET, KEY_PREFIX;
    null when either side is unknown). Never a key, a token or the cluster id.
    """

    def when(value: datetime | None) -> str | None:
        return format_time(value) if value is not None else None

    return {
        "now": format_time(now),
        "ready": held is not None and held.expiration > now,
        "expiration": when(held.expiration if held else None),
        "last_attempt": when(attempts.last_attempt),
        "last_success": when(attempts.last_success),
        "last_error": attempts.last_error,
        "last_error_at": when(attempts.last_error_at),
        "consecutive_failures": attempts.failures,
        "bucket": held.bucket if held else None,
        "prefix": held.prefix if held else None,
        "region": held.region if held else None,
        "configured_bucket": config.s3_bucket,
        "bucket_matches": (
            held.bucket == config.s3_bucket if held and held.bucket and config.s3_bucket else None
        ),
        "key_prefix": config.key_prefix,
        "prefix_covers_key_prefix": (
            covers(held.prefix, config.key_prefix) if held and config.key_prefix else None
        ),
        "cedana_url": config.cedana_url,
        # Where Vector writes when the stack leaves it to Cedana (TARGET_FILE), else null.
        "target": target_of(held) if config.target_file and held else None,
    }


class Refresher(threading.Thread):
    def __init__(
        self, config: Config, state: State, stop: threading.Event, first_delay: float
    ) -> None:
        super().__init__(name="refresher", daemon=True)
        self.config, self.state, self.stop = config, state, stop
        self.first_delay = first_delay
        self.rng = random.Random()  # noqa: S311 - jitter, not cryptography
        # The monotonic time by which the next attempt must have finished (see stalled()).
        self.due = time.monotonic() + first_delay + config.stall_timeout
        # The attempts so far, replaced as a whole so /status reads a consistent picture.
        self.attempts = Attempts()
        self.file_failing = False
        self.short_lived = False
        self.prefixes_warned: set[str] = set()

    def stalled(self) -> bool:
        """Whether an attempt is overdue: not finished STALL_TIMEOUT after it was due."""
        return time.monotonic() > self.due

    def run(self) -> None:
        delay, failures = self.first_delay, 0
        while True:
            self.due = time.monotonic() + delay + self.config.stall_timeout
            if self.stop.wait(delay):
                return
            try:
                credentials, date = fetch_credentials(self.config, now_utc())
                # Counted before they are served: /status never shows ready without a success.
                self.attempts = self.attempts.succeeded(now_utc())
                self.accept(credentials, date)
            except FetchError as error:
                reason = str(error)
            except Exception as error:  # nothing may end the refresh loop
                reason = f"unexpected {type(error).__name__}"
            else:
                if self.config.until_credentials:
                    return
                failures = 0
                delay = refresh_delay(
                    now_utc(),
                    credentials.expiration,
                    self.config.refresh_interval,
                    self.config.min_delay,
                    self.rng,
                )
                continue
            held = self.state.held()
            remaining = (held.expiration - now_utc()).total_seconds() if held else None
            delay = retry_delay(
                failures,
                self.config.retry_initial,
                self.config.retry_max,
                self.config.min_delay,
                remaining,
                self.rng,
            )
            failures += 1
            self.attempts = self.attempts.failed(now_utc(), reason)
            log(
                f"[{format_time(now_utc())}] Credential refresh failed: {reason}"
                f" (retrying in {delay:.1f}s)",
                error=True,
            )

    def accept(self, credentials: Credentials, date: str | None) -> None:
        """Serve first; the file is secondary and its failure never causes another fetch."""
        held = self.state.current()
        if self.config.target_file and held and target_of(held) != target_of(credentials):
            # Cedana moved the place: Vector reloads its sink on the new target and waits for
            # the old sink's batch in flight, which only the held credentials may write.
            self.state.follow(credentials)
            log(
                f"Cedana moved the place to write; the credentials for the old one are served"
                f" until they expire ({format_time(held.expiration)}), then the new ones"
            )
        else:
            self.state.set(credentials)
        summary = (
            f"(expires: {format_time(credentials.expiration)},"
            f" bucket: {credentials.bucket}, prefix: {credentials.prefix})"
        )
        try:
            write_credentials_file(self.config.credentials_file, credentials)
        except (OSError, ValueError) as error:
            if not self.file_failing:  # once per streak of failures
                log(
                    f"Warning: cannot write {self.config.credentials_file}"
                    f" ({describe(error, self.config.auth_token)}); the credentials are served"
                    " on the endpoint all the same",
                    error=True,
                )
            self.file_failing = True
            log(f"[{format_time(now_utc())}] Credentials refreshed, not written {summary}")
        else:
            self.file_failing = False
            log(f"[{format_time(now_utc())}] Credentials written successfully {summary}")
        self.warn_on_short_lifetime(credentials, date)
        if self.config.target_file:
            self.write_target(self.config.target_file, credentials)
        self.warn_on_bucket_mismatch(credentials)
        self.warn_on_key_prefix(credentials)

    def write_target(self, path: str, credentials: Credentials) -> None:
        target = target_of(credentials)
        problem = target_problem(target)
        if problem:
            # Vector keeps writing where the file last said (or waits for a first answer).
            log(f"Error: not written to {path}: {problem}", error=True)
            return
        try:
            changed = write_target_file(path, target)
        except (OSError, ValueError) as error:
            why = describe(error, self.config.auth_token)
            log(f"Error: cannot write {path} ({why})", error=True)
            return
        if changed:
            log(
                f"Vector writes to s3://{target['bucket']}/{target['key_prefix']}"
                f" ({target['region']}) from now on"
            )

    def warn_on_short_lifetime(self, credentials: Credentials, date: str | None) -> None:
        now = now_utc()
        lifetime = (credentials.expiration - now).total_seconds()
        short = lifetime < SHORT_LIFETIME
        if short and not self.short_lived:  # once per streak
            log(
                f"Warning: Cedana issued credentials that expire in {lifetime:.0f}s"
                f" (at {format_time(credentials.expiration)}; {clock_note(now, date)}); STS"
                " issues 15 minutes at least, so a clock is probably off: check the node's time"
                f" sync. Refreshes stay at least {self.config.min_delay:g}s apart",
                error=True,
            )
        self.short_lived = short

    def warn_on_bucket_mismatch(self, credentials: Credentials) -> None:
        configured = self.config.s3_bucket
        if configured and credentials.bucket and credentials.bucket != configured:
            log(
                f"Warning: Cedana issued credentials for bucket {credentials.bucket!r} but this"
                f" stack writes to {configured!r}; check the s3Bucket setting",
                error=True,
            )

    def warn_on_key_prefix(self, credentials: Credentials) -> None:
        key_prefix, prefix = self.config.key_prefix, credentials.prefix
        if not key_prefix or covers(prefix, key_prefix) or prefix in self.prefixes_warned:
            return
        self.prefixes_warned.add(prefix)
        log(
            f"Warning: Cedana's credentials only allow keys under {prefix.rstrip('/')!r}/ but"
            f" Vector writes keys under KEY_PREFIX {key_prefix!r}; S3 will refuse those writes"
            " (403 AccessDenied). Check Vector's key_prefix (it must start with the prefix"
            " above) and the prefix Cedana has for this cluster",
            error=True,
        )


# --- Serving ----------------------------------------------------------------------------------


def _parse_request(head: bytes) -> tuple[str, str, dict[str, str]] | None:
    """(method, path, lower-cased headers) of a request head, or None if it is not HTTP."""
    lines = re.split(r"\r?\n", head.decode("latin-1"))
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers = {}
    for line in lines[1:]:
        name, separator, value = line.partition(":")
        if separator:
            headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1].split("?", 1)[0], headers


def _send(conn: socket.socket, status: int, body: str, content_type: str = TEXT) -> None:
    payload = body.encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        # Non-blocking: an answer of a few hundred bytes fits the socket's buffer at once.
        conn.send(head.encode() + payload)


class Server:
    """Answers one request per connection, all on one thread, whatever the clients do.

    A connection costs no thread: it waits in a selector until its request has arrived, for at
    most `timeout` seconds, and beyond MAX_WAITING waiting connections the oldest is dropped.
    So idle or slow clients can neither pile up threads nor hold off the kubelet's probes.
    Handlers only read memory and a small token file, so answering inline is quick.
    """

    def __init__(self, listener: socket.socket, handler: Handler, timeout: float) -> None:
        self.listener, self.handler, self.timeout = listener, handler, timeout
        self.selector = selectors.DefaultSelector()
        # Each waiting connection's deadline and what it sent so far, oldest first.
        self.waiting: dict[socket.socket, tuple[float, bytearray]] = {}
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ)

    def run(self) -> None:
        while True:
            now = time.monotonic()
            while self.waiting and self.oldest()[1][0] <= now:
                self.drop(self.oldest()[0])
            wait = self.oldest()[1][0] - now if self.waiting else None
            for key, _ in self.selector.select(wait):
                if key.data is None:
                    self.accept()
                elif key.data in self.waiting:
                    self.receive(key.data)

    def oldest(self) -> tuple[socket.socket, tuple[float, bytearray]]:
        return next(iter(self.waiting.items()))

    def accept(self) -> None:
        try:
            conn, _address = self.listener.accept()
        except OSError:  # the client gave up already, or no descriptor is left
            return
        if len(self.waiting) >= MAX_WAITING:
            self.drop(self.oldest()[0])
        conn.setblocking(False)
        self.waiting[conn] = (time.monotonic() + self.timeout, bytearray())
        self.selector.register(conn, selectors.EVENT_READ, conn)

    def receive(self, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        received = self.waiting[conn][1]
        received += chunk
        end = _HEAD_END.search(received)
        if end is not None:
            self.answer(conn, bytes(received[: end.start()]))
        elif len(received) > MAX_REQUEST:
            _send(conn, 431, "request too large\n")
        elif chunk:
            return  # more to come
        self.drop(conn)

    def answer(self, conn: socket.socket, head: bytes) -> None:
        request = _parse_request(head)
        if request is None:
            _send(conn, 400, "bad request\n")
            return
        try:
            _send(conn, *self.handler(*request))
        except Exception:  # a bug answers 500; the server goes on
            _send(conn, 500, "internal error\n")

    def drop(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        del self.waiting[conn]
        conn.close()


def credentials_handler(state: State, token_file: str | None) -> Handler:
    def authorized(given: str) -> bool:
        assert token_file is not None
        try:
            expected = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, ValueError):
            return False
        return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    def handle(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
        if path != CREDENTIALS_PATH:
            return 404, "not found\n", TEXT
        if method != "GET":
            return 405, "method not allowed\n", TEXT
        # Re-read per request, so a rotated token applies at once.
        if token_file is not None and not authorized(headers.get("authorization", "")):
            return 401, "unauthorized\n", TEXT
        credentials = state.current()
        if credentials is None:
            return 503, "no unexpired credentials\n", TEXT
        return 200, json.dumps(credentials.document()), "application/json"

    return handle


def health_handler(state: State, refresher: Refresher) -> Handler:
    def handle(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
        if method != "GET":
            return 405, "method not allowed\n", TEXT
        if path == "/health":
            # An API outage keeps this at 200: restarting the pod would not help. A refresher
            # that died or hangs is another matter.
            if not refresher.is_alive():
                return 503, "refresher stopped\n", TEXT
            if refresher.stalled():
                return 503, "refresher stalled: an attempt is overdue\n", TEXT
            return 200, "OK\n", TEXT
        if path == "/ready":
            credentials = state.current()
            if credentials is None:
                return 503, "NOT READY: no unexpired credentials\n", TEXT
            return 200, f"READY (expires: {format_time(credentials.expiration)})\n", TEXT
        if path == STATUS_PATH:
            document = status_document(
                refresher.config, state.held(), refresher.attempts, now_utc()
            )
            return 200, json.dumps(document), "application/json"
        return 404, "not found\n", TEXT

    return handle


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        # Room for a burst of connections while the server thread is busy with one.
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_all_interfaces(port: int) -> socket.socket:
    """Dual-stack where the node has IPv6, IPv4 otherwise: the kubelet probes the pod IP."""
    try:
        return listen("::", port)
    except OSError:
        return listen("0.0.0.0", port)  # noqa: S104 - the probes come from the node


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
    if config.proxy:
        log(f"  Proxy: {config.proxy[0]}:{config.proxy[1]} (CONNECT)")
    log(f"  Credentials File: {config.credentials_file}")
    host, port = config.endpoint
    log(f"  Credentials Endpoint: http://{host}:{port}{CREDENTIALS_PATH}")
    if config.api_scheme == "http" and not is_loopback(config.api_host):
        log(
            "Warning: INSECURE_CEDANA_URL: the auth token crosses the network in clear;"
            " only for a stand-in API in tests",
            error=True,
        )

    state, stop = State(), threading.Event()
    first_delay = 0.0
    saved = read_credentials_file(config.credentials_file, now_utc())
    if saved is not None:
        state.set(saved)
        first_delay = refresh_delay(
            now_utc(),
            saved.expiration,
            config.refresh_interval,
            0.0,
            random.Random(),  # noqa: S311
        )
        log(
            f"Reusing unexpired credentials from {config.credentials_file}"
            f" (expires: {format_time(saved.expiration)}, bucket: {saved.bucket},"
            f" prefix: {saved.prefix})"
        )

    if config.until_credentials:
        # The init container: nothing to serve; it ends once credentials (and the target) are
        # written. A restart of the pod's containers finds them and ends at once.
        if saved is None or (config.target_file and not Path(config.target_file).exists()):
            Refresher(config, state, threading.Event(), 0.0).run()
        return 0

    # SIGTERM and SIGINT are blocked before any thread starts, so every thread inherits the mask
    # and the signals wait for sigwait below: no handler runs inside another thread's lock.
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    refresher = Refresher(config, state, stop, first_delay)
    try:
        listeners = [
            (listen(host, port), credentials_handler(state, config.token_file)),
            (listen_all_interfaces(config.health_port), health_handler(state, refresher)),
        ]
    except OSError as error:
        log(f"Cannot listen: {error}", error=True)
        return 1
    for listener, handler in listeners:
        server = Server(listener, handler, config.connection_timeout)
        threading.Thread(target=server.run, daemon=True).start()
    log(f"Health server listening on :{config.health_port}")
    refresher.start()

    received = signal.sigwait(signals)
    log(f"Received {signal.Signals(received).name}, shutting down")
    stop.set()
    for listener, _ in listeners:
        listener.close()
    log("Shutting down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
