"""Vector's configuration, built from settings: what each workload collects and where it goes.

One writer (the collector), many forwarders (the agents):
- the **agent** (a DaemonSet, one pod per node) collects only what describes its own node —
  `host_metrics`, and optionally that node's node-exporter — tags it with the node's name and
  forwards it to the collector over Vector's native protocol, keeping it in a disk buffer until
  the collector has taken it (end-to-end acknowledgements);
- the **collector** (one replica) is the only pod that writes to S3. It receives the agents'
  events, receives cAdvisor and DCGM series from Prometheus' remote write (Prometheus scrapes
  every kubelet and every GPU exporter once, and retries until the collector has taken each
  sample), and scrapes kube-state-metrics and the event exporter itself — each data set once.

What reaches S3 (the shape Cedana ingests):
- objects `<key prefix><unix seconds>-<uuid>.log` holding a JSON array of Vector metric events
  (the `json` codec's default framing on this sink);
- every event carries `collector` (except host metrics, which keep Vector's own tags, as in the
  original install) and `ts`: unix seconds of the minute the sample was taken, which the key
  prefix uses, so the number of objects follows the batch timeout, not the number of nodes;
- node-level data sets (host metrics, node-exporter, cAdvisor, DCGM) carry `host`, the node the
  series describes; kube-state-metrics and the event exporter describe the cluster and carry no
  `host`;
- cAdvisor and DCGM series arrive as gauges holding the current value (Prometheus remote write
  carries no metric types, as federation did not before); kube-state-metrics, the event
  exporter and host metrics keep their own types.

Vector's own metrics (`internal_metrics`, on :9598 through a `prometheus_exporter` sink) are a
graph of their own in both configs: nothing else reads them, so they never reach the collector
or S3. Prometheus scrapes them and keeps them for `scripts/verify` (the last write to S3, the
buffers' fill).

The endpoints are parameters (`AgentWiring`, `CollectorWiring`): the program passes in-cluster
names, the pipeline lab passes loopback ports, and both run the same configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog import (
    CADVISOR_JOB,
    CADVISOR_SERIES,
    COLLECTOR_TAGS,
    DCGM_JOB,
    DCGM_PREFIXES,
    EVENT_METRIC,
    EVENT_TAGS,
    INTERVALS,
    KUBE_STATE_METRICS,
)
from components.common.names import (
    AGENT_SINK,
    CEDANA_TARGET_BACKEND,
    EVENTS_PATH,
    S3_SINK,
    VECTOR_AGENTS_PORT,
    VECTOR_API_PORT,
    VECTOR_EVENTS_PORT,
    VECTOR_METRICS_PORT,
    VECTOR_REMOTE_WRITE_PORT,
    Endpoints,
)

NODE_NAME_ENV = "VECTOR_SELF_NODE_NAME"  # injected by the chart in the Agent role
NODE_IP_ENV = "VECTOR_SELF_NODE_IP"  # the node's address (status.hostIP), for an existing exporter
# Where listeners bind by default: every address of the pod, IPv4 and IPv6 (a dual-stack
# socket on Linux); the program passes 0.0.0.0 where the cluster has no IPv6.
ANY_ADDRESS = "[::]"
# `ts` is the start of the minute a sample was taken: every event of that minute shares one
# key prefix, so objects per minute do not grow with the number of nodes.
TS_BUCKET_SECONDS = 60
ADD_TIMESTAMP = (
    "t = to_unix_timestamp(timestamp(.timestamp) ?? now())\n"
    f".tags.ts = to_string(t - mod(t, {TS_BUCKET_SECONDS}))"
)
# Answer the sender only once the next hop holds the event (the collector's S3 sink keeps it in
# its persistent disk buffer; the agent's sink, in its node's disk buffer).
ACKNOWLEDGED = {"enabled": True}
# A 403 (a session policy that does not cover the key prefix, credentials being replaced) or a
# 400/401 (an expired or unknown token) keeps the batch and retries it instead of dropping it.
S3_RETRY = {"type": "custom", "status_codes": [400, 401, 403]}
# One request in flight per sink. A disk buffer acknowledges its records in order, so with
# several requests a batch written after a retried one stays unacknowledged until that one
# succeeds: a restart in between sends it again (a lab run found 30 s of data written twice
# after the collector was killed behind a retry). One at a time, a written batch is
# acknowledged at once; a few to a dozen objects a minute never need more.
IN_ORDER = {"concurrency": 1}
# Events remembered to tell a repeat from a new one: a busy cluster's Events of a day.
EVENTS_REMEMBERED = 100_000

# cgroups, if asked for: the root, the QoS classes and the pods (not every container).
CGROUPS_LEVELS = 3

# Vector's own metrics: the source and the sink that exposes them (the chart names the sink's
# container port after it: `vector-metrics`). Sampled as often as Prometheus scrapes them.
OWN_METRICS_SOURCE = "internal_metrics"
OWN_METRICS_SINK = "vector_metrics"
OWN_METRICS_INTERVAL = 15


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
    # Where Cedana's answer is (credentialsMode cedana): the file Vector reads the bucket,
    # region and key prefix from, when a setting leaves one of them to Cedana.
    target_file: str | None = None


@dataclass(frozen=True)
class AgentWiring:
    """Where an agent sends its events and finds its node's exporter."""

    collector: str  # host:port of the collector's `vector` source
    node_exporter: str  # URL of this node's node-exporter
    api: str | None  # host:port of Vector's API (health probes), None for no API
    metrics: str | None = None  # listen host:port for Vector's own metrics, None for none

    @staticmethod
    def in_cluster(
        endpoints: Endpoints,
        *,
        api: bool,
        node_exporter_port: int,
        existing_node_exporter: bool,
        listen: str = ANY_ADDRESS,
    ) -> AgentWiring:
        return AgentWiring(
            collector=f"{endpoints.host(endpoints.collector_service)}:{VECTOR_AGENTS_PORT}",
            # Ours: a node-local Service (internalTrafficPolicy Local), the node's own exporter
            # on IPv4 and IPv6 nodes alike. One the cluster already runs: at the node's address.
            node_exporter=(
                f"http://${{{NODE_IP_ENV}}}:{node_exporter_port}/metrics"
                if existing_node_exporter
                else endpoints.node_exporter(node_exporter_port)
            ),
            api=f"{listen}:{VECTOR_API_PORT}" if api else None,
            metrics=f"{listen}:{VECTOR_METRICS_PORT}",
        )


