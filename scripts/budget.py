"""Prints the stack's CPU and memory budget per CPU node, per GPU node and per cluster.

    .venv/bin/python scripts/budget.py              # the defaults of Pulumi.yaml
    .venv/bin/python scripts/budget.py --stack dev  # with Pulumi.dev.yaml's values

Reads the settings the way the program does (Pulumi.yaml defaults under the stack file's
values) without the Pulumi CLI; secrets do not change the budget, so placeholders stand in.
The budget table in docs/sizing.md is this script's output for the defaults (a test compares them).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.common.quantities import cpu_millis, memory_bytes  # noqa: E402
from components.config import GpuMode, Resources, Settings, load_settings  # noqa: E402
from components.prometheus.values import RELOADER_RESOURCES  # noqa: E402
from scripts.stack_files import MappingSource, stack_config, stack_values  # noqa: E402

PLACEHOLDER_SECRETS = {
    "clusterId": "00000000-0000-0000-0000-000000000000",
    "authToken": "placeholder",
    "awsAccessKeyId": "placeholder",
    "awsSecretAccessKey": "placeholder",
}
PLACEHOLDER_PLAIN = {"s3Bucket": "placeholder-bucket", "awsRegion": "us-east-1"}


@dataclass(frozen=True)
class Line:
    workload: str
    resources: Resources


@dataclass(frozen=True)
class Budget:
    cpu_node: list[Line]
    gpu_node: list[Line]  # on top of what every node runs
    cluster: list[Line]


def budget(settings: Settings) -> Budget:
    # The refresher runs beside the collector only, once per cluster: no node pays for it.
    sidecar = settings.credentials_mode.runs_refresher
    refresher = [Line("cred-refresher (collector's sidecar)", settings.cred_refresher_resources)]
    every_node = [Line("vector agent", settings.vector_agent_resources)]
    if settings.ship_node_exporter and not settings.use_existing_node_exporter:
        every_node.append(Line("node-exporter", settings.node_exporter_resources))
    installs_dcgm = settings.gpu_mode is GpuMode.INSTALL
    gpu = [Line("dcgm-exporter", settings.dcgm_resources)] if installs_dcgm else []
    cluster = [
        Line("prometheus server", settings.prometheus_server_resources),
        Line("prometheus config reloader", RELOADER_RESOURCES),
        Line("kube-state-metrics", settings.kube_state_metrics_resources),
        Line("vector collector", settings.vector_collector_resources),
        *(refresher if sidecar else []),
        Line("event exporter", settings.event_exporter_resources),
    ]
    return Budget(every_node, gpu, cluster)


def total(lines: list[Line], part: str) -> tuple[int, int]:
    """(millicores, bytes) of requests or limits."""
    return (
        sum(cpu_millis(getattr(line.resources, part).cpu) for line in lines),
        sum(memory_bytes(getattr(line.resources, part).memory) for line in lines),
    )


def _cpu(millis: int) -> str:
    return f"{millis}m" if millis % 1000 else f"{millis // 1000}"


def _memory(size: int) -> str:
    return f"{size / 2**30:.2f}Gi" if size >= 2**30 else f"{size // 2**20}Mi"


def table(b: Budget) -> str:
    """A Markdown table a cost owner can read."""
    rows = [
        "| where | workload | CPU request | CPU limit | memory request | memory limit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    sections = [
        ("every node", b.cpu_node),
        ("every GPU node, in addition", b.gpu_node),
        ("once per cluster", b.cluster),
    ]
    for where, lines in sections:
        for line in lines:
            r = line.resources
            rows.append(
                f"| {where} | {line.workload} | {r.requests.cpu} | {r.limits.cpu}"
                f" | {r.requests.memory} | {r.limits.memory} |"
            )
    totals = [
        ("**per CPU node**", b.cpu_node),
        ("**per GPU node**", b.cpu_node + b.gpu_node),
        ("**once per cluster**", b.cluster),
    ]
    for where, lines in totals:
        (req_cpu, req_mem), (lim_cpu, lim_mem) = total(lines, "requests"), total(lines, "limits")
        rows.append(
            f"| {where} | total | {_cpu(req_cpu)} | {_cpu(lim_cpu)}"
            f" | {_memory(req_mem)} | {_memory(lim_mem)} |"
        )
    return "\n".join(rows)


def settings_for(stack: str | None) -> Settings:
    values = dict(PLACEHOLDER_PLAIN)
    if stack:
        values.update(stack_values(ROOT / f"Pulumi.{stack}.yaml"))
    config = stack_config(values, PLACEHOLDER_SECRETS)
    return load_settings(MappingSource(config.values, config.secret_keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", help="read Pulumi.<stack>.yaml on top of the defaults")
    args = parser.parse_args()
    print(table(budget(settings_for(args.stack))))


if __name__ == "__main__":
    main()
