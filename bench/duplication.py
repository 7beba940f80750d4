"""Prints how many copies of each data set one collection interval ships, per cluster size.

    .venv/bin/python bench/duplication.py

Runs the program under Pulumi's mocks with the default stack, takes the Vector workloads it
generates, and replays one interval on simulated clusters of 1, 3 and 100 nodes (100 twice: all
CPU nodes, then every 4th node a GPU node of another platform, tainted where the platform
taints), next to the original install's single DaemonSet.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulation.mocks import run_program
from simulation.models.nodes import nodes_with_gpus
from simulation.models.shipping import (
    CLUSTER_WIDE,
    copies,
    original_workloads,
    ship_one_interval,
    workloads,
)

DATA_SETS = ("kube-state-metrics", "event-exporter", "cadvisor", "dcgm", "host")


def summary(counted: dict[tuple[str, str], int], data_set: str) -> str:
    values = [n for (d, _), n in counted.items() if d == data_set]
    if not values:
        return "none"
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def main() -> None:
    ours = workloads(run_program({"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1"}))
    print("copies shipped per series per interval (min-max over series)")
    print(f"{'nodes':>5} {'design':>9} " + " ".join(f"{d:>18}" for d in DATA_SETS))
    for size, gpu_every in ((1, 0), (3, 2), (100, 0), (100, 4)):
        nodes, gpus = nodes_with_gpus(size, gpu_every)
        for name, design in (("this", ours), ("original", original_workloads())):
            counted = copies(ship_one_interval(design, nodes, gpus))
            cells = " ".join(f"{summary(counted, d):>18}" for d in DATA_SETS)
            print(f"{size:>5} {name:>9} {cells}")
        print(f"{'':>5} {'':>9} cluster-level series: {CLUSTER_WIDE}; GPU nodes: {len(gpus)}")


if __name__ == "__main__":
    main()
