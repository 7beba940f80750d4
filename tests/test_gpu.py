"""GPU metrics: DCGM on the GPU nodes of every platform and nowhere else, in every gpuMode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.gpu.placement import gpu_affinity
from simulation.mocks import ProgramRun
from simulation.models.nodes import CONTROL_PLANE, CPU_NODE, GPU_NODES, OTHER_GPU_NODES
from simulation.models.scheduler import Node, PodPlacement, schedulable

ALL_GPU_NODES = {**GPU_NODES, **OTHER_GPU_NODES}
EVERY_NODE = [CPU_NODE, CONTROL_PLANE, *ALL_GPU_NODES.values()]


def dcgm_placement(run: ProgramRun) -> PodPlacement:
    values = run.charts()["dcgm-exporters"].plain["values"]
    return PodPlacement.of_daemonset(
        values.get("nodeSelector"), values.get("affinity"), values.get("tolerations")
    )


def prometheus_jobs(run: ProgramRun) -> dict[str, dict[str, Any]]:
    jobs = run.charts()["prometheus"].plain["values"]["scrapeConfigs"]
    return {name: job for name, job in jobs.items() if job["enabled"]}


CADVISOR_PUSHED = (
    "kubernetes-nodes-cadvisor;"
    "(container_cpu_usage_seconds_total|container_memory_working_set_bytes)"
)
DCGM_PUSHED = "dcgm;(DCGM_FI_DEV_.*|DCGM_FI_PROF_.*)"


def pushed_to_the_collector(run: ProgramRun) -> str:
    """The regex of the series Prometheus remote-writes to the collector."""
    (remote_write,) = run.charts()["prometheus"].plain["values"]["server"]["remoteWrite"]
    (keep,) = remote_write["write_relabel_configs"]
    assert keep["action"] == "keep" and keep["source_labels"] == ["job", "__name__"]
    return str(keep["regex"])


def collector_transforms(run: ProgramRun) -> dict[str, Any]:
    return run.charts()["vector-collector"].plain["values"]["customConfig"]["transforms"]


@pytest.mark.parametrize("kind", sorted(GPU_NODES))
def test_dcgm_lands_on_every_gpu_node_kind_of_the_reference_table(
    default_run: ProgramRun, kind: str
) -> None:
    assert schedulable(GPU_NODES[kind], dcgm_placement(default_run))


@pytest.mark.parametrize("kind", sorted(OTHER_GPU_NODES))
def test_dcgm_lands_on_the_other_gpu_label_forms(default_run: ProgramRun, kind: str) -> None:
    assert schedulable(OTHER_GPU_NODES[kind], dcgm_placement(default_run))


@pytest.mark.parametrize("node", [CPU_NODE, CONTROL_PLANE], ids=lambda n: n.name)
def test_dcgm_never_lands_on_cpu_nodes(default_run: ProgramRun, node: Node) -> None:
    assert not schedulable(node, dcgm_placement(default_run))


def test_the_default_affinity_ors_one_term_per_gpu_label() -> None:
    terms = gpu_affinity()["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert len(terms) == 9
    assert all(len(term["matchExpressions"]) == 1 for term in terms)


def test_node_agents_land_on_every_node_gpu_and_control_plane_included(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(shipNodeExporter=True)
    agent = run.charts()["vector"].plain["values"]
    node_exporter = run.charts()["prometheus"].plain["values"]["prometheus-node-exporter"]
    for values in (agent, node_exporter):
        placement = PodPlacement.of_daemonset(
            values.get("nodeSelector"), values.get("affinity"), values.get("tolerations")
        )
        for node in EVERY_NODE:
            assert schedulable(node, placement), node.name


def test_gpu_node_selector_replaces_the_default_selection(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(gpuNodeSelector={"example.com/gpu": "a100"})
    placement = dcgm_placement(run)
    assert placement.affinity == {}
    custom = Node("custom-gpu", {"example.com/gpu": "a100"})
    assert schedulable(custom, placement)
    # The built-in labels no longer select anything.
    assert not schedulable(GPU_NODES["gpu-operator"], placement)
    assert not schedulable(CPU_NODE, placement)


def test_install_mode_pins_the_chart_and_fixes_its_platform_defaults(
    default_run: ProgramRun,
) -> None:
    chart = default_run.charts()["dcgm-exporters"].plain
    assert chart["chart"] == "dcgm-exporter"
    assert chart["repositoryOpts"]["repo"] == "https://nvidia.github.io/dcgm-exporter/helm-charts"
    assert chart["version"] == "4.8.2"
    values = chart["values"]
    assert values["serviceMonitor"] == {"enabled": False}
    assert values["priorityClassName"] == ""
    assert set(values["resources"]) == {"requests", "limits"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists"} in values["tolerations"]


def test_a_stack_may_ask_for_a_priority_class(program: Callable[..., ProgramRun]) -> None:
    run = program(dcgmPriorityClassName="system-node-critical")
    assert run.charts()["dcgm-exporters"].plain["values"]["priorityClassName"] == (
        "system-node-critical"
    )


def test_install_mode_collects_each_exporter_pod_once_through_prometheus(
    default_run: ProgramRun,
) -> None:
    job = prometheus_jobs(default_run)["dcgm"]
    assert job["kubernetes_sd_configs"] == [
        {"role": "endpointslice", "namespaces": {"names": ["cedana-monitoring"]}}
    ]
    keep_service = job["relabel_configs"][0]
    assert keep_service["regex"] == "dcgm-exporters"
    assert pushed_to_the_collector(default_run) == f"{CADVISOR_PUSHED}|{DCGM_PUSHED}"
    assert collector_transforms(default_run)["dcgm_filter"]["inputs"] == ["prometheus"]


def test_external_mode_collects_the_given_endpoint_without_a_chart(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(gpuMode="external")
    assert "dcgm-exporters" not in run.charts()
    assert not run.of_type("cedana:monitoring:DcgmExporter")
    job = prometheus_jobs(run)["dcgm"]
    assert job["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["gpu-operator"]}
    assert job["relabel_configs"][0]["regex"] == "nvidia-dcgm-exporter"
    assert job["relabel_configs"][1]["regex"] == "9400"
    assert job["metrics_path"] == "/metrics"
    assert pushed_to_the_collector(run) == f"{CADVISOR_PUSHED}|{DCGM_PUSHED}"


def test_external_mode_scrapes_a_non_service_endpoint_as_one_target(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(gpuMode="external", dcgmEndpoint="http://10.0.0.7:9400/metrics")
    job = prometheus_jobs(run)["dcgm"]
    assert job["static_configs"] == [{"targets": ["10.0.0.7:9400"]}]


def test_off_mode_collects_no_gpu_metrics_at_all(program: Callable[..., ProgramRun]) -> None:
    run = program(gpuMode="off")
    assert "dcgm-exporters" not in run.charts()
    assert "dcgm" not in prometheus_jobs(run)
    assert pushed_to_the_collector(run) == CADVISOR_PUSHED
    assert not [name for name in collector_transforms(run) if "dcgm" in name]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("install", {"prometheus", "vector", "vector-collector", "dcgm-exporters"}),
        ("external", {"prometheus", "vector", "vector-collector"}),
        ("off", {"prometheus", "vector", "vector-collector"}),
    ],
)
def test_each_gpu_mode_installs_exactly_its_charts(
    program: Callable[..., ProgramRun], mode: str, expected: set[str]
) -> None:
    assert set(program(gpuMode=mode).charts()) == expected


def test_gpu_series_name_the_node_they_describe(default_run: ProgramRun) -> None:
    job = prometheus_jobs(default_run)["dcgm"]
    node_label = job["relabel_configs"][2]
    assert node_label == {
        "source_labels": ["__meta_kubernetes_endpointslice_endpoint_node_name"],
        "target_label": "node",
    }
    assert collector_transforms(default_run)["dcgm_tag"]["source"] == (
        "if exists(.tags.node) { .tags.host = .tags.node }"
        " else if exists(.tags.Hostname) { .tags.host = .tags.Hostname }\n"
        "del(.tags.node)\ndel(.tags.job)\ndel(.tags.instance)\n"
        '.tags.collector = "dcgm"'
    )
