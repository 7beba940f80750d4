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
from simulation.standins.cedana_api import FakeCedana, key_id
from simulation.support.loopback import leaves_the_machine, listening_addresses
from simulation.support.waiting import wait_until
from tests.support.sidecar import (
    AUTH_TOKEN,
    CLUSTER_ID,
    ENDPOINT_TOKEN,
    Launcher,
    Sidecar,
    ready,
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
    wait_until(lambda: "Credentials written successfully" in sidecar.output())
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
    wait_until(sidecar.credentials_file.exists)
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
        wait_until(lambda g=generation: sidecar.serves(g), what=f"generation {generation}")
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
    wait_until(lambda: sidecar.serves(2), what="recovery")
    assert "Credential refresh failed" in sidecar.output()


def test_expired_credentials_are_never_served_yet_the_sidecar_stays_healthy(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    api.lifetime = timedelta(seconds=3)
    sidecar = launch()
    ready(sidecar)
    api.mode = "500"
    wait_until(lambda: sidecar.credentials()[0] == 503, timeout=10, what="expiry")
    assert sidecar.health("/ready") == 503
    assert sidecar.health("/health") == 200


def test_a_restart_serves_unexpired_credentials_at_once_while_the_api_is_down(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    first = launch()
    ready(first)
    wait_until(first.credentials_file.exists)
    assert first.stop() == 0

    api.mode = "500"
    second = launch()
    wait_until(second.listening, what="the restarted sidecar")
    status, document = second.credentials()
    assert status == 200
    assert document["AccessKeyId"] == key_id(1)
    assert second.health("/ready") == 200
    wait_until(lambda: "Reusing unexpired credentials" in second.output())


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
    wait_until(sidecar.listening)
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


def test_the_endpoint_listens_on_loopback_only(launch: Callable[..., Sidecar]) -> None:
    sidecar = launch()
    ready(sidecar)
    assert listening_addresses(sidecar.endpoint_port) == {"127.0.0.1"}
    # The health port, unlike the endpoint, listens on every interface: the kubelet probes it.
    assert listening_addresses(sidecar.health_port) <= {"::", "0.0.0.0"}
    assert listening_addresses(sidecar.health_port)


def test_the_kernel_table_reader_sees_loopback_listeners() -> None:
    """The check above is only as good as its reader: it must tell loopback from any address."""
    with socket.socket() as v4:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        assert listening_addresses(v4.getsockname()[1]) == {"127.0.0.1"}
    with socket.socket(socket.AF_INET6) as v6:
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            v6.bind(("::1", 0))
        except OSError:
            return  # no IPv6 loopback on this machine
        v6.listen()
        assert listening_addresses(v6.getsockname()[1]) == {"::1"}


@pytest.mark.parametrize(
    ("address", "outside"),
    [
        ("127.0.0.1", False),
        ("127.4.5.6", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.10", True),
        ("203.0.113.80", True),
        ("::ffff:10.0.0.1", True),
        ("2001:db8::1", True),
    ],
)
def test_only_loopback_and_unset_peers_stay_on_the_machine(address: str, outside: bool) -> None:
    assert leaves_the_machine(address) is outside


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CREDENTIALS_ENDPOINT", "0.0.0.0:9099"),
        ("CREDENTIALS_ENDPOINT", "192.0.2.2:9099"),
        ("CREDENTIALS_ENDPOINT", "127.0.0.1:70000"),
        ("REFRESH_INTERVAL", "45 minutes"),
        ("MIN_REFRESH_DELAY", "soon"),
        ("HEALTH_PORT", "http"),
        ("HEALTH_PORT", "0"),
        ("CEDANA_URL", ""),
        # Plain http would send the auth token in clear to anything but this machine.
        ("CEDANA_URL", "http://api.cedana.example"),
        ("CEDANA_URL", "https://api.cedana.example/?cluster=1"),
        ("CEDANA_URL", "https://user:secret@api.cedana.example"),
        ("CEDANA_AUTH_TOKEN", ""),
        ("CLUSTER_ID", ""),
    ],
)
def test_a_bad_environment_stops_the_sidecar_naming_the_variable(
    launch: Callable[..., Sidecar], variable: str, value: str
) -> None:
    sidecar = launch(**{variable: value})
    assert sidecar.process.wait(timeout=10) == 2
    output = sidecar.output()
    assert variable in output
    assert "Traceback" not in output
    assert "secret" not in output  # a password in a URL is not echoed


GOOD_ENV = {
    "CEDANA_URL": "https://api.cedana.example",
    "CEDANA_AUTH_TOKEN": AUTH_TOKEN,
    "CLUSTER_ID": CLUSTER_ID,
}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CEDANA_URL", "http://10.0.0.1:8080"),
        ("CEDANA_URL", "http://127.0.0.1.example"),
        ("CEDANA_URL", "ftp://127.0.0.1/"),
        ("CEDANA_URL", "https://"),
        ("CEDANA_URL", "https:///v2"),
        ("CEDANA_URL", "https://api.cedana.example:99999"),
        ("CEDANA_URL", "https://api.cedana.example:https"),
        ("CEDANA_URL", "https://[::1"),
        ("CEDANA_URL", "https://api.cedana.example/#top"),
        ("CEDANA_URL", "https://api.cedana.example/?"),
        ("CEDANA_URL", "https://api.cedana.example/a b"),
        ("CEDANA_URL", "https://api.cedana.example/\nx"),
        ("CEDANA_URL", "api.cedana.example"),
        ("CEDANA_AUTH_TOKEN", "two words"),
        ("CREDENTIALS_ENDPOINT", "127.0.0.1"),
        ("CREDENTIALS_ENDPOINT", ":9099"),
        ("CREDENTIALS_ENDPOINT", "127.0.0.1:0"),
        ("CREDENTIALS_ENDPOINT", "127.0.0.1:-1"),
        ("CREDENTIALS_ENDPOINT", "127.0.0.1:http"),
        ("CREDENTIALS_ENDPOINT", "[::2]:9099"),
        ("CREDENTIALS_ENDPOINT", "localhost.example:9099"),
        ("HEALTH_PORT", "65536"),
        ("HEALTH_PORT", "\uff18\uff10\uff18\uff11"),  # fullwidth digits
        ("STALL_TIMEOUT", "0"),
        ("CONNECTION_TIMEOUT", "-1s"),
    ],
)
def test_each_unusable_setting_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(refresher.StartupError, match=variable):
        refresher.load_config({**GOOD_ENV, variable: value})


