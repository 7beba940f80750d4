"""What the stack costs: CPU and memory requested and limited per node and per cluster (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from components.prometheus_values import RELOADER_RESOURCES
from components.settings import Resources, Settings, cpu_millis, memory_bytes


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
    sidecar = settings.credentials_mode == "cedana"
    refresher = [Line("cred-refresher (sidecar)", settings.cred_refresher_resources)]
    every_node = [
        Line("vector agent", settings.vector_agent_resources),
        *(refresher if sidecar else []),
        Line("node-exporter", settings.node_exporter_resources),
    ]
    gpu = [Line("dcgm-exporter", settings.dcgm_resources)] if settings.gpu_mode == "install" else []
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
        sum(cpu_millis(getattr(line.resources, part)["cpu"]) for line in lines),
        sum(memory_bytes(getattr(line.resources, part)["memory"]) for line in lines),
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
                f"| {where} | {line.workload} | {r.requests['cpu']} | {r.limits['cpu']}"
                f" | {r.requests['memory']} | {r.limits['memory']} |"
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
