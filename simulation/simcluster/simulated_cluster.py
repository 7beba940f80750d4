"""The simulated cluster: the real Pulumi CLI, driven through Pulumi's Automation API, runs this
program against a real control plane whose nodes kwok simulates, and the real scheduler places
every pod.

    ./scripts/simulate [--nodes 50] [--json FILE] [--keep]
    ./scripts/simulate --real-nodes 1 [--nodes 50] [--json FILE] [--keep]

Steps: `pulumi up`, `pulumi up` again (no change expected), an update of one setting (only what
it touches changes), `pulumi destroy` (nothing left). Everything listens on 127.0.0.1; the
state is a local backend with a passphrase; the charts come from a local directory
(`chartsDir`: CEDANA_CHARTS_DIR, default ~/.cache/cedana-monitoring/charts).

With --real-nodes N the cluster gets N real nodes (kubelet, containerd, kube-proxy, kube-router
and CoreDNS, in network namespaces on 198.18.0.0/15) beside the kwok nodes and is brought up,
checked and torn down; the Pulumi steps stay with kwok-only runs until every image the program
renders is built for the real nodes. With --keep it stays up, printing how to reach it, until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi.automation.events import EngineEvent, OpType, StepEventMetadata

from components.common.charts import local_chart
from components.config.model import Settings
from simulation.simcluster.cluster import (
    KIND_LABEL,
    ClusterSpec,
    SimulatedCluster,
    kwok_node_manifests,
    real_nodes,
)
from simulation.simcluster.control_plane import ControlPlane, missing_control_plane_binaries
from simulation.simcluster.node_images import NODE_IMAGES, find_images, missing_images_text
from simulation.simcluster.real_node import missing_for_real_nodes
from simulation.support.report import figures_table
from simulation.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt", "components", "cred_refresher")
STACK = "simulated"
NAMESPACE = "cedana-monitoring"
STORAGE_CLASS = "simulated"
# The one setting the update step changes, and what it must touch: the collector's config.
UPDATE = ("vectorBatchTimeoutSecs", "45")
# The kwok nodes, as kubectl applies them (see simulation.simcluster.cluster).
node_manifests = kwok_node_manifests
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


def missing_for_cluster() -> list[str]:
    """What this machine lacks to run the control plane and kwok, with how to get each."""
    return [
        f"{binary} (Kubernetes: the server binaries of a 1.30+ release; etcd 3.5+;"
        " kwok: go install sigs.k8s.io/kwok/cmd/kwok@v0.8.0)"
        for binary in missing_control_plane_binaries()
    ]


def missing_for_real_node_run() -> list[str]:
    """What a run with real nodes lacks: the control plane's, the nodes' and their images."""
    _, missing = find_images(NODE_IMAGES)
    images = [missing_images_text(missing)] if missing else []
    return missing_for_cluster() + missing_for_real_nodes() + images


def missing_for_simulation() -> list[str]:
    """What this machine lacks to simulate, each with how a user gets it."""
    needs = missing_for_cluster()
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


# --- the cluster's storage ------------------------------------------------------------------


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


# --- the Pulumi CLI, through the Automation API ---------------------------------------------

# Steps a plan lists besides the changes: resources left as they are or only read, and the two
# halves of a replacement (its `replace` step stands for them), as the CLI's `preview --json`
# leaves them out.
UNLISTED_STEPS = {
    OpType.SAME,
    OpType.READ,
    OpType.CREATE_REPLACEMENT,
    OpType.DELETE_REPLACED,
    OpType.READ_REPLACEMENT,
    OpType.IMPORT_REPLACEMENT,
    OpType.DISCARD_REPLACED,
}


def step_name(step: StepEventMetadata) -> str:
    """`op type::name`, the type without its parents' (kubernetes:core/v1:Secret::name)."""
    type_, name = step.urn.split("::")[-2].split("$")[-1], step.urn.split("::")[-1]
    return f"{step.op.value} {type_}::{name}"


