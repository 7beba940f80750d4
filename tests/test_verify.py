"""`scripts/verify` under fakes: each check from canned API answers. A healthy stack is all ✓
and exits 0; each broken state users meet gives its ✗ and the one thing to do."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.stack_files import ROOT
from tests.support.docs import doc
from tests.support.verify_world import (
    BROKEN,
    BUCKET,
    DOCUMENTED,
    NOW,
    PREFIX,
    T,
    World,
    cedana_refuses_the_token,
    healthy,
    log_line,
    node,
    prefix_outside_cedanas,
    prometheus_out_of_reach,
    retry_lines,
    stall_writes,
    unlabelled_gpu_node,
)
from verify import stack
from verify.cli import Report, checks
from verify.delivery import increase_since, last_increase, log_events, parse_stamp
from verify.placement import tolerates, untolerated
from verify.verdict import Series, Verdict
from verify.workloads import toleration_fix


def run(world: World) -> dict[str, Verdict]:
    return {v.check: v for v in checks(world.snapshot(), world.settings)}


def report_of(world: World) -> Report:
    return Report(
        "test", "fake", world.settings.namespace, checks(world.snapshot(), world.settings)
    )


def failing(world: World) -> set[str]:
    return {name for name, v in run(world).items() if not v.ok}


# --- A healthy stack -------------------------------------------------------------------------


def test_a_healthy_stack_is_all_ticks_exits_0_and_says_data_reaches_cedana() -> None:
    report = report_of(healthy())
    assert [v.check for v in report.verdicts] == [
        "workloads",
        "agents",
        "dcgm",
        "collector-volume",
        "s3-writes",
        "credentials",
        "buffers",
        "remote-write",
    ]
    assert [v for v in report.verdicts if not v.ok] == []
    assert all(v.fix is None for v in report.verdicts)
    assert (report.ok, report.flowing, report.exit_code) == (True, True, 0)
    text = report.text()
    assert text.splitlines()[-1] == "data reaches Cedana"
    assert "✗" not in text and text.count("✓") == 8


def test_the_healthy_lines_say_when_how_much_and_where() -> None:
    verdicts = run(healthy())
    assert verdicts["workloads"].line == "workloads: 6 of 6 ready"
    assert verdicts["agents"].line == "agents: on 3 of 3 nodes"
    assert verdicts["dcgm"].line == "dcgm: on 1 of 1 GPU nodes"
    assert verdicts["s3-writes"].line == (
        f"S3 writes: last at 10:42:00Z (0 s ago) to s3://{BUCKET}/{PREFIX}/;"
        " 36000 events in 15 min; no errors since"
    )
    assert verdicts["credentials"].line == (
        "credentials: cedana, expire 11:29:00Z (in 47 min), last refresh 10:33:00Z (9 min ago),"
        f" bucket {BUCKET}, prefix {PREFIX}/ covers {PREFIX}/"
    )
    assert verdicts["buffers"].line == (
        "buffers: collector 0.4% full (17 MiB of 4.0 GiB), agents at most 0.1% (3 reporting)"
    )
    assert verdicts["remote-write"].line == (
        "remote write: 4 s behind, 120 samples pending, 0 failed and 0 retried in 15 min"
    )


# --- The broken states -----------------------------------------------------------------------

# state -> (the checks that fail, the check that names the cause, in its line, in its fix)
EXPECTED: dict[str, tuple[set[str], str, tuple[str, ...], tuple[str, ...]]] = {
    "wrong bucket (403)": (
        {"s3-writes", "credentials"},
        "s3-writes",
        (
            "no write since 10:27:00Z",
            "403",
            "s3://cedana-metrics-wrong/org-1/v2/vector/data/",
            "Cedana's credentials are for bucket cedana-metrics",
        ),
        ("pulumi config rm cedana-monitoring:s3Bucket", "Cedana's answer", "pulumi up"),
    ),
    "Cedana unreachable": (
        {"credentials"},
        "credentials",
        ("refresh failing (6 in a row", "ConnectionRefusedError", "expire 11:29:00Z (in 47 min)"),
        ("cannot reach Cedana at https://api.cedana.ai", "api.cedana.ai (port 443)", "httpsProxy"),
    ),
    "collector Pending (no storage class)": (
        {"workloads", "collector-volume", "s3-writes", "credentials", "buffers", "remote-write"},
        "collector-volume",
        ("data-vector-collector-0 Pending", "no default StorageClass", "local-path"),
        (
            "kubectl annotate storageclass local-path",
            "storageclass.kubernetes.io/is-default-class=true",
        ),
    ),
    "node without an agent (untolerated taint)": (
        {"agents"},
        "agents",
        ("on 3 of 4 nodes", "batch-1 (taint dedicated=batch:NoExecute not tolerated)"),
        (
            "pulumi config set --path 'cedana-monitoring:vectorAgentTolerations[1]'",
            '\'{"key":"dedicated","operator":"Exists","effect":"NoExecute"}\'',
            "pulumi up",
        ),
    ),
    "S3 down": (
        {"s3-writes"},
        "s3-writes",
        ("no write since 10:32:00Z (10 min ago)", "cannot be reached from the collector"),
        (
            "allow the collector's egress to cedana-metrics.s3.us-east-1.amazonaws.com:443",
            "httpsProxy",
        ),
    ),
    "full buffer": (
        {"s3-writes", "buffers"},
        "buffers",
        ("collector 96.0% full (3.8 GiB of 4.0 GiB)",),
        ("fix the S3 writes line", "vectorCollectorBufferBytes"),
    ),
}


@pytest.mark.parametrize("state", sorted(BROKEN))
def test_each_broken_state_gives_its_cross_and_the_fix(state: str) -> None:
    world = BROKEN[state]()
    fails, cause, in_line, in_fix = EXPECTED[state]
    assert failing(world) == fails
    verdict = run(world)[cause]
    for text in in_line:
        assert text in verdict.line, verdict.line
    assert verdict.fix is not None
    for text in in_fix:
        assert text in verdict.fix, verdict.fix
    report = report_of(world)
    assert report.exit_code == 1
    # Every ✗ comes with its fix, printed under it.
    lines = report.text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("✗"):
            assert lines[i + 1].startswith("  fix: "), line


def test_the_cedana_outage_is_a_cross_while_data_still_flows() -> None:
    report = report_of(BROKEN["Cedana unreachable"]())
    assert report.flowing and not report.ok
    assert report.text().splitlines()[-1] == "data reaches S3, but 1 of 8 checks failed"


def test_the_fixes_are_shell_ready() -> None:
    fix = run(BROKEN["node without an agent (untolerated taint)"]())["agents"].fix
    assert fix is not None
    words = shlex.split(fix.removesuffix(", then pulumi up"))
    assert words[:4] == ["pulumi", "config", "set", "--path"]
    assert words[4] == "cedana-monitoring:vectorAgentTolerations[1]"
    assert json.loads(words[5]) == {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}


# --- Details of the checks -------------------------------------------------------------------


def test_a_prefix_outside_cedanas_is_a_403_with_the_setting_to_unset() -> None:
    verdicts = run(prefix_outside_cedanas())
    assert (
        "403: Cedana's credentials allow keys under org-1/v2/vector/data/ only, not vector/data/"
        in verdicts["s3-writes"].line
    )
    fix = verdicts["credentials"].fix
    assert fix is not None
    # Unset, the prefix is the one Cedana's answer names (and its credentials allow).
    assert shlex.split(fix.split(" (", 1)[0]) == [
        "pulumi",
        "config",
        "rm",
        "cedana-monitoring:vectorKeyPrefix",
    ]
    assert fix == verdicts["s3-writes"].fix
    assert "does not cover vector/data/" in verdicts["credentials"].line


def test_a_refused_token_means_no_credentials_and_the_secret_to_set() -> None:
    verdicts = run(cedana_refuses_the_token())
    assert verdicts["s3-writes"].line.endswith("the collector holds no credentials")
    assert "none held, refresh failing (9 in a row" in verdicts["credentials"].line
    fix = verdicts["credentials"].fix or ""
    assert fix.startswith("pulumi config set --secret cedana-monitoring:authToken")


def test_errors_since_a_write_minutes_ago_are_a_cross_sooner_than_a_quiet_spell() -> None:
    quiet = healthy()
    stall_writes(quiet, T - 180)
    assert run(quiet)["s3-writes"].ok  # three quiet minutes: not yet a failure
    failing_now = healthy()
    stall_writes(failing_now, T - 180)
    failing_now.log += retry_lines(T - 170, "service error")
    verdict = run(failing_now)["s3-writes"]
    assert not verdict.ok
    assert verdict.line.startswith("S3 writes: no write since 10:39:00Z (3 min ago)")


def test_recent_writes_with_retried_errors_since_still_flow() -> None:
    world = healthy()
    world.log.append(
        log_line(
            T + 1, "WARN", "sink{component_id=s3_sink}: Retrying after error. error=service error"
        )
    )
    verdict = run(world)["s3-writes"]
    assert verdict.ok
    assert verdict.line.endswith("1 retried error since (1 refused), none lost")


def test_prometheus_out_of_reach_says_where_the_api_server_is_blocked() -> None:
    world = prometheus_out_of_reach()
    verdicts = run(world)
    assert failing(world) == {"s3-writes", "buffers", "remote-write"}
    for name in ("s3-writes", "buffers", "remote-write"):
        fix = verdicts[name].fix or ""
        assert "api-server-to-prometheus" in fix and ":9090" in fix, fix


def test_an_agent_crashing_on_one_node_is_named_with_its_logs_command() -> None:
    world = healthy()
    crashing = world.pod_named("vector-node-b")
    crashing["status"]["containerStatuses"][0] |= {
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
    }
    world.nodes.append(node("node-down", ready=False))
    verdict = run(world)["agents"]
    assert not verdict.ok
    assert "node-b (vector-node-b CrashLoopBackOff (vector): back-off 5m0s)" in verdict.line
    assert "node-down not Ready or virtual: not counted" in verdict.line
    assert verdict.fix == "kubectl logs -n cedana-monitoring vector-node-b -c vector --previous"


def test_a_gpu_node_without_gpu_labels_gets_the_label_to_add() -> None:
    world = unlabelled_gpu_node()
    assert failing(world) == {"dcgm"}
    verdict = run(world)["dcgm"]
    assert "gpu-2 offer nvidia.com/gpu but match no GPU label" in verdict.line
    assert (verdict.fix or "").startswith("kubectl label node gpu-2 nvidia.com/gpu.present=true")


def test_an_image_that_cannot_be_pulled_points_at_the_registry_settings() -> None:
    world = healthy()
    server = world.pod_named("kubernetes-event-exporter-6b-x3")
    server["status"]["containerStatuses"][0] |= {
        "ready": False,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
    }
    world.deployments[2]["status"]["readyReplicas"] = 0
    verdict = run(world)["workloads"]
    assert verdict.line.startswith("workloads: 5 of 6 ready; kubernetes-event-exporter 0/1:")
    assert "imageRegistry" in (verdict.fix or "")


def test_nothing_deployed_says_pulumi_up() -> None:
    world = healthy()
    world.deployments, world.daemonsets, world.statefulsets = [], [], []
    verdict = run(world)["workloads"]
    assert (
        verdict.line
        == "workloads: none of the stack's workloads runs in namespace cedana-monitoring"
    )
    assert (verdict.fix or "").startswith("pulumi up")


def test_irsa_checks_that_eks_injected_the_role() -> None:
    world = healthy(
        credentialsMode="irsa",
        irsaOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    )
    verdict = run(world)["credentials"]
    assert not verdict.ok
    assert verdict.line == "credentials: irsa: vector-collector-0 has no AWS_ROLE_ARN"
    assert "kubectl delete pod -n cedana-monitoring vector-collector-0" in (verdict.fix or "")
    vector = world.pod_named("vector-collector-0")["spec"]["containers"][0]
    vector["env"] = [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::123456789012:role/cedana"}]
    assert run(world)["credentials"].ok


def test_without_persistence_or_gpus_those_lines_say_so() -> None:
    world = healthy(vectorCollectorPersistence=False, gpuMode="off")
    verdicts = run(world)
    assert "dcgm" not in verdicts
    assert verdicts["collector-volume"].ok
    assert "emptyDir" in verdicts["collector-volume"].line


def test_a_counter_restart_still_counts_as_a_write() -> None:
    restarted = Series({}, ((0.0, 100.0), (30.0, 130.0), (60.0, 5.0), (90.0, 5.0)))
    flat = Series({}, ((0.0, 7.0), (90.0, 7.0)))
    assert last_increase([restarted, flat]) == 60.0
    assert last_increase([flat]) is None
    assert increase_since([restarted], 20.0) == 35.0


def test_the_log_tells_refusals_outages_and_missing_buckets_apart() -> None:
    lines = [
        log_line(
            T - 50,
            "WARN",
            "sink{component_id=s3_sink}: vector::sinks::util::retries: Retrying after error."
            " error=service error",
        ),
        log_line(
            T - 40,
            "WARN",
            "sink{component_id=s3_sink}: Retrying after error. error=dispatch failure",
        ),
        log_line(
            T - 30,
            "ERROR",
            "vector::topology::builder: Healthcheck failed. error=Invalid credentials"
            " component_id=s3_sink",
        ),
        log_line(
            T - 20,
            "ERROR",
            "vector::topology::builder: Healthcheck failed."
            ' error=Unknown bucket: "x" component_id=s3_sink',
        ),
        log_line(
            T - 10,
            "WARN",
            "sink{component_id=collector}: Retrying after error. error=dispatch failure",
        ),
        log_line(T - 5, "INFO", "sink{component_id=s3_sink}: all good"),
    ]
    events = log_events("\n".join(lines))
    assert [e.kind for e in events] == ["refused", "unreachable", "no such bucket"]
    assert events[0].at == pytest.approx(T - 50, abs=1e-3)
    assert parse_stamp("2026-11-25T10:42:00.123456789Z") == pytest.approx(
        NOW.timestamp() + 0.123456789
    )


def test_taints_and_tolerations_follow_the_scheduler() -> None:
    taint = {"key": "dedicated", "value": "batch", "effect": "NoExecute"}
    assert tolerates({"operator": "Exists"}, taint)
    assert tolerates({"key": "dedicated", "operator": "Equal", "value": "batch"}, taint)
    assert not tolerates({"key": "dedicated", "operator": "Equal", "value": "gpu"}, taint)
    assert not tolerates({"operator": "Exists", "effect": "NoSchedule"}, taint)
    unschedulable = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    cordoned = node("n", taints=[unschedulable, {"key": "soft", "effect": "PreferNoSchedule"}])
    assert untolerated(cordoned, []) == []  # DaemonSets run on cordoned nodes
    two = [taint, {"key": "other", "effect": "NoExecute"}]
    fix = toleration_fix(two, 2)
    assert json.loads(shlex.split(fix.removesuffix(", then pulumi up"))[-1]) == {
        "operator": "Exists",
        "effect": "NoExecute",
    }


# --- The report ------------------------------------------------------------------------------


def test_the_json_report_has_one_entry_per_check_and_says_whether_data_flows() -> None:
    document = report_of(BROKEN["S3 down"]()).as_json()
    assert set(document) == {
        "stack",
        "context",
        "namespace",
        "checked_at",
        "seconds",
        "ok",
        "flowing",
        "error",
        "fix",
        "checks",
    }
    assert (document["ok"], document["flowing"], document["error"]) == (False, False, None)
    for entry in document["checks"]:
        assert set(entry) == {"check", "ok", "line", "fix", "details"}
        assert (entry["fix"] is None) == entry["ok"]
    s3 = next(e for e in document["checks"] if e["check"] == "s3-writes")
    assert s3["details"]["destination"] == f"s3://{BUCKET}/{PREFIX}/"
    assert s3["details"]["errors_since"] == {"unreachable": 59}
    json.dumps(document)  # serialisable as is


def test_a_report_that_could_not_look_exits_2() -> None:
    report = Report("x", None, "ns", error="cluster: did not answer", fix="check the context")
    assert report.exit_code == 2 and not report.ok and not report.flowing
    assert report.text().splitlines()[1:] == [
        "✗ cluster: did not answer",
        "  fix: check the context",
    ]


# --- The stack -------------------------------------------------------------------------------


def stack_file(root: Path, name: str, config: dict[str, Any]) -> None:
    values = {f"cedana-monitoring:{k}": v for k, v in config.items()}
    (root / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": values}))


def test_the_stack_gives_context_and_namespace_without_decrypting_a_secret(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    ciphertext = "v1:c2VjcmV0LWJ5dGVz"
    stack_file(
        tmp_path,
        "prod-eu",
        {
            "kubeContext": "prod-eu-ctx",
            "namespace": "observability",
            "s3Bucket": "cedana-metrics-acme",
            "awsRegion": "eu-west-1",
            "clusterId": {"secure": ciphertext},
            "authToken": {"secure": ciphertext},
        },
    )
    found = stack.target("prod-eu", tmp_path)
    assert (found.stack, found.context, found.namespace) == (
        "prod-eu",
        "prod-eu-ctx",
        "observability",
    )
    assert found.settings.aws_region == "eu-west-1"
    assert found.settings.auth_token is not None
    assert ciphertext not in found.settings.auth_token.get_secret_value()


def test_without_a_name_the_selected_stack_or_the_only_stack_file_is_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.setattr(stack, "selected_stack", lambda root: None)
    stack_file(tmp_path, "only", {"s3Bucket": "b", "awsRegion": "us-east-1"})
    assert stack.choose_stack(None, tmp_path) == "only"
    stack_file(tmp_path, "second", {"s3Bucket": "b", "awsRegion": "us-east-1"})
    with pytest.raises(stack.StackError, match=r"pass --stack NAME \(stack files: only, second\)"):
        stack.choose_stack(None, tmp_path)
    monkeypatch.setattr(stack, "selected_stack", lambda root: "second")
    assert stack.choose_stack(None, tmp_path) == "second"


def test_a_stack_the_program_would_refuse_is_refused_with_its_message(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack_file(tmp_path, "typo", {"s3Bucket": "b", "awsRegion": "us-east-1", "gpumode": "off"})
    with pytest.raises(stack.StackError, match="gpumode"):
        stack.target("typo", tmp_path)
    with pytest.raises(stack.StackError, match=r"no Pulumi\.absent\.yaml"):
        stack.target("absent", tmp_path)


# --- The docs show what verify prints --------------------------------------------------------


def printed_lines(world: World) -> set[str]:
    return set(report_of(world).text().splitlines())


def test_the_docs_show_verifys_own_output() -> None:
    """Every ✓, ✗ and fix line in the README's and the troubleshooting page's examples is what
    verify prints for one of the states above (only the header's stack and timing differ)."""
    printed: set[str] = set()
    for make in [healthy, *BROKEN.values(), *DOCUMENTED.values()]:
        printed |= printed_lines(make())
    shown = [
        line
        for page in ("README", "troubleshooting")
        for line in fenced(doc(page))
        if line.startswith(("✓ ", "✗ ", "  fix: "))
    ]
    assert len(shown) > 25
    assert [line for line in shown if line not in printed] == []


def fenced(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


# --- A place left to Cedana's answer ---------------------------------------------------------


def test_where_cedanas_answer_names_the_place_verify_says_it_as_the_refresher_wrote_it() -> None:
    world = healthy()
    world.collector_config["sinks"]["s3_sink"] |= {
        "bucket": "SECRET[cedana.bucket]",
        "region": "SECRET[cedana.region]",
        "key_prefix": "SECRET[cedana.key_prefix]{{ tags.ts }}/",
    }
    assert isinstance(world.refresher, dict)
    world.refresher["target"] = {
        "bucket": BUCKET,
        "region": "us-east-1",
        "key_prefix": f"{PREFIX}/",
    }
    assert f"to s3://{BUCKET}/{PREFIX}/;" in run(world)["s3-writes"].line
    # Without the refresher's word, the line says whose place it is, not a placeholder.
    world.refresher.pop("target")
    assert "to s3://<Cedana's bucket>/<Cedana's key_prefix>;" in run(world)["s3-writes"].line


def test_a_collector_waiting_for_cedanas_first_answer_says_so_and_where_to_look() -> None:
    world = healthy()
    collector = world.pod_named("vector-collector-0")
    collector["status"] |= {
        "phase": "Pending",
        "initContainerStatuses": [
            {"name": "cedana-first-answer", "ready": False, "state": {"running": {}}}
        ],
        "containerStatuses": [
            {"name": c, "ready": False, "state": {"waiting": {"reason": "PodInitializing"}}}
            for c in ("vector", "cred-refresher")
        ],
    }
    world.statefulsets[0]["status"]["readyReplicas"] = 0
    verdict = run(world)["workloads"]
    assert not verdict.ok
    assert "vector-collector-0 WaitingForCedana (cedana-first-answer)" in verdict.line
    assert verdict.fix == (
        "kubectl logs -n cedana-monitoring vector-collector-0 -c cedana-first-answer  (the auth"
        " token, the way to Cedana's API, httpsProxy)"
    )
