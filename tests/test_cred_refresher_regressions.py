"""Exact values the sidecar's users depend on: expirations in any time zone, the credentials
file and its atomic replacement, and API errors that echo the token (found by mutation testing).
"""

from __future__ import annotations

import random
import socket
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cred_refresher import cred_refresher as refresher
from simulation.standins.cedana_api import FakeCedana, key_id, secret_key, session_token
from simulation.support.waiting import wait_until
from tests.support.sidecar import AUTH_TOKEN, CLUSTER_ID, Launcher, ready

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana() as fake:
        yield fake


def config_for(api: FakeCedana, **overrides: str) -> refresher.Config:
    env = {
        "CEDANA_URL": api.url,
        "CEDANA_AUTH_TOKEN": AUTH_TOKEN,
        "CLUSTER_ID": CLUSTER_ID,
        "REQUEST_TIMEOUT": "2s",
        **overrides,
    }
    return refresher.Config(env)


def credentials(expiration: datetime = NOW + timedelta(hours=1)) -> refresher.Credentials:
    return refresher.Credentials(
        "ASIAKEY", "secret/key+1", "token==", expiration, "bucket-1", "org-1/v2", "eu-west-1"
    )


def api_answer(expiration: str, **extra: object) -> dict[str, object]:
    """A Cedana API answer with the given expiration (and any further fields)."""
    return {
        "access_key_id": "ASIAKEY",
        "secret_access_key": "secret",
        "session_token": "token",
        "expiration": expiration,
        **extra,
    }


# --- Time zones other than UTC ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-03-01T17:30:00+05:30", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T07:00:00-05:00", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T12:00:00.250z", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        (" 2026-03-01T12:00:00Z\n", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-02T00:15:00+12:15", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_expirations_in_any_time_zone_are_read_as_the_same_instant_in_utc(
    written: str, utc: datetime
) -> None:
    parsed = refresher.parse_time(written)
    assert parsed == utc
    assert parsed.utcoffset() == timedelta(0)
    assert refresher.format_time(parsed) == utc.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-01T12:00:00", "time without a zone: '2026-03-01T12:00:00'"),
        ("0001-01-01T00:00:00+05:00", "time out of range: '0001-01-01T00:00:00+05:00'"),
    ],
)
def test_expirations_without_a_zone_or_out_of_range_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        refresher.parse_time(text)
    assert str(caught.value) == message


def test_an_expiration_with_an_offset_is_written_and_served_in_utc() -> None:
    offset = timezone(timedelta(hours=-7))
    expiration = datetime(2026, 3, 1, 6, 0, 0, tzinfo=offset)
    assert refresher.format_time(expiration) == "2026-03-01T13:00:00Z"
    assert credentials(expiration).document() == {
        "AccessKeyId": "ASIAKEY",
        "SecretAccessKey": "secret/key+1",
        "Token": "token==",
        "Expiration": "2026-03-01T13:00:00Z",
    }


def test_the_lifetime_of_credentials_in_another_zone_counts_from_the_utc_instant() -> None:
    # 12:30 UTC: half an hour left, although the wall clock reads 18:00.
    data = api_answer("2026-03-01T18:00:00+05:30", bucket=" bucket-1 ", prefix="org-1/v2")
    parsed = refresher.credentials_from(data, NOW, None)
    assert parsed.expiration == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert (parsed.bucket, parsed.prefix, parsed.region) == ("bucket-1", "org-1/v2", "")
    # Half an hour left: the refresh comes at half the remaining lifetime, not after 45 minutes.
    assert refresher.next_refresh_delay(NOW, parsed.expiration, 45 * 60) == 15 * 60.0


def test_credentials_already_expired_in_another_zone_are_refused_with_both_clocks() -> None:
    # 11:59 UTC, one minute ago, although the wall clock reads 13:59.
    data = api_answer("2026-03-01T13:59:00+02:00")
    with pytest.raises(refresher.FetchError) as caught:
        refresher.credentials_from(data, NOW, "Sun, 01 Mar 2026 12:00:00 GMT")
    assert str(caught.value) == (
        "response credentials already expired at 2026-03-01T11:59:00Z"
        " (local time 2026-03-01T12:00:00Z, response Date: Sun, 01 Mar 2026 12:00:00 GMT)"
    )


