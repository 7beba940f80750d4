"""The Vector pipeline: every series shipped exactly once, in the shape Cedana ingests."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.vector.pipeline import ADD_TIMESTAMP, helm_escape
from simulation.lab.configs import helm_tpl_unescape
from simulation.mocks import ProgramRun
from simulation.models.nodes import nodes_with_gpus
from simulation.models.scheduler import schedulable
from simulation.models.shipping import (
    CLUSTER_WIDE,
    copies,
    original_workloads,
    pods,
    ship_one_interval,
    vector_values,
    workloads,
)
from tests.support.modes import mode_overrides

MODES = list(
    itertools.product(
        ("cedana", "static", "irsa", "pod-identity"), ("install", "external", "off"), (False, True)
    )
)


# --- The config graph -----------------------------------------------------------------------


def graph_problems(config: dict[str, Any]) -> list[str]:
    sources = set(config["sources"])
    transforms = config.get("transforms", {})
    sinks = config["sinks"]
    known = sources | set(transforms)
    problems = []
    consumed: set[str] = set()
    for name, component in {**transforms, **sinks}.items():
        for upstream in component["inputs"]:
            consumed.add(upstream)
            if upstream not in known:
                problems.append(f"{name} reads {upstream!r}, which does not exist")
    for name in sorted(known - consumed):
        problems.append(f"{name} has no consumer")
    return problems


@pytest.mark.parametrize(("credentials", "gpu", "node_exporter"), MODES)
def test_the_config_graph_is_valid_in_every_mode(
    program: Callable[..., ProgramRun], credentials: str, gpu: str, node_exporter: bool
) -> None:
    run = program(**mode_overrides(credentials, gpu, node_exporter))
    agent, collector = (values["customConfig"] for values in vector_values(run))
    assert graph_problems(agent) == []
    assert graph_problems(collector) == []
    # The agent only forwards; the collector is the only writer, and stamps `ts` on every path.
    # Both expose their own metrics beside (a graph of its own: never_reaches_s3 below).
    assert {s["type"] for s in agent["sinks"].values()} == {"vector", "prometheus_exporter"}
    assert set(collector["sinks"]) == {"s3_sink", "vector_metrics"}
    assert collector["sinks"]["s3_sink"]["inputs"] == ["add_timestamp"]
    assert collector["transforms"]["add_timestamp"]["source"] == ADD_TIMESTAMP
    assert set(collector["transforms"]["add_timestamp"]["inputs"]) == (
        {"agents", "kube_state_tag", "cadvisor_tag", "event_exporter_tag", "events_tag"}
        | ({"dcgm_tag"} if gpu != "off" else set())
    )


def test_the_graph_check_catches_a_dangling_source() -> None:
    config = {
        "sources": {"a": {}, "b": {}},
        "transforms": {"t": {"inputs": ["a", "missing"]}},
        "sinks": {"s": {"inputs": ["t"]}},
    }
    assert graph_problems(config) == [
        "t reads 'missing', which does not exist",
        "b has no consumer",
    ]


# --- Helm's tpl pass -------------------------------------------------------------------------

PROBE_TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  customConfig: |
{{ tpl (toYaml .Values.customConfig) . | indent 4 }}
  extraContainers: |
{{ tpl (toYaml .Values.extraContainers) . | indent 4 }}
  initContainers: |
{{ tpl (toYaml (.Values.initContainers | default list)) . | indent 4 }}
"""


