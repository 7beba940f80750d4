"""Every remap program and filter condition the program generates, compiled and run by Vector's
own VRL compiler (`vector-vrl`), in every mode, on sample events of each data set."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from simulation.mocks import ProgramRun
from simulation.models.shipping import vector_values
from tests.support.modes import mode_overrides
from tests.support.vrl import chain_to_sink, interpolate, run_jobs, steps
from tests.test_vector_pipeline import MODES

NODE = "gpu-node-7"
ENV = {"VECTOR_SELF_NODE_NAME": NODE}

# One event per data set, as the sources hand them to the transforms (fields as VRL sees a
# metric: name, tags, kind, value).
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    # data set: (source in its workload, event)
    "host": (
        "host_metrics",
        {"name": "memory_used_bytes", "namespace": "host", "tags": {}, "gauge": {"value": 1e9}},
    ),
    "node-exporter": (
        "node-exporter",
        {"name": "node_load1", "tags": {"instance": "10.0.0.7:9100"}, "gauge": {"value": 0.5}},
    ),
    "kube-state-metrics": (
        "kube-state-metrics",
        {"name": "kube_pod_info", "tags": {"pod": "train-0", "node": NODE}, "gauge": {"value": 1}},
    ),
    "event-exporter": (
        "event-exporter",
        {"name": "event_exporter_events_sent", "tags": {"reason": "OOMKilling"}},
    ),
    "cadvisor": (
        "prometheus",
        {
            "name": "container_cpu_usage_seconds_total",
            "tags": {"job": "kubernetes-nodes-cadvisor", "instance": NODE, "pod": "train-0"},
            "gauge": {"value": 12.5},
        },
    ),
    "dcgm": (
        "prometheus",
        {
            "name": "DCGM_FI_DEV_GPU_UTIL",
            "tags": {"job": "dcgm", "instance": "10.1.2.3:9400", "node": NODE, "gpu": "0"},
            "gauge": {"value": 97},
        },
    ),
}

# What reaches S3: the tags Cedana's ingestion reads (besides the series' own labels).
EXPECTED_TAGS: dict[str, dict[str, Any]] = {
    "host": {"host": NODE},
    "node-exporter": {"host": NODE, "collector": "node-exporter", "instance": "10.0.0.7:9100"},
    "kube-state-metrics": {"collector": "kube-state-metrics", "pod": "train-0", "node": NODE},
    "event-exporter": {"collector": "event-exporter", "reason": "OOMKilling"},
    "cadvisor": {
        "host": NODE,
        "collector": "cadvisor",
        "job": "kubernetes-nodes-cadvisor",
        "instance": NODE,
        "pod": "train-0",
    },
    # Prometheus' own labels go; the GPU's stay.
    "dcgm": {"host": NODE, "collector": "dcgm", "gpu": "0"},
}


def configs(run: ProgramRun) -> tuple[dict[str, Any], dict[str, Any]]:
    agent, collector = vector_values(run)
    return agent["customConfig"], collector["customConfig"]


def every_program(config: dict[str, Any]) -> list[str]:
    return [
        interpolate(t.get("source") or t.get("condition") or "", ENV)
        for t in config.get("transforms", {}).values()
    ]


@pytest.mark.parametrize(("credentials", "gpu", "node_exporter"), MODES)
def test_every_remap_and_condition_compiles_with_vectors_vrl_compiler(
    program: Callable[..., ProgramRun], credentials: str, gpu: str, node_exporter: bool
) -> None:
    agent, collector = configs(program(**mode_overrides(credentials, gpu, node_exporter)))
    sources = every_program(agent) + every_program(collector)
    results = run_jobs([{"compile": vrl} for vrl in sources])
    assert [(vrl, r["error"]) for vrl, r in zip(sources, results, strict=True) if not r["ok"]] == []


def test_the_compile_check_would_catch_broken_vrl() -> None:
    results = run_jobs([{"compile": ".tags.host = get_env_var!()"}, {"compile": ".tags.x = 1 +"}])
    assert [r["ok"] for r in results] == [False, False]


def shipped(run: ProgramRun, data_set: str) -> dict[str, Any]:
    """The sample of a data set through every transform to S3 (via the collector)."""
    agent, collector = configs(run)
    source, event = SAMPLES[data_set]
    if source in agent["sources"]:
        (to_collector,) = chain_to_sink(agent, source)
        (in_collector,) = chain_to_sink(collector, "agents")
        chain = steps(agent, to_collector, ENV) + steps(collector, in_collector, ENV)
        jobs = [{"chain": chain, "event": event}]
    else:
        jobs = [
            {"chain": steps(collector, path, ENV), "event": event}
            for path in chain_to_sink(collector, source)
        ]
    reached = [r["event"] for r in run_jobs(jobs) if "event" in r]
    assert len(reached) == 1, f"{data_set}: {len(reached)} copies reach S3"
    return reached[0]


@pytest.mark.parametrize("data_set", sorted(SAMPLES))
def test_each_data_set_reaches_s3_once_with_the_tags_cedana_reads(
    program: Callable[..., ProgramRun], data_set: str
) -> None:
    run = program(shipNodeExporter=True)
    before = int(time.time())
    event = shipped(run, data_set)
    tags = dict(event["tags"])
    ts = int(tags.pop("ts"))
    # `ts`: unix seconds of the minute the sample belongs to, shared by every event of it.
    assert ts % 60 == 0
    assert before - 60 <= ts <= time.time()
    assert tags == EXPECTED_TAGS[data_set]
    assert event["name"] == SAMPLES[data_set][1]["name"]


def test_series_the_collector_does_not_ship_are_dropped(default_run: ProgramRun) -> None:
    _, collector = configs(default_run)
    other = [
        ("kube-state-metrics", {"name": "kube_node_info", "tags": {}}),
        ("prometheus", {"name": "container_fs_usage_bytes", "tags": {"job": CADVISOR}}),
        ("prometheus", {"name": "up", "tags": {"job": "dcgm"}}),
    ]
    jobs = [
        {"chain": steps(collector, path, ENV), "event": event}
        for source, event in other
        for path in chain_to_sink(collector, source)
    ]
    assert [r for r in run_jobs(jobs) if "event" in r] == []


CADVISOR = "kubernetes-nodes-cadvisor"


def test_gpu_series_fall_back_to_the_exporters_hostname(default_run: ProgramRun) -> None:
    _, collector = configs(default_run)
    event = {"name": "DCGM_FI_DEV_FB_USED", "tags": {"job": "dcgm", "Hostname": "gpu-9"}}
    (path,) = [p for p in chain_to_sink(collector, "prometheus") if "dcgm_tag" in p]
    (result,) = run_jobs([{"chain": steps(collector, path, ENV), "event": event}])
    assert result["event"]["tags"]["host"] == "gpu-9"


# --- Kubernetes Events, one by one ------------------------------------------------------------


def test_a_posted_event_takes_the_events_time_and_keeps_every_tag_field(
    default_run: ProgramRun,
) -> None:
    _, collector = configs(default_run)
    shape = collector["transforms"]["events_shape"]["source"]
    posted = {
        "uid": "3f0c1b2a-1111-2222-3333-444455556666",
        "reason": "Killing",
        "type": "Normal",
        "kind": "Pod",
        "namespace": "team-a",
        "name": "train-0",
        "node": "gpu-node-7",
        "count": "1",
        "firstTimestamp": "1733140000",
        "lastTimestamp": "1733140030",
        "eventTime": "-62135596800",
    }
    scheduler = {**posted, "node": "", "lastTimestamp": "-62135596800", "eventTime": "1733140090"}
    results = run_jobs([{"chain": [{"remap": shape}], "event": e} for e in (posted, scheduler)])
    first, second = (r["event"] for r in results)
    assert first["timestamp"].startswith("2024-12-02 11:47:10")  # lastTimestamp
    assert second["timestamp"].startswith("2024-12-02 11:48:10")  # eventTime, no lastTimestamp
    assert {k: first[k] for k in ("reason", "kind", "namespace", "name", "node", "uid")} == {
        k: posted[k] for k in ("reason", "kind", "namespace", "name", "node", "uid")
    }


def test_an_events_empty_tags_are_left_out_and_it_is_tagged_as_the_exporters(
    default_run: ProgramRun,
) -> None:
    _, collector = configs(default_run)
    tag = collector["transforms"]["events_tag"]["source"]
    metric = {
        "name": "kubernetes_event",
        "tags": {"reason": "Preempting", "kind": "Pod", "node": "", "uid": "u-1"},
        "counter": {"value": 1},
    }
    (result,) = run_jobs([{"chain": [{"remap": tag}], "event": metric}])
    assert result["event"]["tags"] == {
        "reason": "Preempting",
        "kind": "Pod",
        "uid": "u-1",
        "collector": "event-exporter",
    }
