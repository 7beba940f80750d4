"""verify's checks of what flows, run against the lab's real Vector, Prometheus and refresher.

The lab has no API server: the probe reads the lab's Prometheus and the refresher's health port
directly on loopback, and the collector's log file (Vector's own timestamp opens each line,
where the kubelet's would), then runs the very checks `scripts/verify` runs
(verify/delivery.py: S3 writes, credentials, buffers, remote write). So the metric names, the
log lines and the queries verify relies on are proven against the real engines, while the
reading through the API server is proven by the simulated cluster and the real nodes.

The lab's Prometheus scrapes each Vector's own metrics as static targets labelled as the
program's pod discovery labels them (`job="vector"`, `release`, `pod`, `node`), and itself as
the chart's `prometheus` job does, each with the program's keep rules.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.config import Settings
from components.prometheus.values import (
    OBSERVED_INTERVAL,
    SELF_JOB,
    VECTOR_METRICS_JOB,
    self_scrape_config,
    vector_metrics_scrape_config,
)
from verify.delivery import check_buffers, check_credentials, check_remote_write, check_s3_writes
from verify.read import metric_tasks, run_all
from verify.verdict import Snapshot, Unread, Verdict


class DirectReader:
    """JSON answers of a loopback HTTP server (verify.read.Reader's `json`, without the API
    server in between)."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.base, self.timeout = f"http://127.0.0.1:{port}", timeout

    def json(self, what: str, path: str, query: list[tuple[str, str]] | None = None) -> Any:
        url = self.base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return Unread(what, f"{error.code} {error.read()[:200]!r}", error.code)
        except (OSError, ValueError) as error:
            return Unread(what, f"{type(error).__name__}: {error}")


def observed_jobs(
    vectors: dict[str, tuple[int, str, str]], prometheus_port: int
) -> list[dict[str, Any]]:
    """Scrape jobs for what verify reads: `vectors` maps a pod name to (metrics port, release,
    node). The program's keep rules; discovery replaced by static targets and their labels."""
    program = vector_metrics_scrape_config("lab")
    vector_job = {
        "job_name": VECTOR_METRICS_JOB,
        "scrape_interval": OBSERVED_INTERVAL,
        "static_configs": [
            {
                "targets": [f"127.0.0.1:{port}"],
                "labels": {"pod": pod, "release": release, "node": node},
            }
            for pod, (port, release, node) in sorted(vectors.items())
        ],
        "metric_relabel_configs": program["metric_relabel_configs"],
    }
    own = self_scrape_config()
    self_job = {
        "job_name": SELF_JOB,
        "scrape_interval": OBSERVED_INTERVAL,
        "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}],
        "metric_relabel_configs": own["metric_relabel_configs"],
    }
    return [vector_job, self_job]


def probe(
    settings: Settings,
    *,
    prometheus_port: int,
    refresher_health_port: int | None,
    collector_log: Path,
    collector_config: dict[str, Any],
    timeout: float = 5.0,
) -> dict[str, Verdict]:
    """The data-path verdicts, by check name, from the lab's engines as they are now."""
    now = datetime.now(UTC)
    metrics = run_all(
        metric_tasks(DirectReader(prometheus_port, timeout), "/api/v1", settings, now.timestamp()),
        timeout,
    )
    refresher: dict[str, Any] | Unread | None = None
    if refresher_health_port is not None:
        refresher = DirectReader(refresher_health_port, timeout).json("the refresher", "/status")
    try:
        log = collector_log.read_text(errors="replace")
    except OSError as error:
        log = ""
        del error
    no_pods = Unread("pods", "the lab has no API server")
    snapshot = Snapshot(
        nodes=no_pods,
        pods=no_pods,
        deployments=no_pods,
        daemonsets=no_pods,
        statefulsets=no_pods,
        claims=no_pods,
        storage_classes=no_pods,
        collector_config=collector_config,
        collector_log=log,
        refresher=refresher,
        metrics=metrics,
        read_at=now,
    )
    verdicts = [
        check_s3_writes(snapshot, settings),
        check_credentials(snapshot, settings),
        check_buffers(snapshot, settings),
        check_remote_write(snapshot, settings),
    ]
    return {v.check: v for v in verdicts}
