"""Which nodes a DaemonSet's pods may run on, as the scheduler decides it (pure).

Node selector, required node affinity and taints against tolerations, plus the tolerations the
DaemonSet controller adds to every DaemonSet pod. Enough to name, for a node without a pod,
the reason: the taint it does not tolerate, or the labels it lacks.
"""

from __future__ import annotations

from typing import Any

# Added by the DaemonSet controller to every DaemonSet pod.
DAEMONSET_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"},
)
BLOCKING = ("NoSchedule", "NoExecute")
# Nodes no DaemonSet pod ever runs on: virtual kubelets, EKS Fargate.
VIRTUAL_NODE_LABELS = {"type": "virtual-kubelet", "eks.amazonaws.com/compute-type": "fargate"}


def name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


def taint_text(taint: dict[str, Any]) -> str:
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return dict(((workload.get("spec") or {}).get("template") or {}).get("spec") or {})


def untolerated(node: dict[str, Any], tolerations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The node's blocking taints that none of the tolerations (and the DaemonSet's own)
    tolerate."""
    every = [*tolerations, *DAEMONSET_TOLERATIONS]
    taints = (node.get("spec") or {}).get("taints") or []
    return [
        t
        for t in taints
        if t.get("effect") in BLOCKING and not any(tolerates(tol, t) for tol in every)
    ]


def _expression(expression: dict[str, Any], node_labels: dict[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator", "")
    values = expression.get("values") or []
    present = key in node_labels
    if operator == "In":
        return present and node_labels[key] in values
    if operator == "NotIn":
        return not present or node_labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and node_labels[key].lstrip("-").isdigit():
        number, bound = int(node_labels[key]), int(values[0])
        return number > bound if operator == "Gt" else number < bound
    return False


def selects(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether the pod spec's nodeSelector and required node affinity accept the node."""
    node_labels = labels(node)
    if any(node_labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    return any(
        term.get("matchExpressions")
        and all(_expression(e, node_labels) for e in term["matchExpressions"])
        for term in required.get("nodeSelectorTerms") or []
    )


def is_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_virtual(node: dict[str, Any]) -> bool:
    node_labels = labels(node)
    return any(node_labels.get(k) == v for k, v in VIRTUAL_NODE_LABELS.items())


def gpus(node: dict[str, Any]) -> int:
    """NVIDIA GPUs the node offers (its device plugin's `nvidia.com/gpu`), 0 if none."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    text = str(allocatable.get("nvidia.com/gpu", "0"))
    return int(text) if text.isdigit() else 0
