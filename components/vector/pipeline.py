"""Vector's configuration, built from settings: which data each workload collects and ships.

Two workloads share one data shape (the one Cedana ingests):
- the **agent** (a DaemonSet, one pod per node) collects only what belongs to its own node:
  `host_metrics`, and optionally that node's node-exporter;
- the **collector** (one replica) collects every cluster-level data set exactly once:
  kube-state-metrics, the event exporter, cAdvisor through Prometheus federation, and DCGM
  through Prometheus federation (Prometheus scrapes every GPU node's exporter once).

Every event reaching the sink carries `collector`, `host` (the node the series describes) and
`ts` (unix seconds, used in the object key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog import (
    CADVISOR_JOB,
    CADVISOR_PREFIXES,
    CADVISOR_SERIES,
    COLLECTOR_TAGS,
    DCGM_JOB,
    DCGM_PREFIXES,
    INTERVALS,
    KUBE_STATE_METRICS,
)
from components.common.names import NODE_EXPORTER_PORT, Endpoints

NODE_NAME_ENV = "VECTOR_SELF_NODE_NAME"  # injected by the chart in the Agent role
HOST_IP_ENV = "VECTOR_HOST_IP"  # status.hostIP, added by this program

ADD_TIMESTAMP = ".tags.ts = to_string(to_unix_timestamp(now()))"


@dataclass(frozen=True)
class SinkSettings:
    bucket: pulumi.Input[str]  # an Output when the program creates the bucket
    region: str
    key_prefix: str
    batch_max_bytes: int
    batch_timeout_secs: int
    compression: str
    buffer_max_bytes: int
    endpoint: str | None = None


@dataclass(frozen=True)
class CollectorSources:
    """What the single collector scrapes; DCGM only when a GPU mode collects it."""

    endpoints: Endpoints
    collect_dcgm: bool


def helm_escape(text: str) -> str:
    """Escapes `{{` and `}}` so Helm's `tpl` pass prints them literally.

    The vector chart renders customConfig through `tpl`, so a Vector template such as
    `{{ tags.ts }}` must reach Helm as `{{ "{{" }} tags.ts {{ "}}" }}`. One pass over both
    delimiters, so an inserted `}}` is never escaped again.
    """
    return re.sub(r"\{\{|\}\}", lambda m: '{{ "' + m.group(0) + '" }}', text)


def _starts_with_any(prefixes: tuple[str, ...]) -> str:
    return " || ".join(f'starts_with(string!(.name), "{p}")' for p in prefixes)


def _name_is_any(names: tuple[str, ...]) -> str:
    return " || ".join(f'.name == "{n}"' for n in names)


def _scrape(endpoint: str, interval: int, query: dict[str, list[str]] | None = None) -> dict:
    source: dict[str, Any] = {
        "type": "prometheus_scrape",
        "endpoints": [endpoint],
        "scrape_interval_secs": interval,
    }
    if query:
        source["query"] = query
    return source


def _collector_tag(data_set: str) -> str:
    return f'.tags.collector = "{COLLECTOR_TAGS[data_set]}"'


def _remap(inputs: list[str], source: str) -> dict[str, Any]:
    return {"type": "remap", "inputs": inputs, "source": source}


def s3_sink(inputs: list[str], sink: SinkSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": "aws_s3",
        "inputs": inputs,
        "bucket": sink.bucket,
        "region": sink.region,
        "compression": sink.compression,
        "encoding": {"codec": "json"},
        "batch": {"max_bytes": sink.batch_max_bytes, "timeout_secs": sink.batch_timeout_secs},
        "key_prefix": helm_escape(sink.key_prefix),
        "filename_time_format": "%s",
        "filename_append_uuid": True,
        # A storage or credentials outage blocks on a bounded disk buffer instead of dropping
        # batches; the buffer survives a restart of the pod.
        "buffer": {"type": "disk", "max_size": sink.buffer_max_bytes, "when_full": "block"},
    }
    if sink.endpoint:
        config["endpoint"] = sink.endpoint
        # MinIO and most S3-compatible stores address buckets by path.
        config["force_path_style"] = True
    return config


def _pipeline(
    sources: dict[str, Any],
    transforms: dict[str, Any],
    tagged: list[str],
    sink: SinkSettings,
    data_dir: str,
    api: bool,
) -> dict[str, Any]:
    """Sources and their tagging transforms, then `ts` on everything, then the S3 sink."""
    config: dict[str, Any] = {"data_dir": data_dir}
    if api:
        # Loopback only: for `kubectl exec … vector top`. No playground/graphql options, which
        # Vector 0.55+ rejects at start-up.
        config["api"] = {"enabled": True, "address": "127.0.0.1:8686"}
    return {
        **config,
        "sources": sources,
        "transforms": {**transforms, "add_timestamp": _remap(tagged, ADD_TIMESTAMP)},
        "sinks": {"s3_sink": s3_sink(["add_timestamp"], sink)},
    }


def agent_config(
    sink: SinkSettings, *, data_dir: str, api: bool, ship_node_exporter: bool
) -> dict[str, Any]:
    """Per-node agent: only data about its own node."""
    sources: dict[str, Any] = {
        "host_metrics": {"type": "host_metrics", "scrape_interval_secs": INTERVALS["host_metrics"]},
    }
    transforms: dict[str, Any] = {
        "host_filter": _remap(["host_metrics"], f'.tags.host = get_env_var!("{NODE_NAME_ENV}")'),
    }
    tagged = ["host_filter"]
    if ship_node_exporter:
        # node-exporter listens on the host network: the agent reads the exporter of its node.
        sources["node-exporter"] = _scrape(
            f"http://${{{HOST_IP_ENV}}}:{NODE_EXPORTER_PORT}/metrics", INTERVALS["node-exporter"]
        )
        transforms["node_exporter_tag"] = _remap(
            ["node-exporter"],
            f'.tags.host = get_env_var!("{NODE_NAME_ENV}")\n' + _collector_tag("node-exporter"),
        )
        tagged.append("node_exporter_tag")
    return _pipeline(sources, transforms, tagged, sink, data_dir, api)


def collector_config(
    sink: SinkSettings, sources_from: CollectorSources, *, data_dir: str, api: bool
) -> dict[str, Any]:
    """The single cluster-level collector: each data set once, whatever the node count."""
    ep = sources_from.endpoints
    sources: dict[str, Any] = {
        "kube-state-metrics": _scrape(ep.kube_state_metrics, INTERVALS["kube-state-metrics"]),
        "cadvisor": _scrape(
            f"{ep.prometheus_server}/federate",
            INTERVALS["cadvisor"],
            {"match[]": [f'{name}{{job="{CADVISOR_JOB}"}}' for name in CADVISOR_SERIES]},
        ),
        "event-exporter": _scrape(ep.event_exporter, INTERVALS["event-exporter"]),
    }
    transforms: dict[str, Any] = {
        "kube_state_filter": {
            "type": "filter",
            "inputs": ["kube-state-metrics"],
            "condition": _name_is_any(KUBE_STATE_METRICS),
        },
        "kube_state_tag": _remap(["kube_state_filter"], _collector_tag("kube-state-metrics")),
        "cadvisor_filter": {
            "type": "filter",
            "inputs": ["cadvisor"],
            "condition": _starts_with_any(CADVISOR_PREFIXES),
        },
        # cAdvisor series describe the node in `instance` (Prometheus' node discovery sets it
        # to the node name), not the collector's node.
        "cadvisor_tag": _remap(
            ["cadvisor_filter"],
            "if exists(.tags.instance) { .tags.host = .tags.instance }\n"
            + _collector_tag("cadvisor"),
        ),
        "event_exporter_tag": _remap(["event-exporter"], _collector_tag("event-exporter")),
    }
    tagged = ["kube_state_tag", "cadvisor_tag", "event_exporter_tag"]
    if sources_from.collect_dcgm:
        sources["dcgm-exporter"] = _scrape(
            f"{ep.prometheus_server}/federate",
            INTERVALS["dcgm-exporter"],
            {
                "match[]": [
                    f'{{job="{DCGM_JOB}",__name__=~"{"|".join(p + ".*" for p in DCGM_PREFIXES)}"}}'
                ]
            },
        )
        transforms["dcgm_filter"] = {
            "type": "filter",
            "inputs": ["dcgm-exporter"],
            "condition": _starts_with_any(DCGM_PREFIXES),
        }
        # The node comes from Kubernetes (Prometheus' `node` label), else the exporter's
        # Hostname; the labels federation adds are dropped so the series look as scraped.
        transforms["dcgm_tag"] = _remap(
            ["dcgm_filter"],
            "if exists(.tags.node) { .tags.host = .tags.node }"
            " else if exists(.tags.Hostname) { .tags.host = .tags.Hostname }\n"
            "del(.tags.node)\ndel(.tags.job)\ndel(.tags.instance)\n"
            + _collector_tag("dcgm-exporter"),
        )
        tagged.append("dcgm_tag")
    return _pipeline(sources, transforms, tagged, sink, data_dir, api)
