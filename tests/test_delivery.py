"""Delivery: workflows, previews, several clusters, render mode, migration, the test command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from scripts import clusters, list_stacks
from simulation.mocks import ROOT, ProgramRun
from simulation.support.waiting import wait_until
from tests.e2e import cedana_standin
from tests.support.docs import doc
from tests.support.sidecar import Launcher, s3_client_through

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def workflow(name: str) -> dict[Any, Any]:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def run_steps(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


# --- The workflows are valid -----------------------------------------------------------------


def test_the_workflows_exist() -> None:
    assert {w.name for w in WORKFLOWS} == {"ci.yml", "preview.yml", "deploy.yml", "e2e.yml"}


def test_every_workflow_passes_actionlint_with_shellcheck() -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "actionlint"), "-verbose", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shellcheck" not in result.stderr.lower() or "disabled" not in result.stderr.lower()


def test_every_workflow_matches_githubs_workflow_schema() -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linters_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.evnt }}\n"
    )
    lint = subprocess.run([str(BIN / "actionlint"), str(broken)], capture_output=True, check=False)
    assert lint.returncode != 0
    no_jobs = tmp_path / "no-jobs.yml"
    no_jobs.write_text("on: push\n")
    schema = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(no_jobs),
        ],
        capture_output=True,
        check=False,
    )
    assert schema.returncode != 0


# --- What each workflow does -----------------------------------------------------------------


def test_ci_runs_the_readmes_test_command_on_pull_requests_and_pushes() -> None:
    ci = workflow("ci.yml")
    assert set(ci[True]) == {"pull_request", "push"}  # YAML reads the key `on` as True
    assert "./scripts/test" in run_steps(ci["jobs"]["test"])
    for page in ("README", "development"):
        assert "```bash\n./scripts/test\n```" in doc(page), page
    ci_run = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_run[-1] == "./scripts/test"


def test_the_readme_names_what_the_test_command_needs() -> None:
    readme = (ROOT / "README.md").read_text()
    intro = readme.split("```bash\n./scripts/test\n```")[0].rsplit("**Run the tests**", 1)[1]
    for need in ("Python 3.11+", "Python 3.12+", "PyPI"):
        assert need in intro, need
    script = (ROOT / "scripts" / "test").read_text()
    assert "sys.version_info < (3, 11)" in script
    assert "sys.version_info < (3, 12)" in script


def test_without_python_3_12_the_test_command_says_how_to_get_one(tmp_path: Path) -> None:
    """Nothing on PATH, under pyenv or from uv: it stops before making .venv-vrl, with the ways."""
    if sys.version_info >= (3, 12):
        pytest.skip("the suite's own Python is 3.12+, so the test command would take it")
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "test", project / "scripts" / "test")
    shutil.copy2(ROOT / "requirements-dev.txt", project / "requirements-dev.txt")
    (project / ".venv").symlink_to(ROOT / ".venv")  # with pip and uv: nothing to install
    tools = tmp_path / "bin"  # what the script runs, and no other Python than the suite's
    tools.mkdir()
    for tool in ("dirname", "grep", "sort", "cat"):
        (tools / tool).symlink_to(shutil.which(tool) or tool)
    (tools / "python3").symlink_to(sys.executable)
    env = {"PATH": str(tools), "HOME": str(tmp_path)}
    bash = shutil.which("bash") or "bash"
    run = subprocess.run(
        [bash, str(project / "scripts" / "test")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "needs Python 3.12 or newer, and none was found" in run.stderr
    assert "  .venv/bin/uv python install 3.12 " in run.stderr
    assert "VRL_PYTHON=/path/to/python3.12 ./scripts/test" in run.stderr
    assert not (project / ".venv-vrl").exists()
    assert not (project / ".venv-checkov").exists()

    wrong = subprocess.run(
        [bash, str(project / "scripts" / "test")],
        env={**env, "VRL_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 1
    assert f"VRL_PYTHON={sys.executable} is not Python 3.12 or newer" in wrong.stderr


def test_previews_cover_every_stack_and_skip_forks_clearly() -> None:
    preview = workflow("preview.yml")
    jobs = preview["jobs"]
    assert set(preview[True]) == {"pull_request"}
    fork = "github.event.pull_request.head.repo.full_name != github.repository"
    assert jobs["fork-notice"]["if"] == fork
    assert "::notice" in run_steps(jobs["fork-notice"])
    assert jobs["stacks"]["if"] == fork.replace("!=", "==")
    job = jobs["preview"]
    assert job["strategy"]["matrix"]["target"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    preview_step = next(s for s in job["steps"] if s.get("id") == "preview")
    assert preview_step["uses"] == "pulumi/actions@v7"
    # One comment per stack, edited on every push; too long a preview keeps its summary.
    assert preview_step["with"] == {
        "command": "preview",
        "stack-name": "${{ matrix.target.stack }}",
        "diff": True,
        "color": "never",
        "suppress-progress": True,
        "comment-on-pr": True,
        "edit-pr-comment": True,
        "always-include-summary": True,
        "github-token": "${{ secrets.GITHUB_TOKEN }}",
    }
    steps = run_steps(job)
    assert "GITHUB_STEP_SUMMARY" in steps
    assert "steps.preview.outputs.output" in yaml.safe_dump(job)
    assert any(u.startswith("actions/upload-artifact@") for u in uses(job))
    for secret in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"):
        assert job["env"][secret] == f"${{{{ secrets.{secret} }}}}"
    assert "KUBECONFIG_" in yaml.safe_dump(job)


def test_deploys_run_per_stack_behind_an_environment() -> None:
    deploy = workflow("deploy.yml")
    assert deploy[True]["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in deploy[True]
    job = deploy["jobs"]["up"]
    assert job["environment"] == "${{ matrix.target.stack }}"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "pulumi up --stack" in run_steps(job)
    assert "pulumi/actions@v7" in uses(job)


def test_the_end_to_end_workflow_deploys_checks_data_and_destroys() -> None:
    job = workflow("e2e.yml")["jobs"]["kind"]
    steps = run_steps(job)
    assert "helm/kind-action@v1" in uses(job)
    assert 'pulumi login "file://' in steps
    assert "moto_server" in steps and "cedana_standin.py" in steps
    order = [
        "pulumi up",
        "rollout status",
        "wait_for_objects.py",
        "./scripts/verify --stack e2e",
        "pulumi destroy",
        "leftovers",
    ]
    positions = [steps.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "--timeout 300" in steps


# --- Stacks, comments, several clusters ------------------------------------------------------


def test_the_stack_matrix_lists_every_stack_file() -> None:
    entries = list_stacks.stacks()
    assert entries == [
        {"stack": p.name[7:-5], "secret": p.name[7:-5].upper()}
        for p in sorted(ROOT.glob("Pulumi.*.yaml"))
    ]
    assert list_stacks.secret_suffix("prod-eu.1") == "PROD_EU_1"
    with pytest.raises(SystemExit, match="nope"):
        list_stacks.stacks(only={"nope"})


def fake_runner(failing: set[str]) -> tuple[Callable[[str, str], clusters.Outcome], list[str]]:
    calls: list[str] = []
    lock = threading.Lock()

    def run(stack: str, command: str) -> clusters.Outcome:
        with lock:
            calls.append(f"{command}:{stack}")
        if stack in failing:
            return clusters.Outcome(stack, command, False, seconds=1.0, error="boom")
        return clusters.Outcome(stack, command, True, {"create": 2, "same": 30}, 2.5)

    return run, calls


def test_several_clusters_get_one_summary_line_each(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("prod-eu", "prod-us", "staging"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    monkeypatch.setattr(list_stacks, "ROOT", tmp_path)
    monkeypatch.setattr(
        clusters, "stack_entries", lambda only=None: list_stacks.stacks(tmp_path, only)
    )
    run, calls = fake_runner({"prod-us"})
    code = clusters.main(["preview", "--stacks", "prod-eu,prod-us", "--parallel", "2"], run)
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert sorted(calls) == ["preview:prod-eu", "preview:prod-us"]
    assert len(lines) == 2
    assert re.fullmatch(r"prod-eu\s+preview\s+ok\s+\+2 =30\s+\(2\.5 s\)", lines[0])
    assert re.fullmatch(r"prod-us\s+preview\s+FAILED\s+boom\s+\(1\.0 s\)", lines[1])
    assert clusters.main(["up"], run) == 2  # no --yes: nothing is updated
    assert clusters.main(["up", "--yes", "--stacks", "staging"], run) == 0
    assert calls[-1] == "up:staging"


def test_without_the_pulumi_cli_each_stack_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    outcome = clusters.run_stack("dev", "preview")
    assert not outcome.ok
    assert outcome.error
    assert "Traceback" not in outcome.error


# --- Render mode -----------------------------------------------------------------------------


def test_render_mode_puts_every_kubernetes_resource_on_the_rendering_provider(
    program: Callable[..., ProgramRun],
) -> None:
    run = program(renderDir="./rendered")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.plain["renderYamlToDirectory"] == "./rendered"
    kubernetes = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes) > 15
    for resource in kubernetes:
        assert resource.provider and "::kubernetes::kubernetes-id" in resource.provider


def test_render_mode_is_documented_with_its_plaintext_warning() -> None:
    development = doc("development")
    assert "renderDir" in development
    assert re.search(r"Secrets?.{0,80}plain ?text", development, re.IGNORECASE | re.DOTALL)


# --- Migration from the original install -----------------------------------------------------


def test_the_original_names_are_kept_where_services_find_them(default_run: ProgramRun) -> None:
    charts = default_run.charts()
    assert {"prometheus", "vector", "dcgm-exporters"} <= set(charts)
    names = {o["metadata"]["name"] for o in default_run.kubernetes_objects()}
    assert {"cedana-credentials", "kubernetes-event-exporter"} <= names


def test_migration_never_silently_adopts_an_existing_object(default_run: ProgramRun) -> None:
    # Without upsert, `pulumi up` stops at an object the original install left behind instead
    # of taking it over (and a later `helm uninstall` deleting it): docs/migration.md's steps
    # remove the original first.
    (provider,) = default_run.of_type("pulumi:providers:kubernetes")
    assert not provider.plain.get("upsertExistingObjects")
    migration = doc("migration")
    for step in ("helm uninstall", "kubectl delete", "pulumi up"):
        assert step in migration


def test_cluster_scoped_names_never_collide_with_the_original(default_run: ProgramRun) -> None:
    original = {"kubernetes-event-exporter", "prometheus-server", "prometheus-kube-state-metrics"}
    for obj in default_run.kubernetes_objects():
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["name"] not in original


# --- The e2e stand-in, run for real here ------------------------------------------------------


@dataclass
class StandIn:
    """What the sidecar launcher needs to know of an API."""

    url: str
    bucket: str
    issued: set[str] = field(default_factory=set)


def test_the_e2e_standin_issues_credentials_that_write_to_the_store(
    s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = cedana_standin.serve(s3_server, "e2e-bucket", "org/v2", "t0k3n", 0, "127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = StandIn(f"http://127.0.0.1:{server.server_address[1]}", "e2e-bucket")
        sidecar = Launcher(tmp_path, api).start(CEDANA_AUTH_TOKEN="t0k3n")  # type: ignore[arg-type]
        wait_until(lambda: sidecar.listening() and sidecar.credentials()[0] == 200)
        client = s3_client_through(sidecar, s3_server, monkeypatch)
        client.put_object(Bucket="e2e-bucket", Key="vector/data/1/x.json", Body=b"{}")
        listed = boto3.client(
            "s3",
            endpoint_url=s3_server,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
        ).list_objects_v2(Bucket="e2e-bucket", Prefix="vector/data/")
        assert [o["Key"] for o in listed["Contents"]] == ["vector/data/1/x.json"]
        assert sidecar.stop() == 0
    finally:
        server.shutdown()
        server.server_close()


def test_every_workflow_installs_the_cli_of_the_pinned_sdk() -> None:
    pinned = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned
    for name in ("preview.yml", "deploy.yml", "e2e.yml"):
        assert workflow(name)["env"]["PULUMI_VERSION"] == pinned.group(1), name
