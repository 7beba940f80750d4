"""What verify reads (a Snapshot) and what it says about it (Verdicts): plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """One check's answer: ✓ or ✗, one line, and for a ✗ the one thing to do."""

    check: str  # a stable name, for --json: workloads, agents, dcgm, collector-volume, …
    ok: bool
    line: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "line": self.line,
            "fix": self.fix,
            "details": self.details,
        }


@dataclass(frozen=True)
class Unread:
    """Something verify could not read, and why, in words (status: the HTTP status, if any)."""

    what: str
    why: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.what}: {self.why}"


@dataclass(frozen=True)
class Series:
    """One Prometheus series: its labels and its (unix seconds, value) points, oldest first."""

    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]

    @property
    def value(self) -> float:
        return self.points[-1][1]

    @property
    def at(self) -> float:
        return self.points[-1][0]


Read: TypeAlias = T | Unread  # a value read, or why it could not be


@dataclass(frozen=True)
class Snapshot:
    """Everything verify read from one cluster, each part read or Unread."""

    nodes: Read[list[dict[str, Any]]]
    pods: Read[list[dict[str, Any]]]
    deployments: Read[list[dict[str, Any]]]
    daemonsets: Read[list[dict[str, Any]]]
    statefulsets: Read[list[dict[str, Any]]]
    claims: Read[list[dict[str, Any]]]
    storage_classes: Read[list[dict[str, Any]]]
    # The collector's deployed Vector config (its ConfigMap), parsed.
    collector_config: Read[dict[str, Any]]
    # The collector's `vector` container log, lines with their timestamps.
    collector_log: Read[str]
    # The refresher's GET /status (None: no refresher in this credentials mode).
    refresher: Read[dict[str, Any]] | None
    # Prometheus: named queries' answers.
    metrics: dict[str, Read[list[Series]]]
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def when(seconds: float) -> str:
    """Unix seconds as a UTC time of day, e.g. 10:41:12Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%SZ")


def ago(seconds: float) -> str:
    """A duration in words: 23 s, 14 min, 3 h 5 min."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(int(seconds // 60), 60)
    return f"{hours} h {minutes} min"


def size(count: float) -> str:
    """Bytes in binary units: 512 MiB, 4.0 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{count:.0f} B"


def listed(items: list[str], limit: int = 5) -> str:
    """At most `limit` names, then how many more."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def plural(count: float, noun: str) -> str:
    """1 retry, 3 retries, 0 events."""
    whole = f"{count:.0f}"
    if whole == "1":
        return f"1 {noun}"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return f"{whole} {noun[:-1]}ies"
    return f"{whole} {noun}s"
