"""`scripts/verify` against a real control plane (etcd, kube-apiserver, controller-manager,
scheduler; kwok nodes): the real API server's answers and errors, its TLS client auth, and two
broken states made by the real controllers — a node whose taint the agents do not tolerate,
and a collector whose claim finds no StorageClass — each with its ✗, then the fix applied and
the ✓. Runs where the binaries exist, skipped otherwise with what to install."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulation.simcluster.control_plane import ControlPlane
from simulation.simcluster.control_plane import missing_control_plane_binaries as missing_binaries
from tests.support.verify_world import settings_for
from verify.cli import Report, verify
from verify.stack import Target

MISSING = missing_binaries()
pytestmark = pytest.mark.skipif(bool(MISSING), reason="needs " + ", ".join(MISSING))
NS = "cedana-monitoring"
TAINT = {"key": "dedicated", "value": "batch", "effect": "NoExecute"}
VECTOR = {"app.kubernetes.io/name": "vector", "app.kubernetes.io/instance": "vector"}
COLLECTOR = {"app.kubernetes.io/name": "vector", "app.kubernetes.io/instance": "vector-collector"}


def node(name: str, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
        },
        "spec": {"taints": taints} if taints else {},
    }


def container(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "image": f"example/{name}:1"}]


def stack_objects() -> list[dict[str, Any]]:
    """What the verify checks read of the stack: the agents with the program's default
    toleration, and the collector's StatefulSet with its claim (no class named)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "vector", "namespace": NS},
            "spec": {
                "selector": {"matchLabels": VECTOR},
                "template": {
                    "metadata": {"labels": VECTOR},
                    "spec": {
                        "containers": container("vector"),
                        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    },
                },
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "vector-collector", "namespace": NS},
            "spec": {
                "replicas": 1,
                "serviceName": "vector-collector",
                "selector": {"matchLabels": COLLECTOR},
                "template": {
                    "metadata": {"labels": COLLECTOR},
                    "spec": {"containers": container("vector") + container("cred-refresher")},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    ]


def apply(plane: ControlPlane, objects: list[dict[str, Any]]) -> None:
    document = {"apiVersion": "v1", "kind": "List", "items": objects}
    plane.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(document))


def get(plane: ControlPlane, *what: str) -> dict[str, Any]:
    return dict(json.loads(plane.kubectl("get", *what, "-o", "json")))


def settled(plane: ControlPlane, check: Any, timeout: float = 120) -> None:
    """Polls the cluster (controllers act in their own time) until `check` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the cluster did not settle"
        time.sleep(1)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    running = ControlPlane(Path(tmp_path_factory.mktemp("verify-plane")))
    try:
        running.start()
        apply(running, [node("node-a"), node("node-b"), node("batch-1", [TAINT])])
        apply(running, stack_objects())
        yield running
    finally:
        running.stop()


def run_verify(plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> Report:
    monkeypatch.setenv("KUBECONFIG", str(plane.admin))
    settings = settings_for(kubeContext=plane.context, gpuMode="off")
    return verify(Target("simulated", settings), timeout=5)


def test_the_real_api_server_shows_the_taint_and_the_missing_class(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    def agents_placed() -> bool:
        status = get(plane, "daemonset", "vector", "-n", NS).get("status", {})
        return status.get("desiredNumberScheduled") == 2 and status.get("numberReady") == 2

    def claim_made() -> bool:
        claims = get(plane, "pvc", "-n", NS)["items"]
        return any(c["metadata"]["name"] == "data-vector-collector-0" for c in claims)

    settled(plane, agents_placed)
    settled(plane, claim_made)
    started = time.monotonic()
    report = run_verify(plane, monkeypatch)
    assert time.monotonic() - started < 10
    verdicts = {v.check: v for v in report.verdicts}
    assert report.error is None and report.exit_code == 1
    agents = verdicts["agents"]
    assert agents.line == (
        "agents: on 2 of 3 nodes; none ready on batch-1 (taint dedicated=batch:NoExecute not"
        " tolerated)"
    )
    assert "vectorAgentTolerations[1]" in (agents.fix or "")
    volume = verdicts["collector-volume"]
    assert volume.line.startswith("collector volume: data-vector-collector-0 Pending (no class)")
    assert "no default StorageClass (it has: none)" in volume.line
    assert (volume.fix or "").startswith("install a storage provisioner")
    # The real scheduler's words for the Pending collector.
    assert "unbound immediate PersistentVolumeClaims" in verdicts["workloads"].line
    # Prometheus is not there: its lines say what the API server answered.
    assert 'no endpoints available for service "prometheus-server"' in verdicts[
        "s3-writes"
    ].line or ("not found" in verdicts["s3-writes"].line)


def test_the_fixes_turn_the_crosses_into_ticks(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The toleration the fix names, as the program would render it.
    plane.kubectl(
        "patch",
        "daemonset",
        "vector",
        "-n",
        NS,
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/tolerations/-",
                    "value": {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
                }
            ]
        ),
    )
    # A default StorageClass and a volume for it: the claim binds where it is (the default
    # class is assigned to claims without one).
    apply(
        plane,
        [
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "standard",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "Immediate",
            },
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": "collector-buffer"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "standard",
                    "hostPath": {"path": "/var/lib/collector-buffer"},
                },
            },
        ],
    )

    def agents_everywhere() -> bool:
        status = get(plane, "daemonset", "vector", "-n", NS).get("status", {})
        return status.get("desiredNumberScheduled") == 3 and status.get("numberReady") == 3

    def claim_bound() -> bool:
        claim = get(plane, "pvc", "data-vector-collector-0", "-n", NS)
        return claim.get("status", {}).get("phase") == "Bound"

    settled(plane, agents_everywhere)
    settled(plane, claim_bound, timeout=180)
    verdicts = {v.check: v for v in run_verify(plane, monkeypatch).verdicts}
    assert verdicts["agents"].ok, verdicts["agents"].line
    assert verdicts["agents"].line == "agents: on 3 of 3 nodes"
    assert verdicts["collector-volume"].ok, verdicts["collector-volume"].line
    assert verdicts["collector-volume"].line.startswith(
        "collector volume: data-vector-collector-0 Bound (1Gi, standard)"
    )
