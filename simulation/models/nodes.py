"""Node fixtures: a CPU node, a control-plane node, and a GPU node of every platform."""

from __future__ import annotations

from simulation.models.scheduler import Node

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}

CPU_NODE = Node("cpu-1", {"kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5"})
CONTROL_PLANE = Node(
    "control-plane-1",
    {"node-role.kubernetes.io/control-plane": ""},
    [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
)

# The seven GPU node kinds of the reference table, labelled as their platform labels them.
GPU_NODES: dict[str, Node] = {
    "gpu-operator": Node("gpu-operator-1", {"nvidia.com/gpu.present": "true"}),
    "nfd-gpu-operator": Node(
        "nfd-operator-1", {"feature.node.kubernetes.io/pci-10de.present": "true"}
    ),
    "nfd-plain": Node("nfd-plain-1", {"feature.node.kubernetes.io/pci-0300_10de.present": "true"}),
    "gke": Node("gke-gpu-1", {"cloud.google.com/gke-accelerator": "nvidia-l4"}, [GPU_TAINT]),
    "aks": Node(
        "aks-gpu-1",
        {"kubernetes.azure.com/accelerator": "nvidia"},
        [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
    ),
    "karpenter": Node(
        "karpenter-gpu-1", {"karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia"}, [GPU_TAINT]
    ),
    "eks-auto-mode": Node(
        "eks-auto-gpu-1", {"eks.amazonaws.com/instance-gpu-manufacturer": "nvidia"}, [GPU_TAINT]
    ),
}

# Also GPU nodes, by the other forms the table lists.
OTHER_GPU_NODES: dict[str, Node] = {
    "nfd-plain-3d": Node("nfd-3d-1", {"feature.node.kubernetes.io/pci-0302_10de.present": "true"}),
    "eks-node-group": Node("eks-ng-gpu-1", {"k8s.amazonaws.com/accelerator": "nvidia-a10g"}),
}


def nodes_with_gpus(size: int, gpu_every: int = 4) -> tuple[list[Node], list[Node]]:
    """`size` nodes; every `gpu_every`-th is a GPU node, cycling through the platforms."""
    kinds = list(GPU_NODES.values())
    nodes, gpus = [], []
    for i in range(size):
        if gpu_every and i % gpu_every == gpu_every - 1:
            kind = kinds[(i // gpu_every) % len(kinds)]
            node = Node(f"gpu-{i}", kind.labels, kind.taints)
            gpus.append(node)
        else:
            node = Node(f"node-{i}", CPU_NODE.labels)
        nodes.append(node)
    return nodes, gpus


# The simulated cluster's nodes: one control-plane node, a GPU node of every platform in turn
# (every fourth node), CPU nodes for the rest. The kind of each node is one of these names.
GPU_KINDS = {**GPU_NODES, "eks-node-group": OTHER_GPU_NODES["eks-node-group"]}


def simulated_cluster_nodes(size: int) -> list[tuple[str, Node]]:
    """(kind, node) for `size` nodes: kind is cpu, control-plane or a GPU platform."""
    kinds = list(GPU_KINDS.items())
    nodes = [("control-plane", Node("control-plane-0", CONTROL_PLANE.labels, CONTROL_PLANE.taints))]
    gpu = 0
    for i in range(1, size):
        if i % 4 == 3:
            kind, shape = kinds[gpu % len(kinds)]
            gpu += 1
            nodes.append((kind, Node(f"gpu-{kind}-{i}", shape.labels, shape.taints)))
        else:
            nodes.append(("cpu", Node(f"cpu-{i}", CPU_NODE.labels)))
    return nodes[:size]