@dataclass(frozen=True)
class CollectorWiring:
    """Where the collector listens and what it scrapes."""

    agents: str  # listen host:port for the agents (Vector's native protocol)
    remote_write: str  # listen host:port for Prometheus' remote write
    events: str  # listen host:port for the event exporter's posts
    kube_state_metrics: str  # URL
    event_exporter: str  # URL
    api: str | None
    metrics: str | None = None  # listen host:port for Vector's own metrics, None for none

    @staticmethod
    def in_cluster(
        endpoints: Endpoints, *, api: bool, listen: str = ANY_ADDRESS
    ) -> CollectorWiring:
        return CollectorWiring(
            agents=f"{listen}:{VECTOR_AGENTS_PORT}",
            remote_write=f"{listen}:{VECTOR_REMOTE_WRITE_PORT}",
            events=f"{listen}:{VECTOR_EVENTS_PORT}",
            kube_state_metrics=endpoints.kube_state_metrics,
            event_exporter=endpoints.event_exporter,
            api=f"{listen}:{VECTOR_API_PORT}" if api else None,
            metrics=f"{listen}:{VECTOR_METRICS_PORT}",
        )


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


def _scrape(endpoint: str, interval: int) -> dict[str, Any]:
    return {
        "type": "prometheus_scrape",
        "endpoints": [endpoint],
        "scrape_interval_secs": interval,
        # Vector's default (5 s) loses the whole interval when a large cluster's answer is
        # slow; allow most of the interval instead.
        "scrape_timeout_secs": max(1, interval * 4 // 5),
    }


def _collector_tag(data_set: str) -> str:
    return f'.tags.collector = "{COLLECTOR_TAGS[data_set]}"'


def _remap(inputs: list[str], source: str) -> dict[str, Any]:
    return {"type": "remap", "inputs": inputs, "source": source}


def _filter(inputs: list[str], condition: str) -> dict[str, Any]:
    return {"type": "filter", "inputs": inputs, "condition": condition}


def _disk_buffer(max_bytes: int) -> dict[str, Any]:
    # Blocks (back-pressure) instead of dropping when full; survives restarts of the pod.
    return {"type": "disk", "max_size": max_bytes, "when_full": "block"}


def _base(data_dir: str, api: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"data_dir": data_dir}
    if api:
        # GET /health answers the kubelet's probes; NetworkPolicy keeps other pods out. No
        # playground/graphql options, which Vector 0.55+ rejects at start-up.
        config["api"] = {"enabled": True, "address": api}
    return config


def own_metrics(address: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Vector's own metrics exposed on `address` for Prometheus: (sources, sinks) to merge.

    A graph of its own: the sink reads only the `internal_metrics` source and nothing else
    reads that source, so these series never reach the collector's or S3's sinks. What
    Prometheus keeps of them (components/prometheus/values.py) is never remote-written.
    """
    if not address:
        return {}, {}
    source = {"type": "internal_metrics", "scrape_interval_secs": OWN_METRICS_INTERVAL}
    sink = {"type": "prometheus_exporter", "inputs": [OWN_METRICS_SOURCE], "address": address}
    return {OWN_METRICS_SOURCE: source}, {OWN_METRICS_SINK: sink}


def host_metrics_source(collectors: tuple[str, ...], interval: int) -> dict[str, Any]:
    source: dict[str, Any] = {
        "type": "host_metrics",
        "scrape_interval_secs": interval,
        "collectors": list(collectors),
    }
    if "cgroups" in collectors:
        source["cgroups"] = {"levels": CGROUPS_LEVELS}
    return source


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
        "retry_strategy": S3_RETRY,
        "request": IN_ORDER,
        "acknowledgements": ACKNOWLEDGED,
        "buffer": _disk_buffer(sink.buffer_max_bytes),
    }
    if sink.endpoint:
        config["endpoint"] = sink.endpoint
        # MinIO and most S3-compatible stores address buckets by path.
        config["force_path_style"] = True
    return config


def agent_config(
    wiring: AgentWiring,
    *,
    data_dir: str,
    buffer_bytes: int,
    host_collectors: tuple[str, ...],
    ship_node_exporter: bool,
    intervals: Mapping[str, int] = INTERVALS,
) -> dict[str, Any]:
    """Per-node agent: data about its own node, tagged with the node, sent to the collector."""
    node = f'.tags.host = "${{{NODE_NAME_ENV}}}"'  # Vector interpolates it at start-up
    sources: dict[str, Any] = {
        "host_metrics": host_metrics_source(host_collectors, intervals["host_metrics"]),
    }
    transforms: dict[str, Any] = {"host_filter": _remap(["host_metrics"], node)}
    if ship_node_exporter:
        sources["node-exporter"] = _scrape(wiring.node_exporter, intervals["node-exporter"])
        transforms["node_exporter_tag"] = _remap(
            ["node-exporter"], f"{node}\n{_collector_tag('node-exporter')}"
        )
    metrics_sources, metrics_sinks = own_metrics(wiring.metrics)
    return {
        **_base(data_dir, wiring.api),
        "sources": sources | metrics_sources,
        "transforms": transforms,
        "sinks": {
            **metrics_sinks,
            AGENT_SINK: {
                "type": "vector",
                "inputs": list(transforms),
                "address": wiring.collector,
                "compression": True,
                "request": IN_ORDER,
                "acknowledgements": ACKNOWLEDGED,
                "buffer": _disk_buffer(buffer_bytes),
            },
        },
    }


# Each posted Event as one metric event: its time is the Event's (last seen, else its
# EventTime, else first seen), its tags the Event's reason, object and node.
EVENT_SHAPE = "\n".join(
    [
        "t = 0",
        "for_each(["
        + ", ".join(f'"{f}"' for f in ("lastTimestamp", "eventTime", "firstTimestamp"))
        + "]) -> |_i, field| { if t <= 0 { t = to_int(get(., [field]) ?? 0) ?? 0 } }",
        "if t > 0 { .timestamp = from_unix_timestamp!(t) }",
        *(f'.{tag} = to_string(.{tag}) ?? ""' for tag in EVENT_TAGS),
    ]
)


def events_pipeline(source: str) -> dict[str, Any]:
    """The exporter's posts as metric events, each Event once: the exporter sends every Event
    again when it restarts (it lists what it had seen), so Events are told apart by uid."""
    return {
        "events_once": {
            "type": "dedupe",
            "inputs": [source],
            "fields": {"match": ["uid"]},
            "cache": {"num_events": EVENTS_REMEMBERED},
        },
        "events_shape": _remap(["events_once"], EVENT_SHAPE),
        "events_metric": {
            "type": "log_to_metric",
            "inputs": ["events_shape"],
            "metrics": [
                {
                    "type": "counter",
                    "field": "uid",
                    "name": EVENT_METRIC,
                    "tags": {tag: helm_escape(f"{{{{ {tag} }}}}") for tag in EVENT_TAGS},
                }
            ],
        },
        "events_tag": _remap(
            ["events_metric"],
            "for_each(object(.tags) ?? {}) -> |key, value| {\n"
            '  if value == "" { .tags = remove!(.tags, [key]) }\n'
            "}\n" + _collector_tag("event-exporter"),
        ),
    }


def collector_config(
    wiring: CollectorWiring,
    sink: SinkSettings,
    *,
    data_dir: str,
    collect_dcgm: bool,
    ship_events: bool = True,
    intervals: Mapping[str, int] = INTERVALS,
) -> dict[str, Any]:
    """The single writer: each data set once, whatever the node count."""
    sources: dict[str, Any] = {
        "agents": {"type": "vector", "address": wiring.agents},
        "prometheus": {"type": "prometheus_remote_write", "address": wiring.remote_write},
        "kube-state-metrics": _scrape(wiring.kube_state_metrics, intervals["kube-state-metrics"]),
        "event-exporter": _scrape(wiring.event_exporter, intervals["event-exporter"]),
    }
    transforms: dict[str, Any] = {
        "kube_state_filter": _filter(["kube-state-metrics"], _name_is_any(KUBE_STATE_METRICS)),
        "kube_state_tag": _remap(["kube_state_filter"], _collector_tag("kube-state-metrics")),
        "cadvisor_filter": _filter(
            ["prometheus"], f'.tags.job == "{CADVISOR_JOB}" && ({_name_is_any(CADVISOR_SERIES)})'
        ),
        # Prometheus' node discovery sets `instance` to the node the kubelet runs on.
        "cadvisor_tag": _remap(
            ["cadvisor_filter"],
            "if exists(.tags.instance) { .tags.host = .tags.instance }\n"
            + _collector_tag("cadvisor"),
        ),
        "event_exporter_tag": _remap(["event-exporter"], _collector_tag("event-exporter")),
    }
    tagged = ["agents", "kube_state_tag", "cadvisor_tag", "event_exporter_tag"]
    if ship_events:
        sources["events"] = {
            "type": "http_server",
            "address": wiring.events,
            "path": EVENTS_PATH,
            "decoding": {"codec": "json"},
            # The exporter gets its 200 once the Event is in the collector's disk buffer.
            "acknowledgements": ACKNOWLEDGED,
        }
        transforms |= events_pipeline("events")
        tagged.append("events_tag")
    if collect_dcgm:
        transforms["dcgm_filter"] = _filter(
            ["prometheus"], f'.tags.job == "{DCGM_JOB}" && ({_starts_with_any(DCGM_PREFIXES)})'
        )
        # The node comes from Kubernetes (Prometheus' `node` label), else the exporter's
        # Hostname; the labels Prometheus adds are dropped so the series look as scraped.
        transforms["dcgm_tag"] = _remap(
            ["dcgm_filter"],
            "if exists(.tags.node) { .tags.host = .tags.node }"
            " else if exists(.tags.Hostname) { .tags.host = .tags.Hostname }\n"
            "del(.tags.node)\ndel(.tags.job)\ndel(.tags.instance)\n"
            + _collector_tag("dcgm-exporter"),
        )
        tagged.append("dcgm_tag")
    transforms["add_timestamp"] = _remap(tagged, ADD_TIMESTAMP)
    metrics_sources, metrics_sinks = own_metrics(wiring.metrics)
    config = {
        **_base(data_dir, wiring.api),
        "sources": sources | metrics_sources,
        "transforms": transforms,
        "sinks": {**metrics_sinks, S3_SINK: s3_sink(["add_timestamp"], sink)},
    }
    if sink.target_file:
        # A secret backend, so that SECRET[cedana.<key>] works in any field; Vector reads it
        # again on every reload, which a change of the file's directory starts (--watch-config).
        config["secret"] = {CEDANA_TARGET_BACKEND: {"type": "file", "path": sink.target_file}}
    return config