@dataclass
class SimulatedStack:
    """The simulated cluster's stack, driven through Pulumi's Automation API, which runs the
    real `pulumi` CLI in the project directory with `env` added to this process's environment.
    Everything the CLI prints goes to `log`."""

    stack: auto.Stack
    log: Path

    @classmethod
    def create(cls, project: Path, env: dict[str, str]) -> SimulatedStack:
        log = project.parent / "pulumi.log"
        options = auto.LocalWorkspaceOptions(work_dir=str(project), env_vars=env)
        with _logged(log, f"stack init {STACK}"):
            stack = auto.create_stack(STACK, work_dir=str(project), opts=options)
        return cls(stack, log)

    def set_config(self, values: dict[str, str], *, secret: bool = False) -> None:
        kind = "--secret " if secret else ""
        with _logged(self.log, f"config set-all {kind}{' '.join(values)}"):
            self.stack.set_all_config(
                {key: auto.ConfigValue(value, secret=secret) for key, value in values.items()}
            )

    def up(self) -> tuple[float, dict[str, int]]:
        """`pulumi up --yes --skip-preview`: its seconds, and the resources it changed."""
        started = time.monotonic()
        with _logged(self.log, "up --yes --skip-preview") as out:
            result = self.stack.up(color="never", on_output=out, on_error=out)
        seconds = round(time.monotonic() - started, 1)
        changes = result.summary.resource_changes or {}
        return seconds, {op: n for op, n in changes.items() if op != "same" and n}

    def planned_changes(self) -> list[str]:
        """`op type::name` of every step a preview plans besides `same`."""
        steps: list[str] = []

        def collect(event: EngineEvent) -> None:
            pre = event.resource_pre_event
            if pre and pre.metadata.op not in UNLISTED_STEPS:
                steps.append(step_name(pre.metadata))

        with _logged(self.log, "preview --diff") as out:
            self.stack.preview(diff=True, color="never", on_output=out, on_event=collect)
        return sorted(steps)

    def destroy(self) -> float:
        """`pulumi destroy --yes --skip-preview`: its seconds."""
        started = time.monotonic()
        with _logged(self.log, "destroy --yes --skip-preview") as out:
            self.stack.destroy(color="never", on_output=out, on_error=out)
        return round(time.monotonic() - started, 1)


