"""`scripts/verify` end to end against a fake API server on 127.0.0.1: the real kubernetes
client, the stack's kubeconfig context, the service-proxy paths to Prometheus and the
refresher, the collector's log; the exit status and the --json report; bounded when the
cluster does not answer."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack_files import ROOT
from simulation.support.ports import free_port
from tests.support.fake_kube import FakeKube, status_body
from tests.support.verify_world import NS, World, healthy, wrong_bucket
from verify.cli import main

STACK = "fake-stack"


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube() as fake:
        yield fake


def project(tmp_path: Path, world: World, context: str = "fake") -> Path:
    """A project directory: Pulumi.yaml and one stack file, its secrets encrypted."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    config: dict[str, Any] = {f"cedana-monitoring:{k}": v for k, v in world.stack_config().items()}
    config["cedana-monitoring:kubeContext"] = context
    config["cedana-monitoring:clusterId"] = {"secure": "v1:ZmFrZS1jaXBoZXJ0ZXh0"}
    config["cedana-monitoring:authToken"] = {"secure": "v1:YW5vdGhlci1vbmU="}
    (root / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    return root


def serve(kube: FakeKube, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kube.routes.update(world.routes())
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "kubeconfig")))
    return project(tmp_path, world)


def test_a_healthy_stack_read_through_the_api_server_exits_0(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, healthy(), tmp_path, monkeypatch)
    started = time.monotonic()
    code = main(["--stack", STACK, "--json"], root=root)
    took = time.monotonic() - started
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert (report["ok"], report["flowing"], report["stack"], report["context"]) == (
        True,
        True,
        STACK,
        "fake",
    )
    assert [c["ok"] for c in report["checks"]] == [True] * 8
    assert took < 10
    paths = set(kube.paths())
    proxy = f"/api/v1/namespaces/{NS}/services/prometheus-server:80/proxy/api/v1"
    assert {f"{proxy}/query", f"{proxy}/query_range"} <= paths
    assert f"/api/v1/namespaces/{NS}/pods/vector-collector-0:8081/proxy/status" in paths
    # The hour of deliveries on a grid of whole 30 s steps, ending no later than now.
    (window,) = [q for p, q in kube.requests if p == f"{proxy}/query_range"]
    start, end, step = (float(window[k][0]) for k in ("start", "end", "step"))
    assert (step, end - start, end % step) == (30, 3600, 0)
    assert time.time() - 30 <= end <= time.time()
    logs = [q for p, q in kube.requests if p.endswith("/pods/vector-collector-0/log")]
    assert logs == [
        {
            "container": ["vector"],
            "sinceSeconds": ["3600"],
            "tailLines": ["5000"],
            "timestamps": ["true"],
        }
    ]
    # Only reads, only the namespace and cluster-wide lists the checks need.
    assert all(
        p.startswith(("/api/v1/", "/apis/apps/v1/", "/apis/storage.k8s.io/v1/")) for p in paths
    )


def test_a_broken_stack_prints_its_crosses_and_fixes_and_exits_1(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, wrong_bucket(), tmp_path, monkeypatch)
    assert main(["--stack", STACK], root=root) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"verify {STACK}: context fake, namespace {NS} (")
    crosses = [line for line in out if line.startswith("✗")]
    assert [c.split(":")[0] for c in crosses] == ["✗ S3 writes", "✗ credentials"]
    assert "403" in crosses[0] and "s3://cedana-metrics-wrong/" in crosses[0]
    assert (
        "  fix: pulumi config rm cedana-monitoring:s3Bucket (the collector then writes where"
        " Cedana's answer says), then pulumi up" in out
    )
    assert out[-1] == "data does not reach Cedana: 2 of 8 checks failed"


