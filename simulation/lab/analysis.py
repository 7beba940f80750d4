"""What reached S3, compared with what the fixtures served: duplicates, gaps, latency, volume."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from simulation.standins.exporters import Served

# Labels the pipeline adds or Prometheus attaches; a series is known by its own labels.
ADDED = {"ts", "collector", "host", "job", "instance", "node", "kubernetes_io_hostname"}
ADDED |= {"metrics_path"}


@dataclass(frozen=True)
class Event:
    data_set: str
    node: str | None
    name: str
    labels: tuple[tuple[str, str], ...]
    at: float  # the event's timestamp
    written: float  # when its object was written
    ts: str
    key: str


@dataclass
class Delivery:
    objects: list[tuple[str, int, float]] = field(default_factory=list)  # key, bytes, written
    events: list[Event] = field(default_factory=list)


def data_set_of(tags: dict[str, str], namespace: str | None) -> str:
    # Host metrics keep Vector's own `collector` tag (cpu, memory, …): known by namespace.
    if namespace == "host":
        return "host"
    return tags.get("collector") or "unknown"


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_delivery(s3_port: int, bucket: str, written_at: dict[str, float]) -> Delivery:
    """Every object in the bucket and every event in it (moto's server, read directly)."""
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        region_name="us-east-1",
        aws_access_key_id="lab",
        aws_secret_access_key="lab",
    )
    delivery = Delivery()
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            written = written_at.get(key, item["LastModified"].timestamp())
            delivery.objects.append((key, len(body), written))
            for raw in json.loads(body):
                tags = raw.get("tags") or {}
                delivery.events.append(
                    Event(
                        data_set=data_set_of(tags, raw.get("namespace")),
                        node=tags.get("host"),
                        name=raw["name"],
                        labels=tuple(sorted(tags.items())),
                        at=_parse_time(raw["timestamp"]),
                        written=written,
                        ts=tags.get("ts", ""),
                        key=key,
                    )
                )
    return delivery


def _identity(data_set: str, node: str | None, name: str, labels: Iterable[tuple[str, str]]) -> Any:
    own = tuple(sorted((k, v) for k, v in labels if k not in ADDED))
    return (data_set, node if data_set in ("cadvisor", "dcgm", "host") else None, name, own)


@dataclass
class Counts:
    served: int = 0
    duplicates: int = 0
    gaps: int = 0
    unmatched: int = 0  # events in S3 that match no served sample
    gap_times: list[float] = field(default_factory=list)
    # When each extra copy reached S3: tells which fault (if any) sent a batch twice.
    duplicate_writes: list[float] = field(default_factory=list)


def compare_served(
    served: list[Served],
    events: list[Event],
    window: tuple[float, float],
    tolerance: dict[str, float],
) -> dict[str, Counts]:
    """Per data set: each served sample in the window matched to the events that carry it."""
    arrived: dict[Any, list[Event]] = defaultdict(list)
    for event in events:
        arrived[_identity(event.data_set, event.node, event.name, event.labels)].append(event)
    counts: dict[str, Counts] = defaultdict(Counts)
    claimed: dict[Any, set[int]] = defaultdict(set)
    for answer in served:
        if not window[0] <= answer.at <= window[1]:
            continue
        for sample in answer.samples:
            identity = _identity(answer.data_set, answer.node, sample.name, sample.labels)
            copies = arrived.get(identity, [])
            near = [
                i
                for i, e in enumerate(copies)
                if abs(e.at - answer.at) <= tolerance[answer.data_set]
            ]
            count = counts[answer.data_set]
            count.served += 1
            if not near:
                count.gaps += 1
                count.gap_times.append(answer.at)
            count.duplicates += max(0, len(near) - 1)
            count.duplicate_writes += sorted(copies[i].written for i in near)[1:]
            claimed[identity] |= set(near)
    lo, hi = window
    for identity, copies in arrived.items():
        data_set = identity[0]
        if data_set == "host":
            continue
        margin = tolerance.get(data_set, 0)
        for i, e in enumerate(copies):
            if lo + margin <= e.at <= hi - margin and i not in claimed[identity]:
                counts[data_set].unmatched += 1
    return dict(counts)


def host_metrics_counts(
    events: list[Event],
    interval: float,
    window: tuple[float, float],
    down: dict[str, list[tuple[float, float]]],
) -> Counts:
    """Host metrics have no fixture: one event per series per interval, no step missing or
    doubled (outside the times an agent was deliberately down)."""
    series: dict[Any, list[Event]] = defaultdict(list)
    for event in events:
        if event.data_set == "host" and window[0] <= event.at <= window[1]:
            series[_identity("host", event.node, event.name, event.labels)].append(event)
    counts = Counts()
    for identity, arrived in series.items():
        arrived.sort(key=lambda e: (e.at, e.written))
        counts.served += len(arrived)
        for first, second in itertools.pairwise(arrived):
            before, after = first.at, second.at
            step = after - before
            if step < interval / 2:
                counts.duplicates += 1
                counts.duplicate_writes.append(max(first.written, second.written))
            elif step > interval * 1.5:
                node = identity[1]
                if any(s <= after and before <= e for s, e in down.get(node, [])):
                    continue
                missing = round(step / interval) - 1
                counts.gaps += missing
                counts.gap_times += [before + interval * (k + 1) for k in range(missing)]
    return counts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(events: list[Event], window: tuple[float, float]) -> tuple[float, float]:
    waits = [e.written - e.at for e in events if window[0] <= e.at <= window[1]]
    return percentile(waits, 0.5), percentile(waits, 0.95)


def per_minute(
    objects: list[tuple[str, int, float]], window: tuple[float, float]
) -> tuple[float, float]:
    inside = [(size, at) for _, size, at in objects if window[0] <= at <= window[1]]
    minutes = (window[1] - window[0]) / 60
    return len(inside) / minutes, sum(size for size, _ in inside) / minutes


def rss_summary(samples: list[int]) -> dict[str, float]:
    if not samples:
        return {"max_mib": 0.0, "mean_mib": 0.0}
    return {
        "max_mib": round(max(samples) / 1024, 1),
        "mean_mib": round(statistics.fmean(samples) / 1024, 1),
    }