@contextlib.contextmanager
def _logged(log: Path, command: str) -> Iterator[Callable[[str], None]]:
    """Appends the command and what it prints to the log; a failure names the log."""
    lock = threading.Lock()  # stdout and stderr arrive on threads of their own
    with log.open("a") as out:
        out.write(f"$ pulumi {command}\n")

        def write(line: str) -> None:
            with lock:
                out.write(line + "\n")

        try:
            yield write
        except auto.CommandError as error:
            out.write(f"{error}\n")
            raise RuntimeError(
                f"pulumi {command.split(maxsplit=1)[0]} failed; see {log}"
            ) from error


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
    """What the CLI's environment must hold (the Automation API adds it to this process's)."""
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
    result: dict[str, Any] = {"nodes_requested": size}
    cluster = SimulatedCluster(workdir, ClusterSpec(kwok_nodes=size))
    with cluster:
        plane = cluster.plane
        cluster.apply(storage_manifests())
        result["cluster_seconds"] = cluster.timings["nodes_ready_seconds"]
        before = inventory(plane)

        project = project_copy(workdir)
        stack = SimulatedStack.create(project, pulumi_env(workdir, plane.admin))
        stack.set_config(
            {
                "s3Bucket": "cedana-simulated-metrics",
                "awsRegion": "us-east-1",
                "kubeContext": plane.context,
                "chartsDir": str(charts_dir()),
                "vectorCollectorStorageClass": STORAGE_CLASS,
            }
        )
        stack.set_config({"clusterId": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b"}, secret=True)
        stack.set_config({"authToken": "simulated-cedana-token"}, secret=True)

        result["up_seconds"], result["up_changes"] = stack.up()
        result |= placement(plane)
        result["second_up_seconds"], changes = stack.up()
        result["second_up_changes"] = sum(changes.values())

        stack.set_config(dict([UPDATE]))
        result["update_setting"] = "=".join(UPDATE)
        result["update_changes"] = stack.planned_changes()
        result["update_seconds"], result["update_applied"] = stack.up()

        # One writer in every mode: switch the credentials from Cedana's to static keys.
        stack.set_config({"credentialsMode": "static"})
        stack.set_config(
            {
                "awsAccessKeyId": "AKIASIMULATEDEXAMPLE",
                "awsSecretAccessKey": "simulated-secret-key",
            },
            secret=True,
        )
        result["mode_change_changes"] = stack.planned_changes()
        result["mode_change_seconds"], _ = stack.up()
        result["collector_after_mode_change"] = collector_credentials(plane)

        state = (workdir / "state").rglob("*.json")
        result["secrets_in_state_in_clear"] = sum(
            secret in path.read_text()
            for path in state
            for secret in ("simulated-cedana-token", "simulated-secret-key")
        )
        result["destroy_seconds"] = stack.destroy()
        wait_gone(plane, NAMESPACE)
        left = sorted(inventory(plane) - before)
        result["objects_left_after_destroy"] = len(left)
        result["left_after_destroy"] = left[:50]
    result["connections_off_the_machine"] = cluster.outside
    result["connections_not_the_runs"] = cluster.others
    return result


def with_real_nodes(workdir: Path, kwok: int, real: int, *, keep: bool = False) -> dict[str, Any]:
    """A cluster with `real` real nodes beside `kwok` kwok nodes, brought up, checked and torn
    down (with `keep`, held up until Ctrl-C first); its figures."""
    images, _ = find_images(NODE_IMAGES)
    spec = ClusterSpec(kwok_nodes=kwok, real_nodes=real_nodes(real), images=images)
    cluster = SimulatedCluster(workdir, spec, say=lambda line: print(line, flush=True))
    result: dict[str, Any] = {"kwok_nodes": kwok, "real_nodes": real}
    with cluster:
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
        result["nodes_ready"] = len(
            [
                n
                for n in nodes
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in n["status"].get("conditions", [])
                )
            ]
        )
        if keep:
            print("the cluster is up; from another shell:\n" + cluster.kubectl_hint(), flush=True)
            print("Ctrl-C tears it down", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.signal(signal.SIGTERM, _interrupt)
                while True:
                    time.sleep(3600)
    result |= cluster.timings
    result["problems"] = cluster.problems
    result["left_on_the_machine"] = cluster.leftovers
    result["connections_off_the_cluster"] = cluster.outside
    return result


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
    parser.add_argument("--nodes", type=int, default=50, help="kwok nodes")
    parser.add_argument(
        "--real-nodes", type=int, default=0, help="real nodes beside them (cluster only)"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the working directory (with --real-nodes: and the cluster, until Ctrl-C)",
    )
    args = parser.parse_args(argv)
    needs = missing_for_real_node_run() if args.real_nodes else missing_for_simulation()
    if needs:
        print("the simulation needs: " + "; ".join(needs), file=sys.stderr)
        return 2
    # Short: containerd's sockets live under it (a Unix socket's path has 108 bytes).
    workdir = Path(tempfile.mkdtemp(prefix="cdn-sim-"))
    try:
        if args.real_nodes:
            result = with_real_nodes(workdir, args.nodes, args.real_nodes, keep=args.keep)
        else:
            result = simulate(workdir, args.nodes)
        print(figures_table(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, sort_keys=True))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.real_nodes and (result["left_on_the_machine"] or result["connections_off_the_cluster"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(simulate_cli())
