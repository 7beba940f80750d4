"""The lab's configurations, built by the program's own builders with loopback endpoints.

Vector's agent and collector configs come from `agent_pipeline` / `collector_pipeline` (what
the Helm values carry), passed through the escape Helm's `tpl` undoes; Prometheus runs the
program's scrape jobs and remote write, with Kubernetes discovery turned into static targets
labelled as discovery would label them. Intervals can be shortened by one factor for all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.catalog import CADVISOR_JOB, DCGM_JOB, INTERVALS
from components.config import Settings, load_settings
from components.prometheus.values import (
    DcgmTarget,
    dcgm_scrape_config,
    remote_write,
    scrape_configs,
)
from components.vector.pipeline import AgentWiring, CollectorWiring
from components.vector.values import (
    AgentSettings,
    CollectorSettings,
    agent_pipeline,
    collector_pipeline,
)
from scripts.stack_files import MappingSource, stack_config

BUCKET = "cedana-lab-metrics"
REGION = "us-east-1"
LAB_SECRETS = {
    "clusterId": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
    "authToken": "lab-cedana-token",
}


def lab_settings(s3_endpoint: str) -> Settings:
    """The default stack (Pulumi.yaml's defaults), writing to the lab's S3."""
    values = {"s3Bucket": BUCKET, "awsRegion": REGION, "s3Endpoint": s3_endpoint}
    config = stack_config(values, LAB_SECRETS)
    return load_settings(MappingSource(config.values, config.secret_keys))


def scaled(scale: float) -> dict[str, int]:
    """Every interval divided by `scale` (at least one second)."""
    return {name: max(1, math.ceil(seconds / scale)) for name, seconds in INTERVALS.items()}


def helm_tpl_unescape(value: Any) -> Any:
    """What Helm's `tpl` makes of the escapes the program adds (tested with real Helm)."""
    if isinstance(value, str):
        return value.replace('{{ "{{" }}', "{{").replace('{{ "}}" }}', "}}")
    if isinstance(value, dict):
        return {k: helm_tpl_unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [helm_tpl_unescape(v) for v in value]
    return value


@dataclass(frozen=True)
class Ports:
    collector_agents: int  # the collector's `vector` source
    remote_write: int
    fixtures: int
    collector_api: int
    collector_events: int  # the collector's `http_server` source, which the exporter posts to


def agent_vector_config(
    settings: Settings,
    *,
    collector: str,
    api_port: int,
    fixtures: int,
    data_dir: str,
    intervals: Mapping[str, int],
    metrics_port: int | None = None,
) -> dict[str, Any]:
    wiring = AgentWiring(
        collector=collector,
        node_exporter=f"http://127.0.0.1:{fixtures}/node-exporter/metrics",
        api=f"127.0.0.1:{api_port}",
        metrics=f"127.0.0.1:{metrics_port}" if metrics_port else None,
    )
    return dict(
        helm_tpl_unescape(
            agent_pipeline(AgentSettings.from_settings(settings), wiring, data_dir, intervals)
        )
    )


def collector_vector_config(
    settings: Settings,
    ports: Ports,
    *,
    data_dir: str,
    intervals: Mapping[str, int],
    metrics_port: int | None = None,
) -> dict[str, Any]:
    wiring = CollectorWiring(
        agents=f"127.0.0.1:{ports.collector_agents}",
        remote_write=f"127.0.0.1:{ports.remote_write}",
        events=f"127.0.0.1:{ports.collector_events}",
        kube_state_metrics=f"http://127.0.0.1:{ports.fixtures}/ksm/metrics",
        event_exporter=f"http://127.0.0.1:{ports.fixtures}/events/metrics",
        api=f"127.0.0.1:{ports.collector_api}",
        metrics=f"127.0.0.1:{metrics_port}" if metrics_port else None,
    )
    collector = CollectorSettings.from_settings(settings, BUCKET)
    config = collector_pipeline(collector, wiring, data_dir, intervals)
    return dict(helm_tpl_unescape(config))


def _interval(seconds: int) -> str:
    return f"{seconds}s"


def prometheus_config(
    settings: Settings,
    *,
    fixtures: int,
    remote_write_port: int,
    nodes: list[str],
    gpu_nodes: list[str],
    intervals: Mapping[str, int],
    observed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The program's jobs: cAdvisor per node (as node discovery labels it), DCGM per GPU
    exporter pod (as endpoint discovery labels it), and the program's remote write; with
    `observed`, also the jobs verify reads (simulation/lab/verify_probe.py)."""
    cadvisor_job = scrape_configs(None)[CADVISOR_JOB]
    dcgm_job = dcgm_scrape_config(DcgmTarget("dcgm-exporters", "lab", 9400, "/metrics", ""))
    cadvisor_every = intervals["cadvisor"]
    dcgm_every = intervals["dcgm-exporter"]
    target = f"127.0.0.1:{fixtures}"
    (write,) = remote_write(f"http://127.0.0.1:{remote_write_port}/", True)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": _interval(cadvisor_every),
            "scrape_timeout": _interval(min(10, cadvisor_every)),
        },
        "scrape_configs": [
            {
                "job_name": CADVISOR_JOB,
                "scrape_interval": _interval(cadvisor_every),
                "static_configs": [
                    {
                        "targets": [target],
                        "labels": {
                            "__metrics_path__": f"/kubelet/{node}/metrics/cadvisor",
                            "instance": node,  # node discovery's instance: the node's name
                            "kubernetes_io_hostname": node,  # the chart's labelmap
                            "metrics_path": "/metrics/cadvisor",
                        },
                    }
                    for node in nodes
                ],
                "metric_relabel_configs": cadvisor_job["metric_relabel_configs"],
            },
            {
                "job_name": DCGM_JOB,
                "scrape_interval": _interval(dcgm_every),
                "scrape_timeout": _interval(min(10, dcgm_every)),
                "static_configs": [
                    {
                        "targets": [target],
                        "labels": {
                            "__metrics_path__": f"/dcgm/{node}/metrics",
                            "instance": f"10.1.0.{i + 1}:9400",  # the exporter pod's address
                            "node": node,  # what the program's relabel takes from discovery
                        },
                    }
                    for i, node in enumerate(gpu_nodes)
                ],
                "metric_relabel_configs": dcgm_job["metric_relabel_configs"],
            },
        ],
        "remote_write": [write],
    }
    config["scrape_configs"] += observed or []
    return config
