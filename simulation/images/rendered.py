"""Which image references the program renders for a stack, read from the program itself run
under Pulumi's mocks (no cluster, no Helm).

Two places hold images: the Kubernetes objects the program defines (their pod templates'
containers) and the values of each Helm chart. For a chart, the values are the chart's own
`values.yaml` (and its subcharts') overlaid with the program's, and each image slot is turned
into a reference the way that chart's template does it — repository, tag defaulting to the
chart's appVersion (read from Chart.yaml in the chart archive), digest — for the parts that are
enabled. Containers the program adds through chart values (`extraContainers`, `initContainers`,
…) carry their image as a plain string.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from simulation.mocks import ProgramRun

DEFAULT_CHARTS = Path("~/.cache/cedana-monitoring/charts").expanduser()
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Values keys under which a chart takes whole containers from its user.
EXTRA_CONTAINER_KEYS = frozenset(
    {"extraContainers", "initContainers", "extraInitContainers", "sidecarContainers"}
)


@dataclass(frozen=True)
class Chart:
    name: str
    app_version: str
    values: dict[str, Any]
    subcharts: dict[str, Chart]
    # Subchart name -> the values path that enables it (Chart.yaml `dependencies[].condition`).
    conditions: dict[str, str]

    def enables(self, subchart: str, values: Mapping[str, Any]) -> bool:
        """Helm's rule: a dependency is on unless its condition path holds false."""
        condition = self.conditions.get(subchart)
        return condition is None or _dig(values, condition, True) is not False


@dataclass(frozen=True)
class RenderedImage:
    reference: str  # as rendered, digest included when pinned
    where: str  # which chart part or object renders it

    @property
    def tagged(self) -> str:
        """The reference without a digest: what an image is imported under."""
        return self.reference.split("@", 1)[0]


def merged(defaults: Any, overrides: Any) -> Any:
    """Helm's coalescing of values: maps merge key by key, anything else is replaced."""
    if isinstance(defaults, Mapping) and isinstance(overrides, Mapping):
        result = dict(defaults)
        for key, value in overrides.items():
            result[key] = merged(defaults.get(key), value) if key in defaults else value
        return result
    return defaults if overrides is None else overrides


