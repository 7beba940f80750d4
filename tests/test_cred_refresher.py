"""The credential refresher, tested for real: its own process, a fake Cedana API, moto's S3."""

from __future__ import annotations

import configparser
import itertools
import json
import random
import re
import signal
import socket
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cred_refresher import cred_refresher as refresher
from simulation.cedana_api import FakeCedana, key_id
from tests.support.sidecar import (
    AUTH_TOKEN,
    CLUSTER_ID,
    ENDPOINT_TOKEN,
    Launcher,
    Sidecar,
    eventually,
    http_get,
    s3_client_through,
)


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana() as fake:
        yield fake


@pytest.fixture
def launch(tmp_path: Path, api: FakeCedana) -> Iterator[Callable[..., Sidecar]]:
    launcher = Launcher(tmp_path, api)
    yield launcher.start
    launcher.finish()


def ready(sidecar: Sidecar, generation: int = 1) -> None:
    eventually(lambda: sidecar.listening() and sidecar.serves(generation), what="credentials")


# --- The request, the document, the file -----------------------------------------------------


def test_the_refresher_asks_cedana_for_this_clusters_credentials(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    launch()
    assert api.wait_for_requests(1)
    request = api.requests[0]
    assert request.method == "POST"
    assert request.path == "/v2/monitoring/credentials"
    assert request.headers["Authorization"] == f"Bearer {AUTH_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"cluster_id": CLUSTER_ID}


def test_the_endpoint_serves_the_container_credentials_document(
    launch: Callable[..., Sidecar],
) -> None:
    sidecar = launch()
    ready(sidecar)
    status, document = sidecar.credentials()
    assert status == 200
    assert set(document) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    assert sidecar.health("/ready") == 200
    assert sidecar.health("/health") == 200


def test_the_original_startup_and_success_lines_are_logged(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    sidecar = launch()
    ready(sidecar)
    eventually(lambda: "Credentials written successfully" in sidecar.output())
    lines = sidecar.output().splitlines()
    assert lines[:4] == [
        "Starting credentials refresher",
        f"  Cedana URL: {api.url}",
        f"  Cluster ID: {CLUSTER_ID}",
        "  Refresh Interval: 45m",
    ]
    success = next(line for line in lines if "Credentials written successfully" in line)
    assert re.fullmatch(
        r"\[\S+Z\] Credentials written successfully \(expires: \S+Z,"
        r" bucket: cedana-metrics, prefix: org-1/v2/vector/data\)",
        success,
    )


def test_the_credentials_file_is_private_atomic_and_in_the_original_format(
    launch: Callable[..., Sidecar],
) -> None:
    sidecar = launch()
    ready(sidecar)
    eventually(sidecar.credentials_file.exists)
    mode = stat.S_IMODE(sidecar.credentials_file.stat().st_mode)
    assert mode == 0o600
    parser = configparser.ConfigParser()
    parser.read_string(sidecar.credentials_file.read_text())
    assert set(parser["default"]) == {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    }
    assert parser["default"]["aws_access_key_id"] == key_id(1)
    assert [p.name for p in sidecar.credentials_file.parent.iterdir()] == ["aws-credentials"]


# --- boto3 through the endpoint, across rotations --------------------------------------------


def test_boto3_keeps_writing_through_three_rotations(
    api: FakeCedana,
    launch: Callable[..., Sidecar],
    s3_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Credentials within ten minutes of expiry make the SDK fetch again before every call.
    api.lifetime = timedelta(minutes=5)
    sidecar = launch(REFRESH_INTERVAL="200ms")
    ready(sidecar)
    client = s3_client_through(sidecar, s3_server, monkeypatch)
    signed_with: list[str] = []

    def record_key(request: Any, **_: Any) -> None:
        credential = re.search(
            r"Credential=([A-Z0-9]+)/", request.headers["Authorization"].decode()
        )
        assert credential
        signed_with.append(credential.group(1))

    client.meta.events.register("before-send.s3.*", record_key)
    client.create_bucket(Bucket="metrics")
    for generation in (1, 2, 3, 4):
        api.generation = generation
        eventually(lambda g=generation: sidecar.serves(g), what=f"generation {generation}")
        client.put_object(Bucket="metrics", Key=f"vector/data/{generation}.json", Body=b"{}")
        assert signed_with[-1] == key_id(generation)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="metrics")["Contents"]]
    assert keys == [f"vector/data/{g}.json" for g in (1, 2, 3, 4)]


# --- Outages ---------------------------------------------------------------------------------

FAILURES = ["500", "401", "malformed", "incomplete", "hang"]


@pytest.mark.parametrize("failure", FAILURES)
def test_last_good_credentials_stay_served_while_the_api_fails_then_recover(
    api: FakeCedana, launch: Callable[..., Sidecar], failure: str
) -> None:
    sidecar = launch(REFRESH_INTERVAL="100ms", REQUEST_TIMEOUT="300ms")
    ready(sidecar)
    api.mode = failure
    first_failure = len(api.requests) + 1
    assert api.wait_for_requests(first_failure + 4)
    assert sidecar.serves(1)
    assert sidecar.health("/ready") == 200
    assert sidecar.health("/health") == 200

    if failure != "hang":
        times = [r.at for r in api.requests[first_failure - 1 : first_failure + 4]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # 100ms doubling to an 800ms cap, each scaled by a jitter in [0.5, 1].
        assert gaps[0] >= 0.04 and gaps[3] >= 0.35, gaps
        assert gaps[3] > gaps[0], gaps
        assert max(gaps) <= 0.8 + 0.5, gaps

    api.generation, api.mode = 2, "ok"
    api.release.set()
    eventually(lambda: sidecar.serves(2), what="recovery")
    assert "Credential refresh failed" in sidecar.output()


def test_expired_credentials_are_never_served_yet_the_sidecar_stays_healthy(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.lifetime = timedelta(seconds=3)
    sidecar = launch()
    ready(sidecar)
    api.mode = "500"
    eventually(lambda: sidecar.credentials()[0] == 503, timeout=10, what="expiry")
    assert sidecar.health("/ready") == 503
    assert sidecar.health("/health") == 200


def test_a_restart_serves_unexpired_credentials_at_once_while_the_api_is_down(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    first = launch()
    ready(first)
    eventually(first.credentials_file.exists)
    assert first.stop() == 0

    api.mode = "500"
    second = launch()
    eventually(second.listening, what="the restarted sidecar")
    status, document = second.credentials()
    assert status == 200
    assert document["AccessKeyId"] == key_id(1)
    assert second.health("/ready") == 200
    eventually(lambda: "Reusing unexpired credentials" in second.output())


def test_an_expired_file_is_not_reused(
    api: FakeCedana, launch: Callable[..., Sidecar], tmp_path: Path
) -> None:
    credentials_file = tmp_path / "credentials" / "aws-credentials"
    credentials_file.parent.mkdir()
    expired = datetime.now(UTC) - timedelta(minutes=1)
    refresher.write_credentials_file(
        credentials_file,
        refresher.Credentials("ASIAOLD", "old-secret", "old-token", expired, "b", "p", "r"),
    )
    api.mode = "500"
    sidecar = launch()
    eventually(sidecar.listening)
    assert api.wait_for_requests(1)
    assert sidecar.credentials()[0] == 503
    assert sidecar.health("/ready") == 503


# --- The endpoint is for Vector only ---------------------------------------------------------


def test_the_endpoint_refuses_a_missing_or_wrong_token(launch: Callable[..., Sidecar]) -> None:
    sidecar = launch()
    ready(sidecar)
    assert sidecar.credentials(token=None)[0] == 401
    assert sidecar.credentials(token="not-the-token")[0] == 401
    assert sidecar.credentials(token=ENDPOINT_TOKEN)[0] == 200
    sidecar.token_file.write_text("rotated-token")
    assert sidecar.credentials(token=ENDPOINT_TOKEN)[0] == 401
    assert sidecar.credentials(token="rotated-token")[0] == 200


def non_loopback_addresses() -> set[str]:
    """This machine's IPv4 addresses other than loopback (a UDP connect sends no packet)."""
    found = set()
    for target in ("10.255.255.255", "172.31.255.255", "192.168.255.255"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
            except OSError:
                continue
            found.add(probe.getsockname()[0])
    return {a for a in found if not a.startswith("127.")}


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on the port, from /proc/net/tcp."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if int(local_port, 16) == port and state == "0A":
            addresses.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return addresses


def test_the_endpoint_listens_on_loopback_only(launch: Callable[..., Sidecar]) -> None:
    sidecar = launch()
    ready(sidecar)
    assert listening_addresses(sidecar.endpoint_port) == {"127.0.0.1"}
    for address in non_loopback_addresses():
        with pytest.raises(OSError):
            socket.create_connection((address, sidecar.endpoint_port), timeout=2).close()
        # The health port, unlike the endpoint, answers on every interface.
        assert http_get(f"http://{address}:{sidecar.health_port}/health")[0] == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CREDENTIALS_ENDPOINT", "0.0.0.0:9099"),
        ("CREDENTIALS_ENDPOINT", "192.0.2.2:9099"),
        ("REFRESH_INTERVAL", "45 minutes"),
        ("HEALTH_PORT", "http"),
        ("CEDANA_URL", ""),
        ("CEDANA_AUTH_TOKEN", ""),
        ("CLUSTER_ID", ""),
    ],
)
def test_a_bad_environment_stops_the_sidecar_naming_the_variable(
    launch: Callable[..., Sidecar], variable: str, value: str
) -> None:
    sidecar = launch(**{variable: value})
    assert sidecar.process.wait(timeout=10) != 0
    assert variable in sidecar.output()


# --- Shutdown --------------------------------------------------------------------------------


@pytest.mark.parametrize("api_mode", ["ok", "hang"])
def test_sigterm_exits_cleanly_within_two_seconds(
    api: FakeCedana, launch: Callable[..., Sidecar], api_mode: str
) -> None:
    api.mode = api_mode
    sidecar = launch(REQUEST_TIMEOUT="30s")
    eventually(sidecar.listening)
    assert api.wait_for_requests(1)
    started = time.monotonic()
    sidecar.process.send_signal(signal.SIGTERM)
    assert sidecar.process.wait(timeout=5) == 0
    assert time.monotonic() - started < 2.0


# --- Pure helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45m", 2700), ("30s", 30), ("1h30m", 5400), ("1.5s", 1.5), ("500ms", 0.5), ("2h", 7200)],
)
def test_go_durations_parse(text: str, seconds: float) -> None:
    assert refresher.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["45", "45 minutes", "m", "", "1d", "-5m"])
def test_malformed_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        refresher.parse_duration(text)


def test_refresh_happens_on_the_interval_or_before_expiry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    hour = now + timedelta(hours=1)
    assert refresher.next_refresh_delay(now, hour, 45 * 60) == 45 * 60
    assert refresher.next_refresh_delay(now, hour, 2 * 3600) == 45 * 60  # 15 min early
    assert refresher.next_refresh_delay(now, now + timedelta(seconds=10), 3600) == 5
    assert refresher.next_refresh_delay(now, now - timedelta(seconds=1), 3600) == 0


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, nominal in enumerate([2, 4, 8, 16, 32, 64, 128, 256, 300, 300]):
        delay = refresher.backoff_delay(attempt, 2, 300, rng)
        assert nominal * 0.5 <= delay <= nominal
    assert refresher.backoff_delay(10_000, 2, 300, rng) <= 300


def test_only_complete_responses_are_accepted() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    good = {
        "access_key_id": "ASIA1",
        "secret_access_key": "s",
        "session_token": "t",
        "expiration": "2026-01-01T01:00:00.123+00:00",
        "bucket": "b",
    }
    parsed = refresher.parse_response(json.dumps(good).encode(), now)
    assert parsed.expiration == datetime(2026, 1, 1, 1, 0, 0, 123000, tzinfo=UTC)
    for field in ("access_key_id", "secret_access_key", "session_token", "expiration"):
        broken = {k: v for k, v in good.items() if k != field}
        with pytest.raises(refresher.FetchError, match=field):
            refresher.parse_response(json.dumps(broken).encode(), now)
    with pytest.raises(refresher.FetchError, match="JSON"):
        refresher.parse_response(b"<html>", now)
    with pytest.raises(refresher.FetchError, match="expired"):
        refresher.parse_response(
            json.dumps({**good, "expiration": "2025-12-31T23:00:00Z"}).encode(), now
        )
    assert "ASIA1" not in repr(parsed) and "'s'" not in repr(parsed)


def test_the_bucket_mismatch_warning(api: FakeCedana, launch: Callable[..., Sidecar]) -> None:
    sidecar = launch(S3_BUCKET="another-bucket")
    ready(sidecar)
    eventually(lambda: "Warning: Cedana issued credentials for bucket" in sidecar.output())
    assert "'another-bucket'" in sidecar.output()
