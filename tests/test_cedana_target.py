"""Where Vector writes in credentialsMode cedana: Cedana's answer names the bucket, its region and
the key prefix its credentials are for; a setting left empty takes the answer's. The refresher
writes the answer for Vector (a file its secret backend reads, in a directory it watches), an
init container writes the first one before Vector starts, and a changed answer is rewritten.

Layers: mocks (the program's values), the sidecar as a process against a stand-in Cedana, and
verify's reading of the refresher's status. That a running Vector reloads the sink on a changed
file, keeping its buffer, is the lab's (tests/lab).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from components.common.names import CEDANA_TARGET_DIR, CEDANA_TARGET_FILE
from cred_refresher import cred_refresher as refresher
from simulation.mocks import ProgramRun
from simulation.standins.cedana_api import FakeCedana
from simulation.support.waiting import wait_until
from tests.support.modes import mode_overrides
from tests.support.sidecar import Launcher, ready

LEFT_TO_CEDANA = {"s3Bucket": "", "awsRegion": "", "vectorKeyPrefix": ""}
ALL_SET = {"vectorKeyPrefix": "org-1/v2/vector/data/{{ tags.ts }}/"}


def collector(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["vector-collector"].plain["values"]


def env_of(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["env"]}


def sink_of(values: dict[str, Any]) -> dict[str, Any]:
    return values["customConfig"]["sinks"]["s3_sink"]


def test_a_stack_that_leaves_the_place_to_cedana_writes_where_the_answer_says(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(**LEFT_TO_CEDANA)
    values = collector(run)
    sink = sink_of(values)
    assert sink["bucket"] == "SECRET[cedana.bucket]"
    assert sink["region"] == "SECRET[cedana.region]"
    assert sink["key_prefix"] == 'SECRET[cedana.key_prefix]{{ "{{" }} tags.ts {{ "}}" }}/'
    assert values["customConfig"]["secret"] == {
        "cedana": {"type": "file", "path": CEDANA_TARGET_FILE}
    }
    # Vector reloads when the refresher rewrites the file (its directory is watched) ...
    assert values["args"] == [
        "--config-dir",
        "/etc/vector/",
        "--config-dir",
        CEDANA_TARGET_DIR,
        "--watch-config",
    ]
    mounts = {m["name"]: m for m in values["extraVolumeMounts"]}
    assert mounts["cedana-target"] == {
        "name": "cedana-target",
        "mountPath": CEDANA_TARGET_DIR,
        "readOnly": True,
    }
    # ... which the sidecar keeps, and an init container writes before Vector first starts.
    (sidecar,) = values["extraContainers"]
    (first,) = values["initContainers"]
    assert env_of(sidecar)["TARGET_FILE"] == CEDANA_TARGET_FILE
    assert env_of(first)["TARGET_FILE"] == CEDANA_TARGET_FILE
    assert env_of(first)["UNTIL_CREDENTIALS"] == "true"
    assert "UNTIL_CREDENTIALS" not in env_of(sidecar)
    assert "ports" not in first and "readinessProbe" not in first
    for container in (sidecar, first):
        writable = {m["name"]: m for m in container["volumeMounts"]}["cedana-target"]
        assert not writable.get("readOnly")
    # Nothing the refresher compares against: the place is Cedana's.
    assert env_of(sidecar)["S3_BUCKET"] == "" and env_of(sidecar)["KEY_PREFIX"] == ""
    assert run.outputs["bucket"] == "Cedana's (verify names it)"
    # The agents write nowhere but to the collector.
    agent = run.charts()["vector"].plain["values"]
    assert "args" not in agent and "initContainers" not in agent
    assert "secret" not in agent["customConfig"]


def test_a_set_bucket_and_region_win_and_the_prefix_still_comes_from_cedana(
    default_run: ProgramRun,
) -> None:
    values = collector(default_run)
    sink = sink_of(values)
    assert (sink["bucket"], sink["region"]) == ("cedana-metrics-example", "us-east-1")
    assert sink["key_prefix"].startswith("SECRET[cedana.key_prefix]")
    assert len(values["initContainers"]) == 1


def test_a_stack_that_sets_the_whole_place_runs_vector_as_the_chart_does(
    program: Callable[..., ProgramRun],
) -> None:
    values = collector(program(**ALL_SET))
    sink = sink_of(values)
    assert sink["key_prefix"] == 'org-1/v2/vector/data/{{ "{{" }} tags.ts {{ "}}" }}/'
    assert "secret" not in values["customConfig"]
    assert "args" not in values and "initContainers" not in values
    (sidecar,) = values["extraContainers"]
    assert "TARGET_FILE" not in env_of(sidecar)
    assert env_of(sidecar)["KEY_PREFIX"] == "org-1/v2/vector/data/"


@pytest.mark.parametrize("mode", ["static", "irsa", "pod-identity"])
def test_other_modes_write_under_the_default_prefix(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    values = collector(program(**mode_overrides(mode, "off", False)))
    assert sink_of(values)["key_prefix"] == 'vector/data/{{ "{{" }} tags.ts {{ "}}" }}/'
    assert sink_of(values)["bucket"] == "cedana-metrics-example"
    assert "secret" not in values["customConfig"] and "initContainers" not in values


# --- The refresher ----------------------------------------------------------------------------


def answer(prefix: str, bucket: str = "cedana-metrics", region: str = "us-east-1") -> Any:
    return refresher.Credentials(
        "ASIAKEY", "secret", "token", refresher.now_utc(), bucket, prefix, region
    )


@pytest.mark.parametrize(
    ("prefix", "key_prefix"),
    [
        ("org-1/v2/vector/data", "org-1/v2/vector/data/"),
        ("/org-1/v2/vector/data/", "org-1/v2/vector/data/"),
        ("", "vector/data/"),  # no prefix: the whole bucket, as the program's default
    ],
)
def test_the_target_is_the_answer_with_one_final_slash(prefix: str, key_prefix: str) -> None:
    target = refresher.target_of(answer(prefix))
    assert target == {"bucket": "cedana-metrics", "region": "us-east-1", "key_prefix": key_prefix}
    assert refresher.target_problem(target) is None


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        (answer("org-1", bucket=""), "names no bucket; set s3Bucket"),
        (answer("org-1", region=""), "names no region; set awsRegion"),
        (answer("org-1/{{ tags.ts }}"), "is not a plain S3 key prefix"),
        (answer("org-1//data"), "is not a plain S3 key prefix"),
    ],
)
def test_an_answer_vector_could_not_write_to_is_refused(credentials: Any, problem: str) -> None:
    found = refresher.target_problem(refresher.target_of(credentials))
    assert found is not None and problem in found


def test_the_file_is_rewritten_only_when_the_answer_changes(tmp_path: Path) -> None:
    path = tmp_path / "target" / "target.secrets"
    first = refresher.target_of(answer("org-1/v2"))
    assert refresher.write_target_file(path, first) is True
    inode = path.stat().st_ino
    # The same answer again (every refresh): no write, so Vector does not reload.
    assert refresher.write_target_file(path, first) is False
    assert path.stat().st_ino == inode
    moved = refresher.target_of(answer("org-2/v2"))
    assert refresher.write_target_file(path, moved) is True
    assert json.loads(path.read_text()) == moved
    assert path.stat().st_ino != inode  # replaced whole: Vector never reads half a file
    assert [p.name for p in path.parent.iterdir()] == ["target.secrets"]


@pytest.fixture
def api() -> Iterator[FakeCedana]:
    with FakeCedana(prefix="org-7/v2/vector/data") as fake:
        yield fake


@pytest.fixture
def launcher(tmp_path: Path, api: FakeCedana) -> Iterator[Launcher]:
    started = Launcher(tmp_path, api)
    yield started
    started.finish()


def test_the_sidecar_keeps_the_file_to_cedanas_latest_answer(
    tmp_path: Path, api: FakeCedana, launcher: Launcher
) -> None:
    target = tmp_path / "target" / "target.secrets"
    sidecar = launcher.start(TARGET_FILE=str(target), S3_BUCKET="", REFRESH_INTERVAL="1s")
    ready(sidecar)
    wait_until(target.exists, 10, "the sidecar to write the target")
    assert json.loads(target.read_text()) == {
        "bucket": "cedana-metrics",
        "key_prefix": "org-7/v2/vector/data/",
        "region": "us-east-1",
    }
    _, status = sidecar.status()
    assert status["target"] == json.loads(target.read_text())
    # Cedana moves the cluster: the next answer's place reaches the file, once.
    api.prefix = "org-8/v2/vector/data"
    wait_until(
        lambda: json.loads(target.read_text())["key_prefix"] == "org-8/v2/vector/data/",
        20,
        "the new prefix to reach the file",
    )
    count = len(api.requests)
    assert api.wait_for_requests(count + 2)
    assert len(sidecar.lines("Vector writes to s3://cedana-metrics/org-8/v2/vector/data/")) == 1


def test_the_init_container_writes_credentials_and_target_then_exits(
    tmp_path: Path, api: FakeCedana, launcher: Launcher
) -> None:
    target = tmp_path / "target" / "target.secrets"
    first = launcher.start(TARGET_FILE=str(target), UNTIL_CREDENTIALS="true")
    assert first.process.wait(timeout=20) == 0
    assert json.loads(target.read_text())["key_prefix"] == "org-7/v2/vector/data/"
    assert launcher.credentials_file.exists()
    assert len(api.requests) == 1
    # The sidecar after it serves those credentials without asking Cedana again.
    sidecar = launcher.start(TARGET_FILE=str(target))
    ready(sidecar)
    assert len(api.requests) == 1
    # A restarted init container finds both files and ends at once.
    again = launcher.start(TARGET_FILE=str(target), UNTIL_CREDENTIALS="true")
    assert again.process.wait(timeout=20) == 0
    assert len(api.requests) == 1


def test_after_a_move_the_old_places_credentials_are_served_until_they_expire(
    tmp_path: Path, api: FakeCedana, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Vector's reload waits for the old sink's batch in flight, which only credentials for
    # the old place may write: handing out the new ones at once would leave it refused for
    # ever and the reload hanging (the lab found this).
    clock = [refresher.now_utc()]
    monkeypatch.setattr(refresher, "now_utc", lambda: clock[0])
    target = tmp_path / "target.secrets"
    config = refresher.Config(
        {
            "CEDANA_URL": api.url,
            "CEDANA_AUTH_TOKEN": "token",
            "CLUSTER_ID": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
            "CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
            "TARGET_FILE": str(target),
        }
    )
    state = refresher.State()
    worker = refresher.Refresher(config, state, threading.Event(), 0.0)
    expires = clock[0] + timedelta(minutes=30)
    old = refresher.Credentials("OLD", "s", "t", expires, "cedana-metrics", "org-7", "us-east-1")
    new = refresher.Credentials(
        "NEW", "s", "t", expires + timedelta(minutes=30), "cedana-metrics", "org-8", "us-east-1"
    )
    worker.accept(old, None)
    worker.accept(new, None)
    assert json.loads(target.read_text())["key_prefix"] == "org-8/"  # Vector reloads now
    assert state.current() is old
    clock[0] = expires
    assert state.current() is new
    # A refresh for the same place replaces the held credentials at once.
    same = refresher.Credentials(
        "SAME", "s", "t", expires + timedelta(hours=1), "cedana-metrics", "org-8", "us-east-1"
    )
    worker.accept(same, None)
    assert state.current() is same