def test_credentials_beyond_36_hours_are_refused() -> None:
    data = api_answer("2026-03-03T00:00:01Z")
    with pytest.raises(refresher.FetchError) as caught:
        refresher.credentials_from(data, NOW, None)
    assert str(caught.value) == (
        "response credentials expire at 2026-03-03T00:00:01Z, later than STS ever allows"
        " (36h; local time 2026-03-01T12:00:00Z, response Date: absent)"
    )
    data["expiration"] = "2026-03-03T00:00:00Z"
    assert refresher.credentials_from(data, NOW, None).expiration == datetime(
        2026, 3, 3, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("remaining", "interval", "delay"),
    [
        (timedelta(hours=2), 45 * 60.0, 45 * 60.0),  # the interval
        (timedelta(hours=1), 50 * 60.0, 45 * 60.0),  # 15 minutes before expiry
        (timedelta(minutes=20), 45 * 60.0, 10 * 60.0),  # half the remaining lifetime
        (timedelta(minutes=-5), 45 * 60.0, 0.0),  # never negative
    ],
)
def test_the_next_refresh_comes_before_expiry(
    remaining: timedelta, interval: float, delay: float
) -> None:
    assert refresher.next_refresh_delay(NOW, NOW + remaining, interval) == delay


def test_refreshes_after_success_are_jittered_by_ten_percent_and_never_below_the_floor() -> None:
    class Extremes(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def uniform(self, a: float, b: float) -> float:
            return a if self.value == 0 else b

    far = NOW + timedelta(hours=10)
    assert refresher.refresh_delay(NOW, far, 3000.0, 5.0, Extremes(0)) == 2700.0
    assert refresher.refresh_delay(NOW, far, 3000.0, 5.0, Extremes(1)) == pytest.approx(
        3300.0, abs=1e-9
    )
    assert refresher.refresh_delay(NOW, NOW, 3000.0, 5.0, Extremes(1)) == 5.0
    assert refresher.backoff_delay(3, 2.0, 300.0, Extremes(1)) == 16.0
    assert refresher.backoff_delay(3, 2.0, 300.0, Extremes(0)) == 8.0
    assert refresher.backoff_delay(40, 2.0, 300.0, Extremes(1)) == 300.0
    assert refresher.retry_delay(3, 2.0, 300.0, 5.0, 20.0, Extremes(1)) == 10.0
    assert refresher.retry_delay(3, 2.0, 300.0, 5.0, None, Extremes(1)) == 16.0
    assert refresher.retry_delay(3, 2.0, 300.0, 5.0, -1.0, Extremes(1)) == 16.0
    assert refresher.retry_delay(0, 2.0, 300.0, 5.0, 4.0, Extremes(1)) == 5.0


def test_the_sidecar_serves_an_expiration_written_with_an_offset_in_utc(
    tmp_path: Path, api: FakeCedana
) -> None:
    api.offset = timedelta(hours=5, minutes=30)
    launcher = Launcher(tmp_path, api)
    try:
        sidecar = launcher.start()
        ready(sidecar)
        assert api.last_expiration is not None
        expected = refresher.format_time(api.last_expiration)
        status, document = sidecar.credentials()
        assert (status, document) == (
            200,
            {
                "AccessKeyId": key_id(1),
                "SecretAccessKey": secret_key(1),
                "Token": session_token(1),
                "Expiration": expected,
            },
        )
        # The sidecar serves first and writes the file after: wait for the file.
        wait_until(sidecar.credentials_file.exists, what="the credentials file")
        assert f"# expiration: {expected}\n" in sidecar.credentials_file.read_text()
    finally:
        launcher.finish()


# --- The credentials file ---------------------------------------------------------------------


def test_the_credentials_file_holds_exactly_the_profile_and_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "aws-credentials"
    refresher.write_credentials_file(path, credentials())
    assert path.read_text() == (
        "# Written by cred-refresher; the comments let a restart reuse unexpired credentials.\n"
        "# expiration: 2026-03-01T13:00:00Z\n"
        "# bucket: bucket-1\n"
        "# prefix: org-1/v2\n"
        "# region: eu-west-1\n"
        "[default]\n"
        "aws_access_key_id = ASIAKEY\n"
        "aws_secret_access_key = secret/key+1\n"
        "aws_session_token = token==\n"
        "\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["aws-credentials"]


def test_the_credentials_file_is_replaced_atomically_by_a_rename(tmp_path: Path) -> None:
    path = tmp_path / "aws-credentials"
    path.write_text("old")
    path.chmod(0o644)
    reader = path.open()  # a reader that opened the old file keeps reading the old file
    before = path.stat().st_ino
    # A leftover temporary file from a crash, even world-readable, is reused with mode 0600.
    leftover = tmp_path / ".aws-credentials.tmp"
    leftover.write_text("x" * 4096)
    leftover.chmod(0o644)
    refresher.write_credentials_file(path, credentials())
    assert reader.read() == "old"
    reader.close()
    assert path.stat().st_ino != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aws-credentials"]
    assert refresher.read_credentials_file(path, NOW) is not None


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "aws-credentials"
    path.write_text("old")

    def fail(_: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(refresher.os, "fsync", fail)
    with pytest.raises(OSError, match="No space left on device"):
        refresher.write_credentials_file(path, credentials())
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aws-credentials"]


def test_a_failed_write_reports_its_own_error_even_if_the_cleanup_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_sync(_: int) -> None:
        raise OSError(5, "Input/output error")

    def fail_unlink(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(refresher.os, "fsync", fail_sync)
    monkeypatch.setattr(refresher.Path, "unlink", fail_unlink)
    with pytest.raises(OSError) as caught:
        refresher.write_credentials_file(tmp_path / "aws-credentials", credentials())
    assert (type(caught.value), caught.value.errno) == (OSError, 5)


def test_a_planted_symlink_as_the_temporary_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    (tmp_path / ".aws-credentials.tmp").symlink_to(target)
    with pytest.raises(OSError):
        refresher.write_credentials_file(tmp_path / "aws-credentials", credentials())
    assert target.read_text() == "untouched"
    assert not (tmp_path / "aws-credentials").exists()


def test_a_restart_reuses_exactly_the_credentials_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "aws-credentials"
    written = credentials(datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=1))))
    refresher.write_credentials_file(path, written)
    read = refresher.read_credentials_file(path, NOW)
    assert read is not None
    assert read.document() == written.document()
    assert (read.expiration, read.bucket, read.prefix, read.region) == (
        datetime(2026, 3, 1, 13, 0, tzinfo=UTC),
        "bucket-1",
        "org-1/v2",
        "eu-west-1",
    )
    assert refresher.read_credentials_file(path, NOW + timedelta(hours=1)) is None
    assert refresher.read_credentials_file(tmp_path / "missing", NOW) is None
    path.write_text("[default]\naws_access_key_id = A\n")
    assert refresher.read_credentials_file(path, NOW) is None


# --- API errors that echo the token -----------------------------------------------------------


def test_an_api_error_that_echoes_the_token_is_logged_redacted_on_one_line(
    api: FakeCedana,
) -> None:
    api.mode = "echo-error"
    with pytest.raises(refresher.FetchError) as caught:
        refresher.fetch_credentials(config_for(api), NOW)
    assert str(caught.value) == (
        "status 500, body (103 bytes): denied Bearer [REDACTED]\\n2026-01-01 INFO Credentials"
        " written successfully (forged)\\n"
    )
    assert api.requests[-1].headers["Authorization"] == f"Bearer {AUTH_TOKEN}"


def test_a_refused_token_names_the_secret_to_check(api: FakeCedana) -> None:
    api.mode = "401"
    with pytest.raises(refresher.FetchError) as caught:
        refresher.fetch_credentials(config_for(api), NOW)
    assert str(caught.value) == (
        'status 401, body (25 bytes): {"error": "unauthorized"}'
        "; check the cedana-credentials Secret (authToken, clusterId)"
    )


def test_a_good_answer_gives_the_credentials_and_the_request_carries_the_cluster(
    api: FakeCedana,
) -> None:
    got, date = refresher.fetch_credentials(config_for(api), datetime.now(UTC))
    request = api.requests[-1]
    assert (request.path, request.body) == (
        "/v2/monitoring/credentials",
        f'{{"cluster_id": "{CLUSTER_ID}"}}'.encode(),
    )
    assert request.headers["Authorization"] == f"Bearer {AUTH_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "cedana-cred-refresher"
    assert got.document()["AccessKeyId"] == key_id(1)
    assert (got.bucket, got.prefix, got.region) == ("cedana-metrics", api.prefix, "us-east-1")
    assert date is not None


@pytest.mark.parametrize(
    ("text", "secret", "limit", "shown"),
    [
        ("token abc in token abc", "abc", 100, "token [REDACTED] in token [REDACTED]"),
        ("line\nforged\r\x1b[31m\u00e9", "", 100, "line\\nforged\\r\\x1b[31m\\xe9"),
        ("x" * 101, "", 100, "x" * 100 + "..."),
        ("x" * 100, "", 100, "x" * 100),
        ("tilde ~ and space", "", 100, "tilde ~ and space"),
    ],
)
def test_text_from_the_api_is_masked_escaped_and_cut_for_one_log_line(
    text: str, secret: str, limit: int, shown: str
) -> None:
    assert refresher.excerpt(text, secret, limit) == shown


def test_a_connection_error_is_described_without_the_token() -> None:
    error = ConnectionRefusedError(111, f"refused for {AUTH_TOKEN}")
    assert refresher.describe(error, AUTH_TOKEN) == (
        "ConnectionRefusedError: [Errno 111] refused for [REDACTED]"
    )
    assert refresher.describe(ValueError(AUTH_TOKEN), AUTH_TOKEN) == "ValueError"


def test_a_file_outside_the_temporary_name_is_never_touched(tmp_path: Path) -> None:
    other = tmp_path / "aws-credentials.tmp"
    other.write_text("other")
    refresher.write_credentials_file(tmp_path / "aws-credentials", credentials())
    assert other.read_text() == "other"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aws-credentials", "aws-credentials.tmp"]


def test_a_backslash_from_the_api_is_shown_as_it_is() -> None:
    assert refresher.excerpt("C:\\path ~ end") == "C:\\path ~ end"


def test_a_bracketed_ipv6_endpoint_is_its_address() -> None:
    assert refresher.split_host_port("[::1]:9099") == ("::1", 9099)
    assert refresher.split_host_port("127.0.0.1:9099") == ("127.0.0.1", 9099)


def test_an_https_api_without_a_port_is_tunnelled_to_443() -> None:
    # The proxy only records the CONNECT line and hangs up: nothing leaves loopback.
    seen: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as proxy:

        def answer() -> None:
            conn, _ = proxy.accept()
            with conn:
                seen.append(conn.recv(4096).split(b"\r\n", 1)[0])

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        config = refresher.Config(
            {
                "CEDANA_URL": "https://api.cedana.example",
                "CEDANA_AUTH_TOKEN": AUTH_TOKEN,
                "CLUSTER_ID": CLUSTER_ID,
                "REQUEST_TIMEOUT": "2s",
                "HTTPS_PROXY": f"http://127.0.0.1:{proxy.getsockname()[1]}",
            }
        )
        with pytest.raises(refresher.FetchError):
            refresher.fetch_credentials(config, NOW)
        thread.join(timeout=10)
    assert [line.rsplit(b" ", 1)[0] for line in seen] == [b"CONNECT api.cedana.example:443"]


def test_a_redirect_is_refused_naming_where_the_token_may_go(api: FakeCedana) -> None:
    api.mode = "redirect"
    with pytest.raises(refresher.FetchError) as caught:
        refresher.fetch_credentials(config_for(api), NOW)
    assert str(caught.value).endswith("the auth token is only ever sent to CEDANA_URL")


def test_the_target_file_is_world_readable_and_a_failed_write_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = {"bucket": "b", "region": "us-east-1", "key_prefix": "org-1/"}
    path = tmp_path / "target.secrets"
    assert refresher.write_target_file(path, target)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    blocked = tmp_path / "blocked"
    (blocked / "target.secrets").mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(OSError):
        refresher.write_target_file(blocked / "target.secrets", target)
    assert sorted(p.name for p in blocked.iterdir()) == ["target.secrets"]
