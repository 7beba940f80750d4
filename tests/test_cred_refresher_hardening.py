"""The credential refresher against a hostile or broken world: its own process, a fake API.

Redirects, answers that are not HTTP or not sane, slow servers, clocks that disagree, files that
cannot be written, idle connections, and bodies that try to forge log lines.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cred_refresher import cred_refresher as refresher
from simulation.standins.cedana_api import FakeCedana, key_id
from simulation.support.waiting import wait_until
from tests.support.sidecar import AUTH_TOKEN, Launcher, Sidecar, ready


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana() as fake:
        yield fake


@pytest.fixture
def launch(tmp_path: Path, api: FakeCedana) -> Iterator[Callable[..., Sidecar]]:
    launcher = Launcher(tmp_path, api)
    yield launcher.start
    launcher.finish()


def failures(sidecar: Sidecar) -> list[str]:
    return sidecar.lines("Credential refresh failed")


def gaps(api: FakeCedana, first: int, count: int) -> list[float]:
    times = [r.at for r in api.requests[first : first + count]]
    return [b - a for a, b in itertools.pairwise(times)]


# --- The auth token goes to CEDANA_URL and nowhere else --------------------------------------


def test_the_auth_token_never_follows_a_redirect(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    with FakeCedana() as elsewhere:
        api.mode = "redirect"
        api.redirect_to = f"{elsewhere.url}/collect?from=redirect"
        sidecar = launch()
        assert api.wait_for_requests(3)  # the first call and two retries
        wait_until(lambda: len(failures(sidecar)) >= 2, what="two failed refreshes")
        assert not any("Authorization" in r.headers for r in elsewhere.requests)
        assert elsewhere.requests == []
    line = failures(sidecar)[0]
    assert "status 302" in line
    assert "redirect to host 127.0.0.1;" in line
    # The Location's host only: not its port, path or query.
    assert str(elsewhere.server.server_address[1]) not in sidecar.output()
    assert "/collect" not in sidecar.output()
    assert sidecar.health("/health") == 200


# --- No answer ends the refresh loop ---------------------------------------------------------

HOSTILE = [
    "garbage",  # not HTTP: http.client.BadStatusLine
    "broken-chunked",  # http.client.IncompleteRead
    "nested-json",  # RecursionError in the JSON parser
    "huge",  # over 64 KiB
    "far-future",  # OverflowError converting to UTC
    "far-past",  # OverflowError the other way
    "year-9999",  # longer than STS ever issues
    "non-string",  # a number as the bucket
    "newline-token",  # a session token that would add lines to the INI file
    "redirect",
    "trickle",  # a byte at a time: the request deadline
    "echo-error",
]


@pytest.mark.parametrize("answer", HOSTILE)
def test_the_refresh_loop_survives_a_hostile_answer(
    api: FakeCedana, launch: Callable[..., Sidecar], answer: str
) -> None:
    sidecar = launch(
        REFRESH_INTERVAL="100ms",
        REQUEST_TIMEOUT="300ms",
        RETRY_INITIAL_DELAY="50ms",
        RETRY_MAX_DELAY="200ms",
    )
    ready(sidecar)
    api.mode, api.generation = answer, 2
    wait_until(lambda: len(failures(sidecar)) >= 3, what="three failed refreshes")
    assert sidecar.process.poll() is None
    assert sidecar.health("/health") == 200
    assert sidecar.serves(1)

    api.mode = "ok"
    wait_until(lambda: sidecar.serves(2), what="recovery")


# --- One request, one deadline; /health notices a stuck refresher ----------------------------


def test_a_trickling_answer_fails_within_the_request_timeout(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.mode = "trickle"
    sidecar = launch(REQUEST_TIMEOUT="1s")
    assert api.wait_for_requests(1)
    arrived = api.requests[0].at
    wait_until(lambda: bool(failures(sidecar)), timeout=5, what="the request deadline")
    assert time.monotonic() - arrived < 2.0
    assert "no complete answer within REQUEST_TIMEOUT (1s)" in failures(sidecar)[0]
    assert api.wait_for_requests(2)  # and it tries again


def test_health_fails_while_a_refresh_is_stuck_then_recovers(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    # REQUEST_TIMEOUT far beyond STALL_TIMEOUT stands in for a refresher stuck for any reason.
    sidecar = launch(REFRESH_INTERVAL="300ms", REQUEST_TIMEOUT="30s", STALL_TIMEOUT="1s")
    ready(sidecar)
    assert sidecar.health("/health") == 200
    api.mode = "hang"
    stuck = len(api.requests) + 1
    assert api.wait_for_requests(stuck)
    wait_until(lambda: sidecar.health("/health") == 503, timeout=5, what="a stall reported")
    assert sidecar.serves(1)  # the held credentials are still served meanwhile

    api.mode, api.generation = "ok", 2
    api.release.set()  # the hung request ends without an answer; the retry succeeds
    wait_until(lambda: sidecar.serves(2), timeout=5, what="recovery")
    assert sidecar.health("/health") == 200


# --- The schedule: a floor, jitter, retries before expiry ------------------------------------


def test_credentials_that_expire_at_once_do_not_make_it_hammer_the_api(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.lifetime = timedelta(seconds=1)
    sidecar = launch(MIN_REFRESH_DELAY="1s")
    assert api.wait_for_requests(3, timeout=10)
    assert min(gaps(api, 0, 3)) >= 0.95, gaps(api, 0, 3)
    warnings = sidecar.lines("Warning: Cedana issued credentials that expire in")
    assert len(warnings) == 1, warnings  # once per streak, not once per call
    assert re.search(r"local time \d{4}-\d\d-\d\dT[\d:]{8}Z", warnings[0])
    assert re.search(r"response Date: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT", warnings[0])


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_delay_between_calls_never_goes_below_the_floor() -> None:
    rng = random.Random(1)
    assert refresher.refresh_delay(NOW, NOW + timedelta(seconds=1), 2700, 5, rng) == 5
    assert refresher.refresh_delay(NOW, NOW - timedelta(hours=1), 2700, 5, rng) == 5
    assert refresher.retry_delay(0, 0.1, 1, 5, None, rng) == 5
    assert refresher.retry_delay(0, 0.1, 1, 5, 0.5, rng) == 5


def test_the_refresh_interval_is_jittered_by_up_to_ten_percent() -> None:
    rng = random.Random(2)
    later = NOW + timedelta(hours=12)
    delays = [refresher.refresh_delay(NOW, later, 2700, 5, rng) for _ in range(2000)]
    assert all(2430 <= d <= 2970 for d in delays)
    assert min(delays) < 2450 and max(delays) > 2950  # spread over the whole band
    # Near expiry, expiry wins over the jittered interval (20 minutes left: half of them).
    assert refresher.refresh_delay(NOW, NOW + timedelta(minutes=20), 2700, 5, rng) == 600


def test_retries_come_before_the_held_credentials_expire() -> None:
    rng = random.Random(3)
    # The backoff alone would reach 5 minutes; credentials held for 60 s more cap it at 30 s.
    for attempt in range(12):
        assert 5 <= refresher.retry_delay(attempt, 2, 300, 5, 60, rng) <= 30
    # None held, or expired: nothing reaches S3, so retries come within 30 s (jittered).
    for attempt in range(12, 20):
        assert 15 <= refresher.retry_delay(attempt, 2, 300, 5, None, rng) <= 30
        assert 15 <= refresher.retry_delay(attempt, 2, 300, 5, -10, rng) <= 30


# --- Serve first; the file is secondary ------------------------------------------------------


def test_credentials_are_served_even_when_the_file_cannot_be_written(
    api: FakeCedana, launch: Callable[..., Sidecar], tmp_path: Path
) -> None:
    # A directory that cannot be created: its would-be parent is a file. (The tests may run as
    # root, which a read-only mode would not stop.)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    sidecar = launch(CREDENTIALS_FILE=str(blocker / "aws-credentials"), REFRESH_INTERVAL="1s")
    ready(sidecar)
    assert sidecar.health("/ready") == 200
    assert api.wait_for_requests(3, timeout=10)
    # On the refresh schedule (1s ± 10 %), not in a retry loop because of the file.
    assert min(gaps(api, 0, 3)) >= 0.85, gaps(api, 0, 3)
    wait_until(lambda: len(sidecar.lines("Credentials refreshed, not written")) >= 2)
    assert len(sidecar.lines("Warning: cannot write")) == 1  # once per streak
    assert sidecar.lines("Credential refresh failed") == []


# --- Idle connections ------------------------------------------------------------------------


def test_idle_connections_neither_pile_up_threads_nor_hold_off_the_probes(
    launch: Callable[..., Sidecar],
) -> None:
    sidecar = launch(CONNECTION_TIMEOUT="1s")
    ready(sidecar)
    idle: list[socket.socket] = []
    try:
        for port, count in ((sidecar.health_port, 100), (sidecar.endpoint_port, 30)):
            for _ in range(count):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        started = time.monotonic()
        assert sidecar.health("/health") == 200
        assert sidecar.credentials()[0] == 200
        assert time.monotonic() - started < 2.0
        # The main thread, the refresher and one per port.
        assert sidecar.threads() <= 6
        # And the sidecar hangs up on a connection that sends nothing.
        newest = idle[-1]
        newest.settimeout(5)
        assert newest.recv(1) == b""
    finally:
        for connection in idle:
            connection.close()


# --- Log hygiene and the credentials file ----------------------------------------------------


def test_an_error_body_cannot_forge_a_log_line_or_print_the_token(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.mode = "echo-error"
    sidecar = launch()
    wait_until(lambda: bool(failures(sidecar)), what="a failed refresh")
    output = sidecar.output()
    assert AUTH_TOKEN not in output
    assert not any(line.startswith("2026-01-01") for line in output.splitlines())
    for line in sidecar.lines("Credentials written successfully"):
        assert "Credential refresh failed" in line  # only inside the escaped excerpt
    line = failures(sidecar)[0]
    assert "status 500, body (" in line
    assert "bytes): denied Bearer [REDACTED]\\n2026-01-01 INFO" in line


def test_a_401_points_at_the_cedana_credentials_secret(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.mode = "401"
    sidecar = launch()
    wait_until(lambda: bool(failures(sidecar)), what="a failed refresh")
    line = failures(sidecar)[0]
    assert "status 401" in line
    assert "check the cedana-credentials Secret (authToken, clusterId)" in line


def test_a_session_token_that_would_add_lines_to_the_file_is_refused(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    sidecar = launch(REFRESH_INTERVAL="200ms")
    ready(sidecar)
    wait_until(sidecar.credentials_file.exists)
    api.mode, api.generation = "newline-token", 2
    wait_until(lambda: bool(failures(sidecar)), what="a refused answer")
    assert "session_token contains spaces or control characters" in failures(sidecar)[0]
    assert sidecar.serves(1)
    written = sidecar.credentials_file.read_text()
    assert "ASIAINJECTED" not in written
    assert key_id(2) not in written
    assert written.count("[default]") == 1


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-01T01:00:00Z",
        "2026-01-01T01:00:00.000Z",
        "2026-01-01T01:00:00.000000000Z",
        "2026-01-01T03:00:00+02:00",
        "2025-12-31T20:00:00-05:00",
        "2026-01-01T06:30:00.000+05:30",
    ],
)
def test_expirations_in_any_offset_are_read_as_utc(written: str) -> None:
    assert refresher.parse_time(written) == datetime(2026, 1, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("hours", [2, -5])
def test_the_served_expiration_is_utc_whatever_offset_the_api_writes(
    api: FakeCedana, launch: Callable[..., Sidecar], hours: int
) -> None:
    api.offset = timedelta(hours=hours)
    sidecar = launch()
    ready(sidecar)
    assert api.last_expiration is not None
    assert sidecar.credentials()[1]["Expiration"] == refresher.format_time(api.last_expiration)


def test_log_excerpts_are_one_printable_line_without_the_token() -> None:
    text = f"x {AUTH_TOKEN}\n2026-01-01 INFO forged\r\x1b[31m\u2028é" + "a" * 200
    line = refresher.excerpt(text, AUTH_TOKEN)
    assert AUTH_TOKEN not in line
    assert line.startswith("x [REDACTED]\\n2026-01-01 INFO forged\\r\\x1b[31m\\u2028\\xe9a")
    assert all(" " <= c <= "~" for c in line)
    assert len(line) <= 103


def test_response_fields_must_be_plain_single_line_strings() -> None:
    good = {
        "access_key_id": "ASIA1",
        "secret_access_key": "s/+1",
        "session_token": "t=",
        "expiration": "2026-01-01T01:00:00Z",
        "bucket": "b",
        "prefix": "org-1/v2/vector/data",
        "region": "us-east-1",
    }
    assert refresher.parse_response(json.dumps(good).encode(), NOW).prefix == (
        "org-1/v2/vector/data"
    )
    for field, value in [
        ("session_token", "t\n[default]\n"),
        ("access_key_id", "AS IA"),
        ("secret_access_key", "s\x00"),
        ("expiration", "2026-01-01T01:00:00Z\n"),
        ("bucket", 42),
        ("prefix", "org-1\n# expiration: 2099-01-01T00:00:00Z"),
        ("region", ["us-east-1"]),
    ]:
        body = json.dumps({**good, field: value}).encode()
        with pytest.raises(refresher.FetchError, match=field):
            refresher.parse_response(body, NOW)


# --- Vector's key prefix against the issued prefix --------------------------------------------


def test_a_key_prefix_outside_the_issued_prefix_is_warned_once_per_prefix(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    sidecar = launch(KEY_PREFIX="vector/data/", REFRESH_INTERVAL="200ms")
    wait_until(lambda: len(sidecar.lines("Credentials written successfully")) >= 3)
    warnings = sidecar.lines("KEY_PREFIX")
    assert len(warnings) == 1, warnings
    assert "under 'org-1/v2/vector/data'/" in warnings[0]
    assert "KEY_PREFIX 'vector/data/'" in warnings[0]
    assert "403" in warnings[0]

    api.prefix = "org-2/v2/vector/data"
    wait_until(lambda: len(sidecar.lines("KEY_PREFIX")) == 2, what="a warning for the new prefix")


def test_which_key_prefixes_the_issued_prefix_covers() -> None:
    assert refresher.covers("org-1/v2/vector/data", "org-1/v2/vector/data/")
    assert refresher.covers("org-1/v2/vector/data/", "org-1/v2/vector/data/")
    assert refresher.covers("org-1/v2/vector/data", "org-1/v2/vector/data/2026/")
    assert refresher.covers("org-1/v2/vector/data", "org-1/v2/vector/data")
    assert refresher.covers("", "vector/data/")
    assert not refresher.covers("org-1/v2/vector/data", "vector/data/")
    assert not refresher.covers("org-1/v2/vector/data", "org-1/v2/vector/data-old/")
    assert not refresher.covers("org-1/v2/vector/data", "org-1/v2/")
