"""The stack observes itself for `scripts/verify`: Vector's own metrics and Prometheus' remote
write queue are scraped and kept in Prometheus, and none of it is ever shipped to S3."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from components.prometheus.values import SELF_METRICS_KEPT, VECTOR_METRICS_KEPT
from simulation.mocks import ProgramRun
from simulation.models.shipping import vector_values

# What Prometheus keeps of itself, by name, as verify reads it.
SELF_SERIES = (
    "prometheus_remote_storage_samples_pending",
    "prometheus_remote_storage_samples_failed_total",
    "prometheus_remote_storage_samples_retried_total",
    "prometheus_remote_storage_queue_highest_timestamp_seconds",
    "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
)


def relabel_keeps(rule: dict[str, Any], labels: dict[str, str]) -> bool:
    """Prometheus' `keep`: the source labels joined by the separator, the regex anchored."""
    assert rule["action"] == "keep"
    value = rule.get("separator", ";").join(labels.get(n, "") for n in rule["source_labels"])
    return re.fullmatch(rule["regex"], value) is not None


def prometheus(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["prometheus"].plain["values"]


@pytest.mark.parametrize("gpu_mode", ["install", "external", "off"])
def test_what_verify_reads_stays_in_prometheus_and_never_reaches_s3(
    program: Callable[..., ProgramRun], gpu_mode: str
) -> None:
    values = prometheus(program(gpuMode=gpu_mode))
    (write,) = values["server"]["remoteWrite"]
    (keep,) = write["write_relabel_configs"]
    jobs = values["scrapeConfigs"]
    observed = {
        "vector": list(VECTOR_METRICS_KEPT),
        "prometheus": list(SELF_SERIES),
    }
    for job, names in observed.items():
        assert jobs[job]["enabled"] is True
        (kept,) = jobs[job]["metric_relabel_configs"]
        for name in names:
            assert relabel_keeps(kept, {"__name__": name}), (job, name)  # kept in Prometheus
            assert not relabel_keeps(keep, {"job": job, "__name__": name}), (job, name)
            # Not even under a name Cedana ships: the job decides.
            for shipped in ("container_cpu_usage_seconds_total", "DCGM_FI_DEV_GPU_UTIL"):
                assert not relabel_keeps(keep, {"job": job, "__name__": shipped})
    # The collector's own filters take only the cAdvisor and DCGM jobs from the remote write.
    _, collector = vector_values(program(gpuMode=gpu_mode))
    conditions = [
        t["condition"]
        for t in collector["customConfig"]["transforms"].values()
        if t["type"] == "filter" and t["inputs"] == ["prometheus"]
    ]
    assert conditions
    assert all(
        '.tags.job == "kubernetes-nodes-cadvisor"' in c or '.tags.job == "dcgm"' in c
        for c in conditions
    )
    assert SELF_METRICS_KEPT == "prometheus_remote_storage_.*"


def test_prometheus_finds_every_agent_and_the_collector_on_their_metrics_port_only(
    default_run: ProgramRun,
) -> None:
    job = prometheus(default_run)["scrapeConfigs"]["vector"]
    assert job["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": ["cedana-monitoring"]}}
    ]
    keep = job["relabel_configs"][0]

    def target(name: str, instance: str, port: str) -> dict[str, str]:
        return {
            "__meta_kubernetes_pod_label_app_kubernetes_io_name": name,
            "__meta_kubernetes_pod_label_app_kubernetes_io_instance": instance,
            "__meta_kubernetes_pod_container_port_name": port,
        }

    assert relabel_keeps(keep, target("vector", "vector", "vector-metrics"))
    assert relabel_keeps(keep, target("vector", "vector-collector", "vector-metrics"))
    assert not relabel_keeps(keep, target("vector", "vector-collector", "api"))
    assert not relabel_keeps(keep, target("vector", "vector-collector", "cred-health"))
    assert not relabel_keeps(keep, target("vector", "someone-elses-vector", "vector-metrics"))
    assert not relabel_keeps(keep, target("prometheus", "prometheus", "vector-metrics"))
    # Each series names its pod, node and release, which verify groups by.
    assert {r.get("target_label") for r in job["relabel_configs"][1:]} == {
        "pod",
        "node",
        "release",
    }


@pytest.mark.parametrize("gpu_mode", ["install", "off"])
def test_the_server_may_list_the_pods_it_discovers(
    program: Callable[..., ProgramRun], gpu_mode: str
) -> None:
    run = program(gpuMode=gpu_mode)
    role = next(
        o
        for o in run.kubernetes_objects()
        if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("prometheus-server")
    )
    pods = [r for r in role["rules"] if "pods" in r["resources"]]
    assert pods == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}]
