"""The pipeline lab with the real Vector and Prometheus: loss, duplication and faults.

Runs when `vector` (0.56) and `prometheus` are installed, and is skipped otherwise with what to
install. One fault run (about twenty minutes: intervals shortened sixfold) feeds every test here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulation.lab.pipeline_lab import fault_run, missing_for_lab, steady_run

MISSING = missing_for_lab()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the lab needs " + "; ".join(MISSING))


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return fault_run(Path(tmp_path_factory.mktemp("lab")), agents=3, scale=6)


def test_every_sample_reaches_s3_exactly_once(faults: dict[str, Any]) -> None:
    assert faults["samples_served"] > 0
    for data_set in ("kube-state-metrics", "event-exporter", "cadvisor", "dcgm", "host"):
        assert faults["per_data_set"][data_set]["served"] > 0, data_set
    assert faults["duplicates"] == 0, (faults["per_data_set"], faults["duplicates_written_in"])
    assert faults["gaps"] == 0, faults["per_data_set"]


def test_credentials_rotate_without_a_gap(faults: dict[str, Any]) -> None:
    assert faults["credential_rotations"] >= 3
    assert faults["rotation_gap_seconds"] == 0


def test_an_s3_outage_and_a_403_lose_nothing(faults: dict[str, Any]) -> None:
    assert faults["lost_after_s3_outage"] == 0
    assert faults["dropped_on_403"] == 0
    assert faults["refused_writes"].get("AccessDenied", 0) > 0  # the 403s really happened


def test_the_lab_talks_to_nothing_but_loopback(faults: dict[str, Any]) -> None:
    assert faults["connections_off_the_machine"] == []


def test_killing_vector_or_cutting_agents_off_loses_nothing(faults: dict[str, Any]) -> None:
    assert faults["lost_after_vector_kill"] == 0
    assert faults["lost_when_agents_cut_off"] == 0


def test_objects_per_minute_do_not_grow_with_the_agents(tmp_path: Path) -> None:
    one = steady_run(tmp_path / "one", agents=1, scale=6, seconds=90)
    many = steady_run(tmp_path / "many", agents=8, scale=6, seconds=90)
    assert many["objects_per_minute"] <= max(5.0, one["objects_per_minute"] * 1.5)
    assert many["cedana_api_calls_per_hour"] <= one["cedana_api_calls_per_hour"] * 1.5
    assert many["duplicates"] == 0 and many["gaps"] == 0
    assert one["connections_off_the_machine"] == many["connections_off_the_machine"] == []


def test_vector_writes_where_cedanas_answer_says_and_follows_a_move(faults: dict[str, Any]) -> None:
    # Under the org prefix Cedana's answer names (the S3 front refuses any other key), then,
    # once Cedana moves the cluster, under the new one: nothing lost, nothing twice.
    by_prefix = faults["objects_by_prefix"]
    assert by_prefix.get("org-lab/v2/vector/data", 0) > 0
    assert by_prefix.get("org-lab-moved/v2/vector/data", 0) > 0
    assert by_prefix.get("other", 0) == 0
    assert faults["lost_when_cedana_moves"] == 0


def test_cedana_down_for_three_credential_lifetimes_loses_nothing(faults: dict[str, Any]) -> None:
    assert faults["lost_when_cedana_is_down"] == 0
    assert faults["collector_restarted_while_cedana_was_down"] is False
    # The refresher retries within 30 s while none are held; the lab measured 41 s to a write.
    back = faults["first_write_after_cedana_is_back_seconds"]
    assert back is not None and back <= 90
