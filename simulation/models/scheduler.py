"""A model of the kube-scheduler's placement rules: node labels, affinity, taints.

Used by tests and benchmarks to check where the workloads the program defines may run; the
simulated cluster (`scripts/simulate`) checks the same with the real scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Tolerations the DaemonSet controller adds to every DaemonSet pod.
DAEMONSET_TOLERATIONS: list[dict[str, str]] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


@dataclass(frozen=True)
class Node:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PodPlacement:
    node_selector: dict[str, str] = field(default_factory=dict)
    affinity: dict[str, Any] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def of_daemonset(
        node_selector: dict[str, str] | None,
        affinity: dict[str, Any] | None,
        tolerations: list[dict[str, Any]] | None,
    ) -> PodPlacement:
        return PodPlacement(
            node_selector or {},
            affinity or {},
            [*(tolerations or []), *DAEMONSET_TOLERATIONS],
        )


def _expression_matches(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    key, operator = expression["key"], expression["operator"]
    values = expression.get("values", [])
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt"):
        if not present or not labels[key].lstrip("-").isdigit():
            return False
        number, bound = int(labels[key]), int(values[0])
        return number > bound if operator == "Gt" else number < bound
    raise ValueError(f"unknown operator {operator}")


def _affinity_matches(affinity: dict[str, Any], labels: dict[str, str]) -> bool:
    required = (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    return any(
        all(_expression_matches(e, labels) for e in term.get("matchExpressions", []))
        and term.get("matchExpressions")
        for term in required["nodeSelectorTerms"]
    )


def _tolerates(toleration: dict[str, Any], taint: dict[str, str]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    key = toleration.get("key", "")
    operator = toleration.get("operator", "Equal")
    if not key:
        return operator == "Exists"
    if key != taint["key"]:
        return False
    return operator == "Exists" or toleration.get("value", "") == taint.get("value", "")


def schedulable(node: Node, pod: PodPlacement) -> bool:
    """Whether the scheduler may place the pod on the node (labels, affinity, taints)."""
    if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
        return False
    if not _affinity_matches(pod.affinity, node.labels):
        return False
    blocking = [t for t in node.taints if t["effect"] in ("NoSchedule", "NoExecute")]
    return all(any(_tolerates(tol, taint) for tol in pod.tolerations) for taint in blocking)
