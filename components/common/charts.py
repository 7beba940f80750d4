"""Where each pinned chart comes from: its upstream repository, a mirror (Helm or OCI), or a
local directory (air-gapped clusters, the simulated cluster) — never a download then."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Chart name -> the upstream repository the pinned versions come from.
UPSTREAM = {
    "prometheus": "https://prometheus-community.github.io/helm-charts",
    "vector": "https://helm.vector.dev",
    "dcgm-exporter": "https://nvidia.github.io/dcgm-exporter/helm-charts",
}


@dataclass(frozen=True)
class ChartSource:
    """The arguments of a `helm.v4.Chart` that say where the chart comes from."""

    chart: str
    version: str | None
    repository_opts: dict[str, str] | None

    def args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"chart": self.chart}
        if self.version is not None:
            args["version"] = self.version
        if self.repository_opts is not None:
            args["repository_opts"] = self.repository_opts
        return args


def local_chart(charts_dir: str, name: str, version: str) -> Path | None:
    """`<dir>/<name>-<version>.tgz`, or `<dir>/<name>/` whose Chart.yaml has that version."""
    packed = Path(charts_dir) / f"{name}-{version}.tgz"
    if packed.is_file():
        return packed
    unpacked = Path(charts_dir) / name
    chart_yaml = unpacked / "Chart.yaml"
    if chart_yaml.is_file():
        declared = (yaml.safe_load(chart_yaml.read_text()) or {}).get("version")
        if str(declared) == version:
            return unpacked
    return None


def local_chart_problem(charts_dir: str, name: str, version: str) -> str | None:
    if local_chart(charts_dir, name, version):
        return None
    found = ""
    chart_yaml = Path(charts_dir) / name / "Chart.yaml"
    if chart_yaml.is_file():
        declared = (yaml.safe_load(chart_yaml.read_text()) or {}).get("version")
        found = f"; {chart_yaml} has version {declared}"
    return (
        f"has no chart {name} {version}: expected {Path(charts_dir) / f'{name}-{version}.tgz'}"
        f" or {Path(charts_dir) / name}/ with Chart.yaml version {version}{found}"
        f" (helm pull {name} --version {version} --repo {UPSTREAM[name]} -d {charts_dir})"
    )


def local_charts_problem(charts_dir: str, versions: dict[str, str]) -> str | None:
    """What a chartsDir lacks of the pinned charts (name -> version), or None."""
    if not Path(charts_dir).is_dir():
        return f"is not a directory (got {charts_dir!r})"
    missing = [local_chart_problem(charts_dir, n, v) for n, v in versions.items()]
    return "; ".join(p for p in missing if p) or None


def chart_source(name: str, version: str, charts_dir: str | None, mirror: str) -> ChartSource:
    if charts_dir:
        path = local_chart(charts_dir, name, version)
        if path is None:  # the settings check this before any resource is registered
            raise ValueError(local_chart_problem(charts_dir, name, version))
        # A local chart is used as it is: no version to resolve, nothing downloaded.
        return ChartSource(str(path.resolve()), None, None)
    if mirror.startswith("oci://"):
        return ChartSource(f"{mirror.rstrip('/')}/{name}", version, None)
    return ChartSource(name, version, {"repo": mirror or UPSTREAM[name]})