def helm_tpl(values: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Renders values through Helm's `tpl`, as the vector chart does, with the real Helm."""
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "probe.yaml").write_text(PROBE_TEMPLATE)
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps(values))
    helm = Path(sys.executable).parent / "helm"
    rendered = subprocess.run(
        [str(helm), "template", "probe", str(chart), "-f", str(values_file)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    data = yaml.safe_load(rendered)["data"]
    return {key: yaml.safe_load(text) for key, text in data.items()}


@pytest.mark.parametrize(("credentials", "gpu"), [("cedana", "install"), ("static", "off")])
def test_the_key_prefix_survives_helms_tpl_pass(
    program: Callable[..., ProgramRun], tmp_path: Path, credentials: str, gpu: str
) -> None:
    run = program(**mode_overrides(credentials, gpu, True))
    for i, values in enumerate(vector_values(run)):
        rendered = helm_tpl(values, tmp_path / str(i))
        # Everything reaches Vector exactly as generated, the key prefix unescaped.
        expected = helm_tpl_unescape(json.loads(json.dumps(values["customConfig"])))
        if "s3_sink" in expected["sinks"]:
            # cedana: under the prefix of Cedana's answer (the refresher writes it for Vector).
            prefix = "SECRET[cedana.key_prefix]" if credentials == "cedana" else "vector/data/"
            assert expected["sinks"]["s3_sink"]["key_prefix"] == prefix + "{{ tags.ts }}/"
        assert rendered["customConfig"] == expected
        assert rendered["extraContainers"] == values["extraContainers"]
        assert rendered["initContainers"] == values.get("initContainers", [])


def test_an_unescaped_template_would_not_survive(tmp_path: Path) -> None:
    # Proves the probe is Helm: the raw Vector template is an error for Helm's tpl.
    with pytest.raises(subprocess.CalledProcessError):
        helm_tpl({"customConfig": {"key_prefix": "{{ tags.ts }}"}, "extraContainers": []}, tmp_path)


def test_escaping_is_one_pass_over_both_delimiters() -> None:
    assert helm_escape("a/{{ tags.ts }}/b") == 'a/{{ "{{" }} tags.ts {{ "}}" }}/b'
    assert helm_escape("no templates") == "no templates"


def test_a_custom_key_prefix_is_escaped_too(
    program: Callable[..., ProgramRun], tmp_path: Path
) -> None:
    run = program(vectorKeyPrefix="tenant-a/{{ tags.collector }}/{{ tags.ts }}/")
    rendered = helm_tpl(vector_values(run)[1], tmp_path)
    assert rendered["customConfig"]["sinks"]["s3_sink"]["key_prefix"] == (
        "tenant-a/{{ tags.collector }}/{{ tags.ts }}/"
    )


# --- The data shape --------------------------------------------------------------------------


def test_the_collector_alone_writes_what_cedana_ingests(default_run: ProgramRun) -> None:
    agent, collector = vector_values(default_run)
    assert collector["customConfig"]["sinks"]["s3_sink"] == {
        "type": "aws_s3",
        "inputs": ["add_timestamp"],
        "bucket": "cedana-metrics-example",
        "region": "us-east-1",
        "compression": "none",
        "encoding": {"codec": "json"},
        "batch": {"max_bytes": 10485760, "timeout_secs": 30},
        # Under the prefix of Cedana's answer, which its credentials allow.
        "key_prefix": '{{ "{{" }} tags.ts {{ "}}" }}'.join(["SECRET[cedana.key_prefix]", "/"]),
        "filename_time_format": "%s",
        "filename_append_uuid": True,
        # A 403 (or 400/401: an expired token) keeps and retries the batch.
        "retry_strategy": {"type": "custom", "status_codes": [400, 401, 403]},
        # One write at a time: a restart never resends a batch S3 already holds.
        "request": {"concurrency": 1},
        "acknowledgements": {"enabled": True},
        "buffer": {"type": "disk", "max_size": 4294967296, "when_full": "block"},
    }
    assert "s3_sink" not in agent["customConfig"]["sinks"]


def test_agents_forward_to_the_collector_and_keep_events_until_it_has_them(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(namespace="observability", clusterDomain="corp.internal")
    agent, collector = (values["customConfig"] for values in vector_values(run))
    assert agent["sinks"] == {
        "vector_metrics": {
            "type": "prometheus_exporter",
            "inputs": ["internal_metrics"],
            "address": "0.0.0.0:9598",
        },
        "collector": {
            "type": "vector",
            "inputs": ["host_filter"],
            "address": "vector-collector.observability.svc.corp.internal:6000",
            "compression": True,
            "request": {"concurrency": 1},
            "acknowledgements": {"enabled": True},
            "buffer": {"type": "disk", "max_size": 536870912, "when_full": "block"},
        },
    }
    assert collector["sources"]["agents"] == {"type": "vector", "address": "0.0.0.0:6000"}
    assert collector["sources"]["prometheus"] == {
        "type": "prometheus_remote_write",
        "address": "0.0.0.0:9201",
    }


def test_vectors_own_metrics_never_reach_the_collector_or_s3(default_run: ProgramRun) -> None:
    for config in (values["customConfig"] for values in vector_values(default_run)):
        assert config["sources"]["internal_metrics"] == {
            "type": "internal_metrics",
            "scrape_interval_secs": 15,
        }
        assert config["sinks"]["vector_metrics"] == {
            "type": "prometheus_exporter",
            "inputs": ["internal_metrics"],
            "address": "0.0.0.0:9598",
        }
        readers = [
            name
            for name, component in {**config.get("transforms", {}), **config["sinks"]}.items()
            if "internal_metrics" in component["inputs"]
        ]
        assert readers == ["vector_metrics"]
    agent, collector = vector_values(default_run)
    # The chart names the collector's port after the sink (kebab case); the agent lists it.
    metrics_port = {"name": "vector-metrics", "containerPort": 9598, "protocol": "TCP"}
    assert metrics_port in agent["containerPorts"]
    assert "containerPorts" not in collector


def test_sink_settings_are_overridable(program: Callable[..., ProgramRun]) -> None:
    run = program(
        vectorBatchMaxBytes=1048576,
        vectorBatchTimeoutSecs=60,
        vectorCompression="gzip",
        s3Endpoint="http://minio.storage.svc:9000",
        vectorCollectorBufferBytes=1073741824,
        vectorAgentBufferBytes=268435488,
    )
    agent, collector = vector_values(run)
    sink = collector["customConfig"]["sinks"]["s3_sink"]
    assert sink["batch"] == {"max_bytes": 1048576, "timeout_secs": 60}
    assert sink["compression"] == "gzip"
    assert sink["endpoint"] == "http://minio.storage.svc:9000"
    assert sink["force_path_style"] is True
    assert sink["buffer"]["max_size"] == 1073741824
    assert agent["customConfig"]["sinks"]["collector"]["buffer"]["max_size"] == 268435488


def test_the_original_filters_and_collector_tags_are_kept(default_run: ProgramRun) -> None:
    agent, collector = vector_values(default_run)
    transforms = collector["customConfig"]["transforms"]
    assert transforms["kube_state_filter"]["condition"] == (
        '.name == "kube_pod_owner" || .name == "kube_pod_info" || .name == "kube_job_owner"'
    )
    assert transforms["cadvisor_filter"]["condition"] == (
        '.tags.job == "kubernetes-nodes-cadvisor" && (.name == "container_cpu_usage_seconds_total"'
        ' || .name == "container_memory_working_set_bytes")'
    )
    assert transforms["dcgm_filter"]["condition"] == (
        '.tags.job == "dcgm" && (starts_with(string!(.name), "DCGM_FI_DEV_")'
        ' || starts_with(string!(.name), "DCGM_FI_PROF_"))'
    )
    assert transforms["kube_state_tag"]["source"] == '.tags.collector = "kube-state-metrics"'
    assert transforms["event_exporter_tag"]["source"] == '.tags.collector = "event-exporter"'
    assert transforms["cadvisor_tag"]["source"].endswith('.tags.collector = "cadvisor"')
    assert transforms["dcgm_tag"]["source"].endswith('.tags.collector = "dcgm"')
    host = agent["customConfig"]["transforms"]["host_filter"]["source"]
    assert host == '.tags.host = "${VECTOR_SELF_NODE_NAME}"'


def test_host_metrics_describe_the_node_only(program: Callable[..., ProgramRun]) -> None:
    agent, _ = vector_values(program())
    assert agent["customConfig"]["sources"]["host_metrics"] == {
        "type": "host_metrics",
        "scrape_interval_secs": 60,
        "collectors": ["cpu", "disk", "host", "load", "memory"],
    }
    agent, _ = vector_values(program(vectorHostMetricsCollectors=["cpu", "cgroups"]))
    assert agent["customConfig"]["sources"]["host_metrics"] == {
        "type": "host_metrics",
        "scrape_interval_secs": 60,
        "collectors": ["cpu", "cgroups"],
        "cgroups": {"levels": 3},
    }


def test_scrapes_allow_most_of_their_interval(default_run: ProgramRun) -> None:
    _, collector = vector_values(default_run)
    sources = collector["customConfig"]["sources"]
    assert (
        sources["kube-state-metrics"]["scrape_interval_secs"],
        sources["kube-state-metrics"]["scrape_timeout_secs"],
    ) == (15, 12)
    assert (
        sources["event-exporter"]["scrape_interval_secs"],
        sources["event-exporter"]["scrape_timeout_secs"],
    ) == (30, 24)


def test_a_non_default_namespace_reaches_every_endpoint(program: Callable[..., ProgramRun]) -> None:
    run = program(namespace="observability", clusterDomain="corp.internal", shipNodeExporter=True)
    agent, collector = (values["customConfig"] for values in vector_values(run))
    assert collector["sources"]["kube-state-metrics"]["endpoints"] == [
        "http://prometheus-kube-state-metrics.observability.svc.corp.internal:8080/metrics"
    ]
    assert collector["sources"]["event-exporter"]["endpoints"] == [
        "http://kubernetes-event-exporter.observability.svc.corp.internal:2112/metrics"
    ]
    assert agent["sources"]["node-exporter"]["endpoints"] == [
        "http://prometheus-prometheus-node-exporter.observability.svc.corp.internal:9100/metrics"
    ]
    remote_write = run.charts()["prometheus"].plain["values"]["server"]["remoteWrite"]
    assert remote_write[0]["url"] == (
        "http://vector-collector.observability.svc.corp.internal:9201/"
    )
    assert "cedana-monitoring" not in json.dumps(vector_values(run))


# --- Exactly once ----------------------------------------------------------------------------

CLUSTERS = [(1, 0), (3, 2), (100, 4)]


@pytest.mark.parametrize(("size", "gpu_every"), CLUSTERS)
def test_each_series_is_shipped_exactly_once_at_any_cluster_size(
    default_run: ProgramRun, size: int, gpu_every: int
) -> None:
    nodes, gpus = nodes_with_gpus(size, gpu_every)
    shipments = ship_one_interval(workloads(default_run), nodes, gpus)
    counted = copies(shipments)
    expected = (
        {("host", n.name) for n in nodes}
        | {("cadvisor", n.name) for n in nodes}
        | {("dcgm", n.name) for n in gpus}
        | {
            ("kube-state-metrics", CLUSTER_WIDE),
            ("event-exporter", CLUSTER_WIDE),
            ("events", CLUSTER_WIDE),
        }
    )
    assert set(counted) == expected
    assert set(counted.values()) == {1}
    # Node-level series name the node they describe, never the collector's node.
    for s in shipments:
        if s.describes != CLUSTER_WIDE:
            assert s.host_tag == s.describes, s
    # Node-local data comes only from the agent on that node.
    for s in shipments:
        if s.data_set == "host":
            assert s.by == f"vector-agent-{s.describes}"
        else:
            assert s.by.startswith("vector-collector"), s
    # The agents write nothing themselves: they forward to the one collector (and expose
    # their own metrics to Prometheus).
    agent, _ = workloads(default_run)
    assert {s["type"] for s in agent.config["sinks"].values()} == {"vector", "prometheus_exporter"}


def test_the_original_install_ships_cluster_series_once_per_node() -> None:
    nodes, gpus = nodes_with_gpus(100, 4)
    counted = copies(ship_one_interval(original_workloads(), nodes, gpus))
    untainted = [n for n in nodes if not n.taints]
    assert counted[("kube-state-metrics", CLUSTER_WIDE)] == len(untainted)
    assert counted[("event-exporter", CLUSTER_WIDE)] == len(untainted)
    assert counted[("cadvisor", "node-0")] == len(untainted)
    assert not any(d == "node-exporter" for d, _ in counted)  # scraped, never shipped
    assert ("host", "gpu-15") not in counted  # GKE-tainted GPU node: no agent


def test_node_exporter_is_shipped_by_each_nodes_own_agent_when_asked(
    program: Callable[..., ProgramRun],
) -> None:
    nodes, gpus = nodes_with_gpus(20, 4)
    shipments = ship_one_interval(workloads(program(shipNodeExporter=True)), nodes, gpus)
    counted = copies(shipments)
    node_exporter = {k: v for k, v in counted.items() if k[0] == "node-exporter"}
    assert node_exporter == {("node-exporter", n.name): 1 for n in nodes}
    for s in shipments:
        if s.data_set == "node-exporter":
            assert s.by == f"vector-agent-{s.describes}" and s.host_tag == s.describes


def test_the_agent_runs_on_every_node_and_the_collector_once(default_run: ProgramRun) -> None:
    nodes, _ = nodes_with_gpus(100, 4)
    agent, collector = workloads(default_run)
    assert len(pods(agent, nodes)) == 100
    assert len(pods(collector, nodes)) == 1
    _, collector_values = vector_values(default_run)
    # A StatefulSet of one, replaced by deleting first: never two writers.
    assert collector_values["role"] == "Aggregator"
    assert collector_values["replicas"] == 1
    assert collector_values["updateStrategy"] == {"type": "RollingUpdate"}
    assert collector_values["podManagementPolicy"] == "OrderedReady"


def test_agent_tolerations_are_a_setting(program: Callable[..., ProgramRun]) -> None:
    nodes, gpus = nodes_with_gpus(8, 2)
    agent, _ = workloads(program(vectorAgentTolerations=[]))
    assert {n.name for _, n in pods(agent, nodes)} == {n.name for n in nodes if not n.taints}
    assert all(not schedulable(n, agent.placement) for n in gpus if n.taints)
