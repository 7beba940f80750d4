"""Where charts come from: upstream, a Helm or OCI mirror, or a local directory (air-gapped)."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest

from components.config import ConfigError
from simulation.mocks import ProgramRun, run_program
from tests.test_settings import problems

PINNED = {"prometheus": "29.27.0", "vector": "0.56.0", "dcgm-exporter": "4.8.2"}
RELEASES = {"prometheus": "prometheus", "vector": "vector", "dcgm-exporters": "dcgm-exporter"}


def packed(directory: Path, name: str, version: str) -> Path:
    chart = directory / f"{name}-{version}.tgz"
    with tarfile.open(chart, "w:gz"):
        pass
    return chart


def unpacked(directory: Path, name: str, version: str) -> Path:
    (directory / name).mkdir(parents=True)
    (directory / name / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\n"
    )
    return directory / name


def test_by_default_each_chart_comes_pinned_from_its_upstream_repository(
    default_run: ProgramRun,
) -> None:
    charts = default_run.charts()
    assert {release: c.plain["repositoryOpts"] for release, c in charts.items()} == {
        "prometheus": {"repo": "https://prometheus-community.github.io/helm-charts"},
        "vector": {"repo": "https://helm.vector.dev"},
        "vector-collector": {"repo": "https://helm.vector.dev"},
        "dcgm-exporters": {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"},
    }
    assert {release: c.plain["version"] for release, c in charts.items()} == {
        "prometheus": "29.27.0",
        "vector": "0.56.0",
        "vector-collector": "0.56.0",
        "dcgm-exporters": "4.8.2",
    }


def test_a_local_directory_serves_every_chart_and_nothing_is_downloaded(
    program: Callable[..., ProgramRun], tmp_path: Path
) -> None:
    expected = {
        "prometheus": packed(tmp_path, "prometheus", "29.27.0"),
        "vector": unpacked(tmp_path, "vector", "0.56.0"),
        "dcgm-exporter": packed(tmp_path, "dcgm-exporter", "4.8.2"),
    }
    run = program(chartsDir=str(tmp_path))
    for release, chart in run.charts().items():
        name = RELEASES.get(release, "vector")
        assert chart.plain["chart"] == str(expected[name].resolve()), release
        assert "repositoryOpts" not in chart.plain and "version" not in chart.plain, release


def test_a_missing_chart_is_an_error_naming_the_file_it_expected(tmp_path: Path) -> None:
    packed(tmp_path, "prometheus", "29.27.0")
    unpacked(tmp_path, "vector", "0.55.0")  # the wrong version
    error = problems(chartsDir=str(tmp_path))
    assert error.keys == ["chartsDir"]
    message = str(error)
    assert f"expected {tmp_path}/vector-0.56.0.tgz or {tmp_path}/vector/ with Chart.yaml" in message
    assert f"{tmp_path}/vector/Chart.yaml has version 0.55.0" in message
    assert f"expected {tmp_path}/dcgm-exporter-4.8.2.tgz" in message
    assert "helm pull dcgm-exporter --version 4.8.2" in message


def test_without_dcgm_its_chart_is_not_needed(tmp_path: Path) -> None:
    packed(tmp_path, "prometheus", "29.27.0")
    packed(tmp_path, "vector", "0.56.0")
    run = run_program(
        {
            "s3Bucket": "cedana-metrics-example",
            "awsRegion": "us-east-1",
            "gpuMode": "off",
            "chartsDir": str(tmp_path),
        }
    )
    assert set(run.charts()) == {"prometheus", "vector", "vector-collector"}


def test_a_missing_charts_dir_stops_the_program_before_anything_is_registered(
    tmp_path: Path,
) -> None:
    run = ProgramRun()
    with pytest.raises(pulumi.RunError, match="cedana-monitoring:chartsDir: is not a directory"):
        run_program(
            {
                "s3Bucket": "cedana-metrics-example",
                "awsRegion": "us-east-1",
                "chartsDir": str(tmp_path / "nope"),
            },
            run=run,
        )
    assert run.resources == []


@pytest.mark.parametrize(
    ("mirror", "chart", "repository"),
    [
        (
            "https://charts.example.com/mirror",
            "prometheus",
            {"repo": "https://charts.example.com/mirror"},
        ),
        ("oci://registry.example.com/helm", "oci://registry.example.com/helm/prometheus", None),
    ],
)
def test_a_mirror_serves_every_chart_at_its_pinned_version(
    program: Callable[..., ProgramRun], mirror: str, chart: str, repository: dict[str, str] | None
) -> None:
    prometheus = program(chartRepository=mirror).charts()["prometheus"].plain
    assert prometheus["chart"] == chart
    assert prometheus["version"] == "29.27.0"
    assert prometheus.get("repositoryOpts") == repository


def test_a_mirror_and_a_directory_are_not_both_set(tmp_path: Path) -> None:
    error = problems(chartsDir=str(tmp_path), chartRepository="https://charts.example.com")
    assert error.keys == ["chartsDir"]
    assert "set chartsDir or chartRepository, not both" in str(error)


def test_a_mirror_must_be_a_repository_url() -> None:
    error = problems(chartRepository="charts.example.com")
    assert error.keys == ["chartRepository"]
    assert isinstance(error, ConfigError)
