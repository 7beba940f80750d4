"""The refresher's /status, which `scripts/verify` reads through the API server: the expiry,
the last refresh and the last error, the bucket and prefix Cedana issued and whether they fit
the stack — from the real process against a fake Cedana, and never a secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cred_refresher import cred_refresher as refresher
from simulation.standins.cedana_api import FakeCedana
from simulation.support.ports import free_port
from simulation.support.waiting import wait_until
from tests.support.sidecar import (
    AUTH_TOKEN,
    CLUSTER_ID,
    ENDPOINT_TOKEN,
    Launcher,
    Sidecar,
    http_get,
    ready,
)

FIELDS = {
    "now",
    "ready",
    "expiration",
    "last_attempt",
    "last_success",
    "last_error",
    "last_error_at",
    "consecutive_failures",
    "bucket",
    "prefix",
    "region",
    "target",
    "configured_bucket",
    "bucket_matches",
    "key_prefix",
    "prefix_covers_key_prefix",
    "cedana_url",
}


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana() as fake:
        yield fake


@pytest.fixture
def launch(tmp_path: Path, api: FakeCedana) -> Iterator[Callable[..., Sidecar]]:
    launcher = Launcher(tmp_path, api)
    yield launcher.start
    launcher.finish()


def status_of(sidecar: Sidecar) -> dict[str, object]:
    code, document = sidecar.status()
    assert code == 200
    assert set(document) == FIELDS
    return document


def test_a_healthy_refresher_reports_expiry_last_refresh_and_what_cedana_issued(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    sidecar = launch(KEY_PREFIX="org-1/v2/vector/data/")
    ready(sidecar)
    document = status_of(sidecar)
    _, served = sidecar.credentials()
    assert document["ready"] is True
    assert document["expiration"] == served["Expiration"]
    assert document["last_success"] == document["last_attempt"]
    assert document["last_success"] is not None
    assert document["last_error"] is None and document["consecutive_failures"] == 0
    assert (document["bucket"], document["prefix"], document["region"]) == (
        "cedana-metrics",
        "org-1/v2/vector/data",
        "us-east-1",
    )
    assert document["configured_bucket"] == "cedana-metrics"
    assert document["bucket_matches"] is True
    assert document["prefix_covers_key_prefix"] is True
    assert document["cedana_url"] == api.url
    now = refresher.parse_time(str(document["now"]))
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60
    # Everything verify needs, and nothing it must not see.
    text = json.dumps(document)
    for secret in {AUTH_TOKEN, ENDPOINT_TOKEN, CLUSTER_ID, *api.issued}:
        assert secret not in text


def test_a_key_prefix_outside_cedanas_prefix_and_another_bucket_are_reported(
    launch: Callable[..., Sidecar],
) -> None:
    sidecar = launch(KEY_PREFIX="vector/data/", S3_BUCKET="another-bucket")
    ready(sidecar)
    document = status_of(sidecar)
    assert document["prefix_covers_key_prefix"] is False
    assert document["bucket_matches"] is False
    assert document["configured_bucket"] == "another-bucket"
    assert document["key_prefix"] == "vector/data/"


def test_a_failing_api_shows_in_the_last_error_while_the_credentials_still_count_down(
    api: FakeCedana, launch: Callable[..., Sidecar]
) -> None:
    sidecar = launch(REFRESH_INTERVAL="100ms")
    ready(sidecar)
    first = status_of(sidecar)
    api.mode = "401"
    wait_until(
        lambda: int(status_of(sidecar)["consecutive_failures"]) >= 2,  # type: ignore[call-overload]
        what="failures",
    )
    document = status_of(sidecar)
    assert document["ready"] is True  # the last good credentials are still served
    assert document["expiration"] == first["expiration"]
    assert str(document["last_error"]).startswith("status 401")
    assert document["last_error_at"] == document["last_attempt"]
    assert str(document["last_success"]) <= str(document["last_error_at"])
    assert AUTH_TOKEN not in json.dumps(document)


def test_unreachable_cedana_before_any_success_is_not_ready_and_says_why(
    launch: Callable[..., Sidecar],
) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    sidecar = launch(CEDANA_URL=nothing_listens)
    # Both listeners are bound together, before the servers start.
    wait_until(sidecar.listening, what="the listeners")
    wait_until(lambda: status_of(sidecar)["last_error"] is not None, what="a failed attempt")
    document = status_of(sidecar)
    assert document["ready"] is False
    assert document["expiration"] is None and document["last_success"] is None
    assert document["bucket"] is None and document["bucket_matches"] is None
    assert document["prefix_covers_key_prefix"] is None
    assert str(document["last_error"]).startswith("request failed: ConnectionRefusedError")
    assert document["cedana_url"] == nothing_listens


def test_status_answers_reads_only(launch: Callable[..., Sidecar]) -> None:
    sidecar = launch()
    ready(sidecar)
    assert http_get(f"http://127.0.0.1:{sidecar.health_port}/status?verbose=1")[0] == 200
    request = urllib.request.Request(
        f"http://127.0.0.1:{sidecar.health_port}/status", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405


def test_attempts_keep_the_last_failure_and_count_failures_in_a_row() -> None:
    at = [datetime(2026, 11, 25, 10, minute, tzinfo=UTC) for minute in range(3)]
    failed = refresher.Attempts().failed(at[0], "timed out").failed(at[1], "status 500")
    assert (failed.failures, failed.last_error, failed.last_success) == (2, "status 500", None)
    recovered = failed.succeeded(at[2])
    assert (recovered.failures, recovered.last_success, recovered.last_attempt) == (0, at[2], at[2])
    assert (recovered.last_error, recovered.last_error_at) == ("status 500", at[1])
    config = refresher.Config(
        {"CEDANA_URL": "https://api.cedana.ai", "CEDANA_AUTH_TOKEN": "t", "CLUSTER_ID": "c"}
    )
    document = refresher.status_document(config, None, recovered, at[2])
    assert document["now"] == "2026-11-25T10:02:00Z"
    assert document["ready"] is False and document["bucket_matches"] is None
