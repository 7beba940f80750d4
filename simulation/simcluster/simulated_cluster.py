"""The simulated cluster: the real Pulumi CLI runs this program against a real control plane
whose nodes kwok simulates, and the real scheduler places every pod.

    ./scripts/simulate [--nodes 50] [--json FILE] [--keep]

Steps: `pulumi up`, `pulumi up` again (no change expected), an update of one setting (only what
it touches changes), `pulumi destroy` (nothing left). Everything listens on 127.0.0.1; the
state is a local backend with a passphrase; the charts come from a local directory
(`chartsDir`: CEDANA_CHARTS_DIR, default ~/.cache/cedana-monitoring/charts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from components.common.charts import local_chart
from components.config.model import Settings
from simulation.models.nodes import simulated_cluster_nodes
from simulation.simcluster.control_plane import ControlPlane, missing_control_plane_binaries
from simulation.support.loopback import LoopbackWatch
from simulation.support.report import figures_table
from simulation.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt", "components", "cred_refresher")
STACK = "simulated"
NAMESPACE = "cedana-monitoring"
STORAGE_CLASS = "simulated"
# The one setting the update step changes, and what it must touch: the collector's config.
UPDATE = ("vectorBatchTimeoutSecs", "45")
KIND_LABEL = "simulation.cedana.ai/kind"
DEFAULT_CHARTS = Path.home() / ".cache" / "cedana-monitoring" / "charts"
CHARTS = {
    "prometheus": Settings.model_fields["prometheus_chart_version"].default,
    "vector": Settings.model_fields["vector_chart_version"].default,
    "dcgm-exporter": Settings.model_fields["dcgm_chart_version"].default,
}
# Kinds listed in dry runs and leftovers: everything a user would see with `kubectl get`.
IGNORED_KINDS = {"events", "events.events.k8s.io", "leases.coordination.k8s.io"}


def charts_dir() -> Path:
    return Path(os.environ.get("CEDANA_CHARTS_DIR") or DEFAULT_CHARTS)


def plugin_dir(name: str) -> Path:
    """Where the CLI looks for the provider version the installed SDK asks for."""
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    installed = package_version(f"pulumi_{name}")
    return home / "plugins" / f"resource-{name}-v{installed}"


def missing_for_simulation() -> list[str]:
    """What this machine lacks to simulate, each with how a user gets it."""
    needs = []
    for binary in missing_control_plane_binaries():
        needs.append(
            f"{binary} (Kubernetes: the server binaries of a 1.30+ release; etcd 3.5+;"
            " kwok: go install sigs.k8s.io/kwok/cmd/kwok@v0.8.0)"
        )
    for binary in ("pulumi", "pulumi-language-python"):
        if not shutil.which(binary):
            needs.append(f"{binary} (https://www.pulumi.com/docs/install/)")
    for name in ("kubernetes",):
        if not (plugin_dir(name) / f"pulumi-resource-{name}").exists():
            needs.append(
                f"the {name} provider at {plugin_dir(name)} (pulumi plugin install resource"
                f" {name} {plugin_dir(name).name.rsplit('-v', 1)[1]})"
            )
    for name, version in CHARTS.items():
        if not local_chart(str(charts_dir()), name, version):
            needs.append(
                f"chart {name} {version} in {charts_dir()} (helm pull {name} --version {version}"
                " --repo <its repository>; or set CEDANA_CHARTS_DIR)"
            )
    return needs


# --- the cluster's nodes and storage --------------------------------------------------------


def node_manifests(size: int) -> list[dict[str, Any]]:
    manifests = []
    for kind, node in simulated_cluster_nodes(size):
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                    "labels": {
                        "kubernetes.io/hostname": node.name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        KIND_LABEL: kind,
                        **node.labels,
                    },
                },
                "spec": {"taints": node.taints} if node.taints else {},
                "status": {
                    "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                },
            }
        )
    return manifests


def storage_manifests() -> list[dict[str, Any]]:
    """A StorageClass without a provisioner, and a volume the collector's claim binds to."""
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Retain",
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "simulated-collector-buffer"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": "/var/lib/simulated-collector-buffer"},
            },
        },
    ]


def apply(plane: ControlPlane, manifests: list[dict[str, Any]]) -> None:
    document = {"apiVersion": "v1", "kind": "List", "items": manifests}
    plane.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(document), timeout=600)