def test_the_stacks_kube_context_is_the_one_read(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = healthy()
    kube.routes.update(world.routes())
    config = yaml.safe_load(kube.kubeconfig(tmp_path / "kubeconfig").read_text())
    dead = f"http://127.0.0.1:{free_port()}"
    config["clusters"].append({"name": "dead", "cluster": {"server": dead}})
    config["contexts"].append({"name": "other", "context": {"cluster": "dead", "user": "fake"}})
    config["current-context"] = "other"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    assert main(["--stack", STACK, "--json"], root=project(tmp_path, world)) == 0
    assert json.loads(capsys.readouterr().out)["context"] == "fake"


def test_a_cluster_that_refuses_connections_exits_2_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = FakeKube()  # never started: nothing listens on its port once closed
    dead.server.server_close()
    monkeypatch.setenv("KUBECONFIG", str(dead.kubeconfig(tmp_path / "kubeconfig")))
    started = time.monotonic()
    code = main(["--stack", STACK, "--json"], root=project(tmp_path, healthy()))
    assert code == 2
    assert time.monotonic() - started < 5
    report = json.loads(capsys.readouterr().out)
    assert report["error"] == "cluster: fake did not answer (connection refused)"
    assert report["checks"] == [] and report["ok"] is False


def test_a_cluster_that_never_answers_is_given_up_within_the_timeout(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, healthy(), tmp_path, monkeypatch)
    kube.hold.clear()  # every answer waits until the test ends
    started = time.monotonic()
    code = main(["--stack", STACK, "--json", "--timeout", "1"], root=root)
    assert time.monotonic() - started < 4
    assert code == 2
    assert (
        json.loads(capsys.readouterr().out)["error"]
        == "cluster: fake did not answer (no answer within 1 s)"
    )


def test_a_user_who_may_not_list_nodes_is_told_so(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, healthy(), tmp_path, monkeypatch)
    forbidden = 'nodes is forbidden: User "dev" cannot list resource "nodes" at the cluster scope'
    kube.routes["/api/v1/nodes"] = (403, status_body(403, forbidden), "application/json")
    assert main(["--stack", STACK, "--json"], root=root) == 1
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["agents"]["line"] == f"agents: not read (nodes: 403 {forbidden})"
    assert "kubeconfig context that may list" in checks["agents"]["fix"]
    assert checks["workloads"]["ok"] and checks["s3-writes"]["ok"]


def test_refused_credentials_mean_verify_could_not_look(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, healthy(), tmp_path, monkeypatch)
    for path in list(kube.routes):
        kube.routes[path] = (401, status_body(401, "Unauthorized"), "application/json")
    assert main(["--stack", STACK, "--json"], root=root) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["error"] == "cluster: fake refused to be read (401 Unauthorized)"
    assert report["fix"].startswith("log in to the cluster again")


def test_prometheus_errors_come_back_through_the_proxy_as_crosses(
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = serve(kube, healthy(), tmp_path, monkeypatch)
    proxy = f"/api/v1/namespaces/{NS}/services/prometheus-server:80/proxy/api/v1"
    unreachable = status_body(
        503, "error trying to reach service: dial tcp 10.1.2.3:9090: i/o timeout"
    )
    kube.routes[f"{proxy}/query"] = (503, unreachable, "application/json")
    kube.routes[f"{proxy}/query_range"] = (503, unreachable, "application/json")
    assert main(["--stack", STACK, "--json"], root=root) == 1
    checks = {c["check"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert not checks["s3-writes"]["ok"]
    assert "i/o timeout" in checks["s3-writes"]["line"]
    assert "api-server-to-prometheus" in checks["s3-writes"]["fix"]


def test_clusters_verify_gives_each_stack_one_line_and_fails_if_one_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import clusters
    from verify import cli
    from verify.verdict import Verdict

    good = cli.Report("prod-eu", "eu", NS, [Verdict("s3-writes", True, "S3 writes: last at …")])
    bad = cli.Report(
        "prod-us", "us", NS, [Verdict("agents", False, "agents: on 2 of 3 nodes", "fix it")]
    )
    reports = {"prod-eu": good, "prod-us": bad}
    asked: list[str] = []

    def fake_verify(stack: str | None, timeout: float = 8.0, root: Path = ROOT) -> cli.Report:
        asked.append(str(stack))
        return reports[str(stack)]

    monkeypatch.setattr(cli, "verify_stack", fake_verify)
    monkeypatch.setattr(
        clusters, "stack_entries", lambda only=None: [{"stack": s} for s in sorted(reports)]
    )
    assert clusters.main(["verify", "--parallel", "2"]) == 1
    assert sorted(asked) == ["prod-eu", "prod-us"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("prod-eu  verify   ok      1 checks ✓, data reaches Cedana")
    assert lines[1].startswith("prod-us  verify   FAILED  agents: on 2 of 3 nodes")
