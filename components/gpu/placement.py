"""Where GPU workloads go (pure).

GPU nodes carry different labels on every platform; node affinity terms are OR-ed, so one
affinity covers them all (a plain nodeSelector cannot). A stack whose GPU nodes carry other
labels replaces the selection with `gpuNodeSelector`.
"""

from __future__ import annotations

from dataclasses import dataclass
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