def wait_nodes_ready(plane: ControlPlane, count: int, timeout: float = 300) -> None:
    def enough_ready() -> bool:
        nodes = json.loads(plane.kubectl("get", "nodes", "-o", "json"))["items"]
        ready = [
            n
            for n in nodes
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= count

    wait_until(enough_ready, timeout, f"{count} nodes to become Ready", every=1)


# --- the Pulumi CLI --------------------------------------------------------------------------


@dataclass
class Stack:
    directory: Path
    env: dict[str, str]

    def pulumi(self, *args: str, timeout: float = 1800) -> str:
        result = subprocess.run(  # noqa: S603 - the Pulumi CLI, arguments built here
            ["pulumi", *args, "--non-interactive", "--color", "never"],  # noqa: S607
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        log = self.directory.parent / "pulumi.log"
        with log.open("a") as out:
            out.write(f"$ pulumi {' '.join(args)}\n{result.stdout}\n{result.stderr}\n")
        if result.returncode != 0:
            raise RuntimeError(f"pulumi {args[0]} failed ({result.returncode}); see {log}")
        return result.stdout

    def timed(self, *args: str) -> float:
        started = time.monotonic()
        self.pulumi(*args)
        return round(time.monotonic() - started, 1)

    def last_changes(self) -> dict[str, int]:
        """The resource changes of the latest update, without the unchanged ones."""
        history = json.loads(self.pulumi("stack", "history", "--json"))
        changes = history[0].get("resourceChanges") or {}
        return {op: n for op, n in changes.items() if op != "same" and n}

    def planned_changes(self) -> list[str]:
        """`op type::name` of every step a preview plans besides `same`."""
        preview = json.loads(self.pulumi("preview", "--json", "--diff"))
        steps = []
        for step in preview.get("steps", []):
            if step.get("op") in ("same", "read"):
                continue
            urn = step.get("urn", "")
            type_, name = urn.split("::")[-2].split("$")[-1], urn.split("::")[-1]
            steps.append(f"{step['op']} {type_}::{name}")
        return sorted(steps)


def project_copy(workdir: Path) -> Path:
    """The program as the CLI sees it, in a directory of its own (its stack file stays there)."""
    project = workdir / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


def pulumi_env(workdir: Path, kubeconfig: Path) -> dict[str, str]:
    (workdir / "state").mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(Path.home()),
        "KUBECONFIG": str(kubeconfig),
        "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "simulated-cluster",
        # Nothing but loopback: no update check, no plugin download, no telemetry.
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        # The Python language host runs `pip list`, whose own version check would ask PyPI.
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INDEX": "1",
    }


# --- what the real scheduler did -----------------------------------------------------------


WORKLOADS = {
    "vector agent": ("DaemonSet", "vector"),
    "vector collector": ("StatefulSet", "vector-collector"),
    "node-exporter": ("DaemonSet", "prometheus-prometheus-node-exporter"),
    "dcgm-exporter": ("DaemonSet", "dcgm-exporters"),
    "prometheus server": ("ReplicaSet", "prometheus-server"),
    "kube-state-metrics": ("ReplicaSet", "prometheus-kube-state-metrics"),
    "event exporter": ("ReplicaSet", "kubernetes-event-exporter"),
}


def workload_of(pod: dict[str, Any]) -> str | None:
    for owner in pod["metadata"].get("ownerReferences") or []:
        for workload, (kind, prefix) in WORKLOADS.items():
            name = owner["name"]
            # A ReplicaSet carries a hash after the Deployment's name; the rest are exact.
            exact = name == prefix
            if owner["kind"] == kind and (
                exact or (kind == "ReplicaSet" and name.startswith(f"{prefix}-"))
            ):
                return workload
    return None


def placement(plane: ControlPlane) -> dict[str, Any]:
    nodes = json.loads(plane.kubectl("get", "nodes", "-o", "json"))["items"]
    kind_of = {n["metadata"]["name"]: n["metadata"]["labels"][KIND_LABEL] for n in nodes}
    pods = json.loads(plane.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json"))["items"]
    by_workload: dict[str, Counter[str]] = defaultdict(Counter)
    nodes_of: dict[str, set[str]] = defaultdict(set)
    unscheduled: Counter[str] = Counter()
    for pod in pods:
        workload = workload_of(pod) or pod["metadata"]["name"]
        node = pod["spec"].get("nodeName")
        if not node:
            unscheduled[workload] += 1
            continue
        by_workload[workload][kind_of[node]] += 1
        nodes_of[workload].add(node)
    gpu = {name for name, kind in kind_of.items() if kind not in ("cpu", "control-plane")}
    cpu = set(kind_of) - gpu
    return {
        "placement": {w: dict(sorted(c.items())) for w, c in sorted(by_workload.items())},
        "unscheduled": dict(unscheduled),
        "nodes_without_agent": len(set(kind_of) - nodes_of["vector agent"]),
        "dcgm_on_cpu_nodes": len(nodes_of["dcgm-exporter"] & cpu),
        "gpu_nodes_without_dcgm": len(gpu - nodes_of["dcgm-exporter"]),
        "collector_replicas": sum(by_workload["vector collector"].values()),
        "nodes": dict(Counter(kind_of.values())),
    }


def collector_credentials(plane: ControlPlane) -> dict[str, Any]:
    """What the collector's pod carries: its containers and where its AWS keys come from."""
    statefulset = json.loads(
        plane.kubectl("get", "statefulset", "vector-collector", "-n", NAMESPACE, "-o", "json")
    )
    pod = statefulset["spec"]["template"]["spec"]
    vector = next(c for c in pod["containers"] if c["name"] == "vector")
    return {
        "containers": sorted(c["name"] for c in pod["containers"]),
        "aws_env": sorted(e["name"] for e in vector.get("env", []) if e["name"].startswith("AWS_")),
    }


def inventory(plane: ControlPlane) -> set[str]:
    """Every object of every listable kind, cluster-scoped ones and CRDs included."""
    kinds = plane.kubectl("api-resources", "--verbs=list", "-o", "name").split()
    wanted = ",".join(k for k in kinds if k not in IGNORED_KINDS)
    listed = plane.kubectl("get", wanted, "--all-namespaces", "-o", "name", timeout=600)
    return set(listed.split())


# --- the steps -------------------------------------------------------------------------------


def simulate(workdir: Path, size: int) -> dict[str, Any]:
    plane = ControlPlane(workdir / "control-plane")
    result: dict[str, Any] = {"nodes_requested": size}
    watch = LoopbackWatch().start()
    try:
        started = time.monotonic()
        plane.start()
        apply(plane, node_manifests(size) + storage_manifests())
        wait_nodes_ready(plane, size)
        result["cluster_seconds"] = round(time.monotonic() - started, 1)
        before = inventory(plane)

        project = project_copy(workdir)
        stack = Stack(project, pulumi_env(workdir, plane.admin))
        stack.pulumi("stack", "init", STACK)
        for key, value in {
            "s3Bucket": "cedana-simulated-metrics",
            "awsRegion": "us-east-1",
            "kubeContext": plane.context,
            "chartsDir": str(charts_dir()),
            "vectorCollectorStorageClass": STORAGE_CLASS,
        }.items():
            stack.pulumi("config", "set", key, value)
        stack.pulumi(
            "config", "set", "--secret", "clusterId", "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b"
        )
        stack.pulumi("config", "set", "--secret", "authToken", "simulated-cedana-token")

        result["up_seconds"] = stack.timed("up", "--yes", "--skip-preview")
        result["up_changes"] = stack.last_changes()
        result |= placement(plane)
        result["second_up_seconds"] = stack.timed("up", "--yes", "--skip-preview")
        result["second_up_changes"] = sum(stack.last_changes().values())

        stack.pulumi("config", "set", *UPDATE)
        result["update_setting"] = "=".join(UPDATE)
        result["update_changes"] = stack.planned_changes()
        result["update_seconds"] = stack.timed("up", "--yes", "--skip-preview")
        result["update_applied"] = stack.last_changes()

        # One writer in every mode: switch the credentials from Cedana's to static keys.
        stack.pulumi("config", "set", "credentialsMode", "static")
        stack.pulumi("config", "set", "--secret", "awsAccessKeyId", "AKIASIMULATEDEXAMPLE")
        stack.pulumi("config", "set", "--secret", "awsSecretAccessKey", "simulated-secret-key")
        result["mode_change_changes"] = stack.planned_changes()
        result["mode_change_seconds"] = stack.timed("up", "--yes", "--skip-preview")
        result["collector_after_mode_change"] = collector_credentials(plane)

        state = (workdir / "state").rglob("*.json")
        result["secrets_in_state_in_clear"] = sum(
            secret in path.read_text()
            for path in state
            for secret in ("simulated-cedana-token", "simulated-secret-key")
        )
        result["destroy_seconds"] = stack.timed("destroy", "--yes", "--skip-preview")
        wait_gone(plane, NAMESPACE)
        left = sorted(inventory(plane) - before)
        result["objects_left_after_destroy"] = len(left)
        result["left_after_destroy"] = left[:50]
        result["connections_off_the_machine"] = watch.stop()
        return result
    finally:
        watch.stop()
        plane.stop()


def wait_gone(plane: ControlPlane, namespace: str, timeout: float = 300) -> None:
    """A deleted namespace goes once its objects are gone (pods through kwok). One still there
    after `timeout` is no error here: it shows in what destroy left behind."""
    with contextlib.suppress(TimeoutError):
        wait_until(
            lambda: (
                f"namespace/{namespace}"
                not in plane.kubectl("get", "namespaces", "-o", "name").split()
            ),
            timeout,
            f"namespace {namespace} to go",
            every=1,
        )


def simulate_cli(argv: list[str] | None = None) -> int:
    """`./scripts/simulate`: one simulation, its figures printed (and written with --json)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    needs = missing_for_simulation()
    if needs:
        print("the simulation needs: " + "; ".join(needs), file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="cedana-simulate-"))
    try:
        result = simulate(workdir, args.nodes)
        print(figures_table(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, sort_keys=True))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(simulate_cli())
