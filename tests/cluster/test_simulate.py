"""The real Pulumi CLI on a simulated cluster (real control plane, kwok nodes, real scheduler).

Runs when the control plane, kwok, the Pulumi CLI with the Kubernetes provider and the pinned
charts are present, and is skipped otherwise with what to install. One run at 50 nodes feeds
every test here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulation.simcluster.simulated_cluster import missing_for_simulation, simulate

MISSING = missing_for_simulation()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the simulation needs " + "; ".join(MISSING))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return simulate(Path(tmp_path_factory.mktemp("simulate")), 50)


def test_a_second_up_changes_nothing(run: dict[str, Any]) -> None:
    assert run["second_up_changes"] == 0


def test_an_update_touches_only_the_collector(run: dict[str, Any]) -> None:
    assert run["update_changes"], "the update changed nothing"
    for step in run["update_changes"]:
        assert "vector-collector" in step or "vector-collector" in step.split("::")[-1], step


def test_every_node_gets_an_agent_and_only_gpu_nodes_get_dcgm(run: dict[str, Any]) -> None:
    assert run["nodes_without_agent"] == 0
    assert run["dcgm_on_cpu_nodes"] == 0
    assert run["gpu_nodes_without_dcgm"] == 0
    assert run["unscheduled"] == {}


def test_there_is_one_collector(run: dict[str, Any]) -> None:
    assert run["collector_replicas"] == 1


def test_destroy_leaves_nothing_behind(run: dict[str, Any]) -> None:
    assert run["objects_left_after_destroy"] == 0, run["left_after_destroy"]


def test_secrets_stay_encrypted_in_state(run: dict[str, Any]) -> None:
    assert run["secrets_in_state_in_clear"] == 0


def test_switching_credentials_modes_keeps_one_writer_with_the_new_credentials(
    run: dict[str, Any],
) -> None:
    assert run["collector_after_mode_change"] == {
        "containers": ["vector"],
        "aws_env": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    }
    changed = " ".join(run["mode_change_changes"])
    assert "delete kubernetes:core/v1:Secret::cedana-monitoring-foundation-cedana-credentials" in (
        changed
    )
    assert "create kubernetes:core/v1:Secret::cedana-monitoring-vector-credentials-static-keys" in (
        changed
    )


def test_the_simulation_talks_to_nothing_but_loopback(run: dict[str, Any]) -> None:
    # The Python language host's `pip list` once asked PyPI for pip's newest version.
    assert run["connections_off_the_machine"] == []
