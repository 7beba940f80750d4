"""Hardening: pod security, RBAC, NetworkPolicies, images, static analysis, secrets, budget."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common.images import ImagePolicy, mirrored, reference
from scripts.budget import budget, settings_for, table
from simulation.mocks import ROOT, ProgramRun, fake_password, walk
from tests.support.docs import doc
from tests.support.modes import MODE_CONFIG, run_mode
from tests.test_settings import load as settings_of
from tests.test_settings import problems

READ_VERBS = {"get", "list", "watch"}
HARDENED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Containers allowed to differ from HARDENED, and in which fields (see the comments in code).
EXCEPTIONS = {
    # Keeps its disk buffer in the node's /var/lib/vector (hostPath, owned by root).
    "vector agent": {"runAsNonRoot"},
    # Root with SYS_ADMIN for profiling metrics; the embedded host engine writes to its root.
    "dcgm-exporter": {"runAsNonRoot", "capabilities", "readOnlyRootFilesystem"},
}


def containers(run: ProgramRun) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, securityContext, resources) of every container the program defines or hands to
    a chart, with the pod-level context merged under the container's where the chart does."""
    for obj in run.kubernetes_objects():
        if obj["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
            pod = obj["spec"]["template"]["spec"]
            for container in pod["containers"]:
                context = {**pod.get("securityContext", {}), **container["securityContext"]}
                yield container["name"], context, container["resources"]
    charts = run.charts()
    prometheus = charts["prometheus"].plain["values"]
    server = prometheus["server"]
    yield (
        "prometheus server",
        {**server["securityContext"], **server["containerSecurityContext"]},
        server["resources"],
    )
    reloader = prometheus["configmapReload"]["prometheus"]
    yield (
        "prometheus config reloader",
        {**server["securityContext"], **reloader["containerSecurityContext"]},
        reloader["resources"],
    )
    for part in ("kube-state-metrics", "prometheus-node-exporter"):
        values = prometheus[part]
        if values.get("enabled", True):
            yield part, values["containerSecurityContext"], values["resources"]
    for release, role in (("vector", "vector agent"), ("vector-collector", "vector collector")):
        values = charts[release].plain["values"]
        pod_context = values.get("podSecurityContext", {})
        yield role, {**pod_context, **values["securityContext"]}, values["resources"]
        for sidecar in values["extraContainers"]:
            yield (
                sidecar["name"],
                {**pod_context, **sidecar["securityContext"]},
                sidecar["resources"],
            )
    if "dcgm-exporters" in charts:
        values = charts["dcgm-exporters"].plain["values"]
        yield "dcgm-exporter", values["securityContext"], values["resources"]


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_every_container_is_hardened_or_a_documented_exception(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    seen = set()
    for name, context, resources in containers(run_mode(program, mode, shipNodeExporter=True)):
        seen.add(name)
        assert set(resources) == {"requests", "limits"}, name
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        allowed = EXCEPTIONS.get(name, set())
        for field, value in HARDENED.items():
            if field in allowed:
                continue
            assert context.get(field) == value, f"{name}: {field}"
        if "capabilities" not in allowed:
            assert "add" not in context["capabilities"], name
    expected = {
        "vector agent",
        "vector collector",
        "prometheus server",
        "event-exporter",
        "prometheus-node-exporter",
    }
    assert expected <= seen
    assert ("cred-refresher" in seen) == (mode == "cedana")


def test_the_dcgm_exception_adds_only_sys_admin(default_run: ProgramRun) -> None:
    values = default_run.charts()["dcgm-exporters"].plain["values"]
    assert values["securityContext"] == {
        "runAsNonRoot": False,
        "runAsUser": 0,
        "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert values["podSecurityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}


@pytest.mark.parametrize("api", [True, False])
def test_vector_pods_are_probed_through_their_api(
    program: Callable[..., ProgramRun], api: bool
) -> None:
    run = program(vectorApi=api)
    check = {"httpGet": {"path": "/health", "port": 8686}, "timeoutSeconds": 5}
    for release in ("vector", "vector-collector"):
        values = run.charts()[release].plain["values"]
        probes = {k: values.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")}
        if not api:
            assert probes == dict.fromkeys(probes), release
            continue
        assert probes == {
            "startupProbe": {**check, "periodSeconds": 10, "failureThreshold": 30},
            "livenessProbe": {**check, "periodSeconds": 30, "failureThreshold": 3},
            "readinessProbe": {**check, "periodSeconds": 10, "failureThreshold": 1},
        }, release
        api_address = values["customConfig"]["api"]
        assert api_address == {"enabled": True, "address": "0.0.0.0:8686"}, release


def test_the_collectors_buffer_survives_the_pod(program: Callable[..., ProgramRun]) -> None:
    values = program().charts()["vector-collector"].plain["values"]
    assert values["persistence"] == {
        "enabled": True,
        "accessModes": ["ReadWriteOnce"],
        "size": "5Gi",
    }
    values = (
        program(vectorCollectorStorageClass="gp3", vectorCollectorStorageSize="20Gi")
        .charts()["vector-collector"]
        .plain["values"]
    )
    assert values["persistence"]["storageClassName"] == "gp3"
    assert values["persistence"]["size"] == "20Gi"
    assert program(vectorCollectorPersistence=False).charts()["vector-collector"].plain["values"][
        "persistence"
    ] == {"enabled": False}


def test_without_persistence_the_buffer_volume_is_bounded(
    program: Callable[..., ProgramRun],
) -> None:
    values = program(vectorCollectorPersistence=False).charts()["vector-collector"].plain["values"]
    assert values["persistence"] == {"enabled": False}
    assert {"name": "buffer", "emptyDir": {"sizeLimit": "4506Mi"}} in values["extraVolumes"]
    assert {"name": "buffer", "mountPath": "/vector-data-dir/buffer"} in values["extraVolumeMounts"]
    persistent = program().charts()["vector-collector"].plain["values"]
    assert [v["name"] for v in persistent["extraVolumes"]] == [
        "aws-credentials",
        "cred-refresher-script",
        "credentials-endpoint-token",
        "cedana-target",
    ]


def test_a_volume_too_small_for_the_buffer_is_refused() -> None:
    error = problems(vectorCollectorStorageSize="4Gi")
    assert error.keys == ["vectorCollectorStorageSize"]
    assert "at least 4505Mi" in str(error)
    # Without persistence the size does not matter.
    assert settings_of(vectorCollectorStorageSize="1Gi", vectorCollectorPersistence="false")


def roles(run: ProgramRun) -> list[dict[str, Any]]:
    kinds = ("ClusterRole", "Role")
    return [o for o in run.kubernetes_objects() if o["kind"] in kinds]


@pytest.mark.parametrize("gpu_mode", ["install", "external", "off"])
def test_every_role_only_reads_and_names_what_it_reads(
    program: Callable[..., ProgramRun], gpu_mode: str
) -> None:
    run = program(gpuMode=gpu_mode)
    assert len(roles(run)) == 2
    for role in roles(run):
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= READ_VERBS, role["metadata"]["name"]
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(field, []), role["metadata"]["name"]
    server = next(r for r in roles(run) if r["metadata"]["name"].endswith("prometheus-server"))
    resources = {res for rule in server["rules"] for res in rule["resources"]}
    assert ("endpointslices" in resources) == (gpu_mode != "off")
    assert "secrets" not in resources and "configmaps" not in resources


def test_charts_get_no_more_api_access_than_they_use(default_run: ProgramRun) -> None:
    charts = default_run.charts()
    for release in ("vector", "vector-collector"):
        values = charts[release].plain["values"]
        assert values["serviceAccount"]["automountToken"] is False
    assert charts["vector"].plain["values"]["rbac"] == {"create": False}
    prometheus = charts["prometheus"].plain["values"]
    assert prometheus["kube-state-metrics"]["collectors"] == ["pods", "jobs"]
    assert prometheus["server"]["useExistingClusterRoleName"] == (
        "cedana-monitoring-prometheus-server"
    )


def network_policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"]: o["spec"]
        for o in run.kubernetes_objects()
        if o["kind"] == "NetworkPolicy"
    }


def test_ingress_is_denied_by_default_and_allowed_for_the_data_path(
    default_run: ProgramRun,
) -> None:
    policies = network_policies(default_run)
    assert policies["default-deny-ingress"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    flows = set()
    for name, spec in policies.items():
        assert spec["policyTypes"] == ["Ingress"], name
        assert "egress" not in spec, name  # egress stays open (docs/security.md: why)
        for rule in spec["ingress"]:
            # No `from`: any source (the API server's proxy, for verify).
            for source in rule.get("from", [{"podSelector": {"matchLabels": {}}}]):
                for port in rule["ports"]:
                    target = spec["podSelector"]["matchLabels"]
                    labels = source["podSelector"]["matchLabels"]
                    origin = labels.get(
                        "app.kubernetes.io/instance",
                        labels.get("app.kubernetes.io/name", "anywhere"),
                    )
                    flows.add((origin, target["app.kubernetes.io/name"], port["port"]))
    assert flows == {
        ("vector", "vector", 6000),  # agents -> collector
        ("prometheus", "vector", 9201),  # remote write -> collector
        ("vector-collector", "kube-state-metrics", 8080),
        ("vector-collector", "kubernetes-event-exporter", 2112),
        ("kubernetes-event-exporter", "vector", 9202),  # Events -> collector
        ("prometheus", "dcgm-exporter", 9400),
        ("prometheus", "vector", 9598),  # Vector's own metrics, agents and collector
        ("anywhere", "prometheus", 9090),  # verify's queries through the API server
        ("anywhere", "vector", 8081),  # the refresher's /status, through the API server
    }
    # Both flows into Vector reach the collector only, never an agent.
    for name in ("agents-to-collector", "prometheus-to-collector"):
        assert policies[name]["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "vector",
            "app.kubernetes.io/instance": "vector-collector",
        }
    # Vector's API (the health probes) is open to no pod.
    opened = {p["port"] for spec in policies.values() for r in spec["ingress"] for p in r["ports"]}
    assert 8686 not in opened
    # What any source may reach: Prometheus' HTTP API and the refresher's health port, each
    # on one workload and one port, never a data-path port.
    anywhere = {
        (name, spec["podSelector"]["matchLabels"]["app.kubernetes.io/instance"], p["port"])
        for name, spec in policies.items()
        for r in spec["ingress"]
        if "from" not in r
        for p in r["ports"]
    }
    assert anywhere == {
        ("api-server-to-prometheus", "prometheus", 9090),
        ("api-server-to-refresher-status", "vector-collector", 8081),
    }
    assert policies["api-server-to-prometheus"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "prometheus",
        "app.kubernetes.io/instance": "prometheus",
        "app.kubernetes.io/component": "server",
    }


def test_network_policies_follow_the_settings(program: Callable[..., ProgramRun]) -> None:
    assert "prometheus-to-dcgm-exporter" not in network_policies(program(gpuMode="external"))
    # No refresher, no health port to open.
    static = network_policies(run_mode(program, "static"))
    assert "api-server-to-refresher-status" not in static
    assert "api-server-to-prometheus" in static
    assert network_policies(program(networkPolicies=False)) == {}


# --- Images ----------------------------------------------------------------------------------


def image_references(run: ProgramRun) -> list[str]:
    found = []
    for resource in run.resources:
        for path, value, _ in walk(resource.plain):
            if path.endswith(".image") and isinstance(value, str):
                found.append(value)
    return found


def test_every_image_the_program_names_has_an_exact_tag(default_run: ProgramRun) -> None:
    references = image_references(default_run)
    assert len(references) >= 2
    for image in references:
        tag = image.rsplit(":", 1)[1]
        assert tag and tag != "latest", image


def test_a_private_registry_digests_and_pull_secrets_reach_every_image(
    program: Callable[..., ProgramRun],
) -> None:
    digest = "sha256:" + "ab" * 32
    run = program(
        imageRegistry="registry.example.com/mirror",
        imagePullSecrets=["regcred"],
        imageDigests={
            "quay.io/prometheus/prometheus": digest,
            "docker.io/timberio/vector": digest,
            "python": digest,
            "ghcr.io/resmoio/kubernetes-event-exporter": digest,
            "registry.k8s.io/kube-state-metrics/kube-state-metrics": digest,
            "nvcr.io/nvidia/k8s/dcgm-exporter": digest,
        },
        shipNodeExporter=True,
    )
    for image in image_references(run):
        assert image.startswith("registry.example.com/mirror/"), image
        assert image.endswith(f"@{digest}"), image
    charts = {name: chart.plain["values"] for name, chart in run.charts().items()}
    prometheus = charts["prometheus"]
    assert prometheus["server"]["image"] == {
        "repository": "registry.example.com/mirror/prometheus/prometheus",
        "digest": digest,
    }
    assert prometheus["configmapReload"]["prometheus"]["image"]["repository"] == (
        "registry.example.com/mirror/prometheus-operator/prometheus-config-reloader"
    )
    assert prometheus["kube-state-metrics"]["image"] == {
        "registry": "registry.example.com/mirror",
        "repository": "kube-state-metrics/kube-state-metrics",
        "sha": digest,
    }
    assert prometheus["prometheus-node-exporter"]["image"]["registry"] == (
        "registry.example.com/mirror"
    )
    assert charts["vector"]["image"]["repository"] == "registry.example.com/mirror/timberio/vector"
    assert charts["vector"]["image"]["sha"] == digest
    assert charts["dcgm-exporters"]["image"]["repository"] == (
        "registry.example.com/mirror/nvidia/k8s/dcgm-exporter"
    )
    assert charts["dcgm-exporters"]["image"]["tag"].endswith(f"@{digest}")
    secret_refs = [{"name": "regcred"}]
    assert prometheus["imagePullSecrets"] == secret_refs
    assert prometheus["kube-state-metrics"]["imagePullSecrets"] == secret_refs
    assert prometheus["prometheus-node-exporter"]["imagePullSecrets"] == secret_refs
    assert charts["vector"]["image"]["pullSecrets"] == secret_refs
    assert charts["vector-collector"]["image"]["pullSecrets"] == secret_refs
    assert charts["dcgm-exporters"]["imagePullSecrets"] == secret_refs
    deployment = run.one("kubernetes:apps/v1:Deployment", "event-exporter-deployment").plain
    assert deployment["spec"]["template"]["spec"]["imagePullSecrets"] == secret_refs


def test_mirrored_names_keep_their_path() -> None:
    assert mirrored("python", "r.io/m") == "r.io/m/library/python"
    assert mirrored("timberio/vector", "r.io") == "r.io/timberio/vector"
    assert mirrored("ghcr.io/a/b", "r.io") == "r.io/a/b"
    assert mirrored("localhost:5000/a", "r.io") == "r.io/a"
    assert mirrored("ghcr.io/a/b", "") == "ghcr.io/a/b"
    assert reference("python:3.13", ImagePolicy()) == "python:3.13"
    pinned = ImagePolicy(digests={"docker.io/library/python": "sha256:" + "0" * 64})
    assert reference("python:3.13", pinned) == "python:3.13@sha256:" + "0" * 64


# --- Static analysis -------------------------------------------------------------------------

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def checkov(objects: list[dict[str, Any]], directory: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is missing: ./scripts/test installs it in .venv-checkov"
    for i, obj in enumerate(objects):
        (directory / f"{i:03d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj))
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--quiet",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    report = reports[0] if isinstance(reports, list) else reports
    return report


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_checkov_finds_nothing_unexplained(
    program: Callable[..., ProgramRun], mode: str, tmp_path: Path
) -> None:
    run = run_mode(program, mode, createBucket=mode in ("irsa", "pod-identity"))
    report = checkov(run.kubernetes_objects(), tmp_path)
    failed = report["results"]["failed_checks"]
    assert [(c["check_id"], c["resource"]) for c in failed] == []
    assert report["summary"]["passed"] > 50
    for skipped in report["results"].get("skipped_checks", []):
        assert len(skipped["suppress_comment"]) > 20, skipped["check_id"]


def test_checkov_would_catch_a_privileged_container(tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "x"},
        "spec": {
            "containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]
        },
    }
    failed = {c["check_id"] for c in checkov([pod], tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_16" in failed  # privileged containers


# --- Secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_secrets_live_only_in_secrets_and_secret_outputs(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    run = run_mode(program, mode)
    secrets = {v for v in (MODE_CONFIG[mode].get("secrets") or {}).values()}
    secrets |= {"test-cedana-token-3c1d9f0e8b7a"} if mode == "cedana" else set()
    # The loopback endpoint's token, as pulumi-random returns it (a secret output).
    secrets |= {
        fake_password(r.name) for r in run.of_type("random:index/randomPassword:RandomPassword")
    }
    seen_in_secret = set()
    for resource in run.resources:
        for path, value, under_secret in walk(resource.inputs):
            for secret in secrets:
                if secret in str(value):
                    assert under_secret, f"{resource.name}{path}"
                    assert resource.type == "kubernetes:core/v1:Secret", resource.name
                    seen_in_secret.add(secret)
    # What each mode needs is there, in a Secret (clusterId only matters to the refresher).
    needed = {
        "cedana": secrets,
        "static": secrets - {MODE_CONFIG["static"]["secrets"]["clusterId"]},
    }.get(mode, set())
    assert seen_in_secret == needed
    exported = json.dumps(run.outputs, default=str)
    assert not any(secret in exported for secret in secrets)


# --- Budget ----------------------------------------------------------------------------------


def test_the_sizing_doc_shows_the_default_budget() -> None:
    assert table(budget(settings_for(None))) in doc("sizing")


def test_the_budget_counts_the_sidecar_and_dcgm_only_where_they_run() -> None:
    default = budget(settings_for(None))
    assert [line.workload for line in default.gpu_node] == ["dcgm-exporter"]
    assert [line.workload for line in default.cpu_node] == ["vector agent"]
    assert "cred-refresher (collector's sidecar)" in [line.workload for line in default.cluster]
    assert default.cluster[0].resources.to_kubernetes() == {
        "requests": {"cpu": "200m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    shipped = budget(settings_for(None).model_copy(update={"ship_node_exporter": True}))
    assert [line.workload for line in shipped.cpu_node] == ["vector agent", "node-exporter"]


def port_names(value: Any) -> list[str]:
    """Every named container or service port anywhere in a tree of values or objects."""
    found: list[str] = []
    if isinstance(value, dict):
        if "name" in value and ("containerPort" in value or "targetPort" in value):
            found.append(value["name"])
        for item in value.values():
            found += port_names(item)
    elif isinstance(value, list):
        for item in value:
            found += port_names(item)
    return found


@pytest.mark.parametrize("mode", sorted(MODE_CONFIG))
def test_every_port_name_is_one_the_api_server_accepts(
    program: Callable[..., ProgramRun], mode: str
) -> None:
    # IANA service names: at most 15 characters (the schemas do not say; the API server does).
    run = run_mode(program, mode)
    names = port_names([r.plain for r in run.resources])
    assert names
    for name in names:
        assert len(name) <= 15 and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name), name
        assert re.search("[a-z]", name), name
