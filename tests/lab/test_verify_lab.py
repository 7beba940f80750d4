"""`scripts/verify`'s data-path checks against the lab's real Vector, Prometheus and refresher:
the metric names, log lines and queries it relies on, healthy and under each fault the lab can
play (a 403 from S3, S3 out of reach, Cedana failing). Runs where `vector` and `prometheus`
exist (about ten minutes), skipped otherwise with what to install."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.lab.pipeline_lab import Lab
from simulation.lab.pipeline_lab import missing_for_lab as missing_binaries
from verify.verdict import Verdict

MISSING = missing_binaries()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the lab needs " + "; ".join(MISSING))
DATA_PATH = ("s3-writes", "credentials", "buffers", "remote-write")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    running = Lab(Path(tmp_path_factory.mktemp("verify-lab")), agents=2, scale=6)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def until(
    lab: Lab, check: str, ok: bool, timeout: float = 300.0, written_after: float | None = None
) -> Verdict:
    """Polls verify's probe (Prometheus scrapes every 30 s: nothing to await) until the check
    says `ok` — and, with `written_after`, reports a write to S3 after that time — within
    `timeout`."""

    def done(verdict: Verdict) -> bool:
        if verdict.ok != ok:
            return False
        last = verdict.details.get("last_write")
        return written_after is None or (last is not None and last > written_after)

    deadline = time.monotonic() + timeout
    verdict = lab.verify()[check]
    while not done(verdict) and time.monotonic() < deadline:
        time.sleep(5)
        verdict = lab.verify()[check]
    assert done(verdict), (verdict.line, verdict.fix, verdict.details)
    return verdict


def test_a_healthy_lab_is_all_ticks(lab: Lab) -> None:
    for check in DATA_PATH:
        verdict = until(lab, check, True)
        assert verdict.fix is None, verdict
    lines = {name: v.line for name, v in lab.verify().items()}
    assert lines["s3-writes"].startswith("S3 writes: last at "), lines
    assert "no errors since" in lines["s3-writes"] or "none lost" in lines["s3-writes"], lines
    assert lines["credentials"].startswith("credentials: cedana, expire "), lines
    assert "agents at most" in lines["buffers"] and "collector " in lines["buffers"], lines


def test_a_403_from_s3_is_a_cross_then_recovers(lab: Lab) -> None:
    until(lab, "s3-writes", True)
    lab.s3.mode = "forbidden"
    try:
        verdict = until(lab, "s3-writes", False)
        assert "S3 answers with an error status" in verdict.line, verdict.line
        assert "retr" in verdict.line  # Vector's retries were read from its log
    finally:
        lab.s3.mode = "pass"
        restored = time.time()
    until(lab, "s3-writes", True, written_after=restored)


def test_s3_out_of_reach_is_a_cross_then_recovers(lab: Lab) -> None:
    until(lab, "s3-writes", True, written_after=time.time() - 60)
    lab.s3.stop()
    try:
        verdict = until(lab, "s3-writes", False)
        assert "cannot be reached from the collector" in verdict.line, verdict.line
    finally:
        lab.s3.start()
        restored = time.time()
    until(lab, "s3-writes", True, written_after=restored)


def test_cedana_failing_is_a_credentials_cross(lab: Lab) -> None:
    until(lab, "credentials", True)
    lab.cedana.mode = "500"
    try:
        verdict = until(lab, "credentials", False, timeout=240)
        assert "refresh failing" in verdict.line and "status 500" in verdict.line, verdict.line
    finally:
        lab.cedana.mode = "ok"
    until(lab, "credentials", True, timeout=240)