@pytest.mark.parametrize(
    "url",
    [
        "https://api.cedana.example",
        "https://api.cedana.example:8443/base/",
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://[::1]:8080",
        "http://localhost:8080",
    ],
)
def test_https_anywhere_and_plain_http_to_loopback_are_accepted(url: str) -> None:
    config = refresher.load_config({**GOOD_ENV, "CEDANA_URL": url})
    assert config.api_path.endswith("/v2/monitoring/credentials")
    assert AUTH_TOKEN not in repr(config)


def test_plain_http_elsewhere_needs_the_explicit_insecure_setting() -> None:
    """The end-to-end tests' stand-in API is plain http on another container."""
    env = {**GOOD_ENV, "CEDANA_URL": "http://172.18.0.3:8080"}
    with pytest.raises(refresher.StartupError, match="CEDANA_URL"):
        refresher.load_config(env)
    with pytest.raises(refresher.StartupError, match="INSECURE_CEDANA_URL"):
        refresher.load_config({**env, "INSECURE_CEDANA_URL": "yes"})
    config = refresher.load_config({**env, "INSECURE_CEDANA_URL": "true"})
    assert (config.api_scheme, config.api_host, config.api_port) == ("http", "172.18.0.3", 8080)


# --- Shutdown --------------------------------------------------------------------------------


@pytest.mark.parametrize("api_mode", ["ok", "hang"])
def test_sigterm_exits_cleanly_within_two_seconds(
    api: FakeCedana, launch: Callable[..., Sidecar], api_mode: str
) -> None:
    api.mode = api_mode
    sidecar = launch(REQUEST_TIMEOUT="30s")
    wait_until(sidecar.listening)
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
    wait_until(lambda: "Warning: Cedana issued credentials for bucket" in sidecar.output())
    assert "'another-bucket'" in sidecar.output()