def _dig(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def load_chart(archive: Path) -> Chart:
    """A chart archive (`.tgz`) or directory: its Chart.yaml, values.yaml and subcharts."""
    if archive.is_dir():
        files = {
            str(path.relative_to(archive.parent)): path.read_bytes()
            for path in archive.rglob("*")
            if path.name in ("Chart.yaml", "values.yaml")
        }
    else:
        with tarfile.open(archive) as tar:
            files = {}
            for member in tar.getmembers():
                if member.isfile() and member.name.rsplit("/", 1)[-1] in (
                    "Chart.yaml",
                    "values.yaml",
                ):
                    handle = tar.extractfile(member)
                    assert handle is not None
                    files[member.name] = handle.read()
    top = min((name for name in files if name.endswith("/Chart.yaml")), key=len)
    return _chart_at(files, top.rsplit("/", 1)[0])


def _chart_at(files: Mapping[str, bytes], directory: str) -> Chart:
    meta = yaml.safe_load(files[f"{directory}/Chart.yaml"]) or {}
    values = yaml.safe_load(files.get(f"{directory}/values.yaml", b"")) or {}
    prefix = f"{directory}/charts/"
    subcharts = {}
    for name in files:
        rest = name.removeprefix(prefix)
        if name.startswith(prefix) and rest.count("/") == 1 and rest.endswith("/Chart.yaml"):
            sub = _chart_at(files, prefix + rest.split("/")[0])
            subcharts[sub.name] = sub
    conditions = {
        str(d["name"]): str(d["condition"]).split(",")[0]
        for d in meta.get("dependencies") or []
        if d.get("condition")
    }
    return Chart(str(meta["name"]), str(meta.get("appVersion", "")), values, subcharts, conditions)


# --- each chart's image slots, as its templates build them --------------------------------------


def _prometheus_style(image: Mapping[str, Any], default_tag: str, distroless: bool) -> str:
    """prometheus chart: `repo@digest` when a digest is set, else `repo:tag[-distroless]`."""
    if image.get("digest"):
        return f"{image['repository']}@{image['digest']}"
    tag = image.get("tag") or default_tag
    return f"{image['repository']}:{tag}{'-distroless' if distroless else ''}"


def _registry_style(
    image: Mapping[str, Any], default_tag: str, digest_key: str, suffix: str
) -> str:
    """kube-state-metrics and node-exporter: `registry/repo:tag[@digest]`, tag v<appVersion>."""
    reference = (
        f"{image['registry']}/{image['repository']}:{image.get('tag') or default_tag}{suffix}"
    )
    digest = image.get(digest_key)
    return f"{reference}@{digest}" if digest else reference


def _prometheus_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    server = values.get("server", {})
    yield RenderedImage(
        _prometheus_style(
            server["image"], chart.app_version, bool(server["image"].get("distroless"))
        ),
        "prometheus chart: server",
    )
    if _dig(values, "configmapReload.prometheus.enabled", True):
        yield RenderedImage(
            _prometheus_style(_dig(values, "configmapReload.prometheus.image"), "", False),
            "prometheus chart: configmapReload.prometheus",
        )
    for name, sub in sorted(chart.subcharts.items()):
        if chart.enables(name, values):
            yield from SUBCHART_SLOTS[name](sub, merged(sub.values, values.get(name, {})))


def _ksm_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    yield RenderedImage(
        _registry_style(values["image"], f"v{chart.app_version}", "sha", ""),
        "prometheus chart: kube-state-metrics",
    )
    yield from _rbac_proxy(values, "kube-state-metrics")


def _node_exporter_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    image = values["image"]
    suffix = "-distroless" if image.get("distroless") else ""
    yield RenderedImage(
        _registry_style(image, f"v{chart.app_version}", "digest", suffix),
        "prometheus chart: prometheus-node-exporter",
    )
    yield from _rbac_proxy(values, "prometheus-node-exporter")


def _rbac_proxy(values: Mapping[str, Any], part: str) -> Iterator[RenderedImage]:
    if _dig(values, "kubeRBACProxy.enabled", False):
        image = values["kubeRBACProxy"]["image"]
        reference = f"{image['registry']}/{image['repository']}:{image['tag']}"
        sha = image.get("sha")
        yield RenderedImage(
            f"{reference}@sha256:{sha}" if sha else reference, f"{part}: kubeRBACProxy"
        )


def _plain_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    """alertmanager, pushgateway: `repo:tag`, tag defaulting to appVersion (digest: `@`)."""
    yield RenderedImage(
        _prometheus_style(values["image"], chart.app_version, False), f"{chart.name}"
    )


def _vector_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    image = values.get("image", {})
    tag = image.get("tag") or (
        f"{chart.app_version.split('-')[0]}-{image['base']}"
        if image.get("base")
        else chart.app_version
    )
    reference = f"{image.get('repository') or 'timberio/vector'}:{tag}"
    sha = image.get("sha") or image.get("digest")
    if sha:
        reference += f"@{sha if sha.startswith('sha256:') else 'sha256:' + sha}"
    yield RenderedImage(reference, "vector chart")
    if _dig(values, "haproxy.enabled", False):
        haproxy = values["haproxy"]["image"]
        yield RenderedImage(f"{haproxy['repository']}:{haproxy['tag']}", "vector chart: haproxy")


def _dcgm_images(chart: Chart, values: Mapping[str, Any]) -> Iterator[RenderedImage]:
    image = values["image"]
    yield RenderedImage(
        f"{image['repository']}:{image.get('tag') or chart.app_version}", "dcgm-exporter chart"
    )


ChartSlots = Callable[[Chart, Mapping[str, Any]], Iterator[RenderedImage]]
SUBCHART_SLOTS: dict[str, ChartSlots] = {
    "kube-state-metrics": _ksm_images,
    "prometheus-node-exporter": _node_exporter_images,
    "alertmanager": _plain_images,
    "prometheus-pushgateway": _plain_images,
}
CHART_SLOTS: dict[str, ChartSlots] = {
    "prometheus": _prometheus_images,
    "vector": _vector_images,
    "dcgm-exporter": _dcgm_images,
}


def _extra_containers(values: Any, where: str) -> Iterator[RenderedImage]:
    """Whole containers handed to a chart (the refresher sidecar in extraContainers…)."""
    if isinstance(values, Mapping):
        for key, value in values.items():
            if key in EXTRA_CONTAINER_KEYS and isinstance(value, list):
                for container in value:
                    if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                        yield RenderedImage(
                            container["image"], f"{where}: {key}[{container.get('name')}]"
                        )
            else:
                yield from _extra_containers(value, f"{where}.{key}" if where else key)
    elif isinstance(values, list):
        for item in values:
            yield from _extra_containers(item, where)


def chart_images(
    chart: Chart, program_values: Mapping[str, Any], release: str
) -> list[RenderedImage]:
    slots = CHART_SLOTS.get(chart.name)
    if slots is None:
        raise KeyError(f"no image slots known for chart {chart.name}: add them to rendered.py")
    values = merged(chart.values, program_values)
    images = [RenderedImage(i.reference, f"{release}: {i.where}") for i in slots(chart, values)]
    images += _extra_containers(program_values, f"{release} values")
    return images


def object_images(obj: Mapping[str, Any]) -> list[RenderedImage]:
    """Images of a Kubernetes object the program defines (workloads and pods)."""
    path = POD_SPEC_PATHS.get(obj.get("kind", ""), ("spec", "template", "spec"))
    spec = _dig(obj, ".".join(path), {})
    name = f"{obj.get('kind')}/{_dig(obj, 'metadata.name', '?')}"
    return [
        RenderedImage(container["image"], f"{name}: {container.get('name')}")
        for key in CONTAINER_LISTS
        for container in (spec.get(key) or [] if isinstance(spec, Mapping) else [])
        if isinstance(container, Mapping) and container.get("image")
    ]


def chart_archive(registration: Mapping[str, Any], charts_dir: Path) -> Path:
    """The chart a `helm.v4.Chart` names: a local path as is, else `<dir>/<name>-<version>.tgz`."""
    chart = str(registration["chart"])
    if Path(chart).is_absolute():
        return Path(chart)
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    return charts_dir / f"{name}-{registration['version']}.tgz"


def images_in_run(run: ProgramRun, charts_dir: Path | None = None) -> list[RenderedImage]:
    """Every image a program run (under mocks) renders: its own objects' and its charts'."""
    charts_dir = DEFAULT_CHARTS if charts_dir is None else charts_dir
    images: list[RenderedImage] = []
    for obj in run.kubernetes_objects():
        images += object_images(obj)
    for registration in run.of_type(CHART_TYPE):
        plain = registration.plain
        archive = chart_archive(plain, charts_dir)
        if not archive.exists():
            raise FileNotFoundError(
                f"{archive} is missing: helm pull {plain['chart']} --version {plain.get('version')}"
                f" -d {charts_dir} (with the chart's --repo)"
            )
        images += chart_images(load_chart(archive), plain.get("values", {}), plain["name"])
    return images


def rendered_images(
    values: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    charts_dir: Path | None = None,
) -> list[RenderedImage]:
    """Every image the program renders for the stack config `values` (run under mocks)."""
    # The mock harness lives with the rest of the simulation; only this function needs it.
    from simulation.mocks import run_program  # noqa: PLC0415

    return images_in_run(run_program(values, secrets), charts_dir)


def rendered_references(
    values: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    charts_dir: Path | None = None,
) -> set[str]:
    """The references (digests dropped) the program renders for the stack config `values`."""
    return {image.tagged for image in rendered_images(values, secrets, charts_dir)}
