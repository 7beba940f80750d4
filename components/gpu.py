"""Where GPU workloads go, and a small model of the scheduler to check it (pure).

GPU nodes carry different labels on every platform; node affinity terms are OR-ed, so one
affinity covers them all (a plain nodeSelector cannot). A stack whose GPU nodes carry other
labels replaces the selection with `gpuNodeSelector`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# label -> required value (None: the label only has to exist). One OR-ed term each.
GPU_NODE_LABELS: dict[str, str | None] = {
    "nvidia.com/gpu.present": "true",  # NVIDIA GPU Operator
    "feature.node.kubernetes.io/pci-10de.present": "true",  # NFD as the GPU Operator sets it up
    "feature.node.kubernetes.io/pci-0300_10de.present": "true",  # plain NFD, display class
    "feature.node.kubernetes.io/pci-0302_10de.present": "true",  # plain NFD, 3D class
    "cloud.google.com/gke-accelerator": None,  # GKE, any accelerator type
    "kubernetes.azure.com/accelerator": "nvidia",  # AKS
    "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",  # Karpenter on EKS
    "eks.amazonaws.com/instance-gpu-manufacturer": "nvidia",  # EKS Auto Mode
    "k8s.amazonaws.com/accelerator": None,  # EKS node-group convention, set by hand
}

# GKE taints GPU pools nvidia.com/gpu:NoSchedule (others do by hand); AKS' documented
# convention for GPU pools is sku=gpu:NoSchedule.
GPU_TOLERATIONS: list[dict[str, str]] = [
    {"key": "nvidia.com/gpu", "operator": "Exists"},
    {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
]

# Tolerations the DaemonSet controller adds to every DaemonSet pod.
DAEMONSET_TOLERATIONS: list[dict[str, str]] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def gpu_affinity() -> dict[str, Any]:
    terms = []
    for label, value in GPU_NODE_LABELS.items():
        expression: dict[str, Any] = {"key": label, "operator": "Exists"}
        if value is not None:
            expression = {"key": label, "operator": "In", "values": [value]}
        terms.append({"matchExpressions": [expression]})
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    }


@dataclass(frozen=True)
class GpuPlacement:
    """nodeSelector / affinity / tolerations for a GPU-only DaemonSet."""

    node_selector: dict[str, str]
    affinity: dict[str, Any]
    tolerations: list[dict[str, str]]


def gpu_placement(node_selector: dict[str, str]) -> GpuPlacement:
    if node_selector:
        # The stack's own selection replaces the built-in one entirely.
        return GpuPlacement(dict(node_selector), {}, list(GPU_TOLERATIONS))
    return GpuPlacement({}, gpu_affinity(), list(GPU_TOLERATIONS))


# --- A model of the scheduler's placement rules ---------------------------------------------


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
