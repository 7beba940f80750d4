"""One recipe per image reference the program renders (and the two a real node adds).

Each recipe rebuilds its upstream image from the upstream Dockerfile's facts at the pinned tag
(files, entrypoint, command, user, working directory, writable paths, ports, labels) with a
binary built outside the repository from the upstream version the tag names. Binaries are found
on a search path (`CEDANA_IMAGE_BINARIES`, default /opt/cedana-build/images-bin), one directory
per program; a recipe whose inputs are absent says what to build instead of failing obscurely.
The repository holds no binary and no recipe that builds a fetched repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from simulation.images import base, elf
from simulation.images.assembler import (
    Directory,
    Entry,
    File,
    ImageConfig,
    ImageSpec,
    Layer,
    Symlink,
    normalize_reference,
)

DEFAULT_BINARIES = "/opt/cedana-build/images-bin"
DEFAULT_VECTOR = "/usr/local/bin/vector"
DEFAULT_PYTHON = ".pyenv/versions/3.13.0"  # under $HOME
PYTHON_PREFIX = "/usr/local"  # where the official image installs CPython

# file capability cap_net_bind_service=+ep (vfs_cap_data revision 2), as CoreDNS' `setcap` sets.
CAP_NET_BIND_SERVICE_EP = bytes.fromhex("01000002" + "00040000" + "00000000" + "0" * 16)


class MissingInputsError(LookupError):
    """A recipe's inputs are absent; `missing` lists what to build or install."""

    def __init__(self, reference: str, missing: list[str]) -> None:
        self.reference = reference
        self.missing = missing
        super().__init__(f"{reference}: " + "; ".join(f"missing: {m}" for m in missing))


@dataclass(frozen=True)
class Inputs:
    """Where a build finds what the recipes need."""

    binaries: tuple[Path, ...]
    go_mod_cache: Path
    vector: Path
    python: Path

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Inputs:
        env = os.environ if env is None else env
        home = Path(env.get("HOME", str(Path.home())))
        search = env.get("CEDANA_IMAGE_BINARIES", DEFAULT_BINARIES)
        return cls(
            binaries=tuple(Path(p).expanduser() for p in search.split(os.pathsep) if p),
            go_mod_cache=Path(env.get("GOMODCACHE") or home / "go" / "pkg" / "mod"),
            vector=Path(env.get("CEDANA_VECTOR_BINARY", DEFAULT_VECTOR)).expanduser(),
            python=Path(env.get("CEDANA_PYTHON_PREFIX") or home / DEFAULT_PYTHON).expanduser(),
        )

    def binary(self, program: str, name: str) -> Path:
        """`<dir>/<program>/<name>` from the first search directory that has it."""
        for directory in self.binaries:
            candidate = directory / program / name
            if candidate.is_file():
                return candidate
        return (self.binaries[0] if self.binaries else Path(DEFAULT_BINARIES)) / program / name

    def module(self, module: str, version: str) -> Path:
        """A Go module's extracted zip in the module cache (upper case escaped as `!x`)."""
        escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
        return self.go_mod_cache / f"{escaped}@{version}"


@dataclass(frozen=True)
class Smoke:
    """A command that proves the program runs inside its image, as the image's user."""

    argv: tuple[str, ...]
    expect: str  # a string its output contains
    exit_code: int = 0
    # Read-only bind mounts: (path in this repository, path in the container).
    mounts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Recipe:
    reference: str
    # Which upstream version the image's program is built from, and where that came from.
    source: str
    # The upstream Dockerfile (or image) the facts were read from.
    upstream: str
    # What differs from upstream's image, for the docs table.
    differences: tuple[str, ...]
    # Who renders the reference: a chart and its part, the program, or the real node.
    rendered_by: str
    smoke: tuple[Smoke, ...]
    assemble: Callable[[Inputs, base.Needs], tuple[tuple[Layer, ...], ImageConfig]] = field(
        repr=False
    )

    @property
    def normalized(self) -> str:
        return normalize_reference(self.reference)

    @property
    def cache_name(self) -> str:
        """`prometheus_v3.14.0`: the repository's last path element and the tag."""
        name, _, tag = self.normalized.rpartition(":")
        return f"{name.rsplit('/', 1)[-1]}_{tag}"

    def missing(self, inputs: Inputs) -> list[str]:
        needs = base.Needs()
        self.assemble(inputs, needs)
        return needs.missing

    def spec(self, inputs: Inputs) -> ImageSpec:
        """The image to assemble; raises MissingInputsError naming every absent input."""
        needs = base.Needs()
        layers, config = self.assemble(inputs, needs)
        if needs.missing:
            raise MissingInputsError(self.reference, needs.missing)
        return ImageSpec(self.normalized, layers, config)


def _go_binary(inputs: Inputs, needs: base.Needs, program: str, name: str, build: str) -> Path:
    return needs.file(inputs.binary(program, name), f"build {build}")


def _static(needs: base.Needs) -> Layer:
    return base.static_base(needs)


def _busybox(needs: base.Needs) -> tuple[Layer, Layer]:
    return base.static_base(needs), base.busybox_layer(needs)


def _app(created_by: str, *entries: Entry) -> Layer:
    return Layer(tuple(entries), created_by)


# --- Prometheus and its chart -----------------------------------------------------------------

PROMETHEUS_MODULE, PROMETHEUS_VERSION = "github.com/prometheus/prometheus", "v0.314.0"
PROMETHEUS_LABELS = {
    "maintainer": "The Prometheus Authors <prometheus-developers@googlegroups.com>",
    "org.opencontainers.image.authors": "The Prometheus Authors",
    "org.opencontainers.image.vendor": "Prometheus",
    "org.opencontainers.image.licenses": "Apache License 2.0",
    "io.prometheus.image.variant": "busybox",
}


def prometheus(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    build = f"{PROMETHEUS_MODULE}@{PROMETHEUS_VERSION} ./cmd/prometheus and ./cmd/promtool"
    # The files the Dockerfile copies from the source tree: from the module's zip in the Go
    # module cache, or as the binaries' builder copied them beside the binaries.
    module = inputs.module(PROMETHEUS_MODULE, PROMETHEUS_VERSION)
    copied = inputs.binary("prometheus", "files/etc/prometheus/prometheus.yml").parents[2]
    if not module.is_dir() and copied.is_dir():
        module = copied
        example = module / "etc/prometheus/prometheus.yml"
    else:
        example = module / "documentation/examples/prometheus.yml"
    needs.file(example, f"go mod download {PROMETHEUS_MODULE}@{PROMETHEUS_VERSION}")
    app = _app(
        "prometheus, promtool, the example config; /prometheus owned by nobody, group-writable",
        File(
            "/bin/prometheus",
            source=_go_binary(inputs, needs, "prometheus", "prometheus", build),
            mode=0o755,
        ),
        File(
            "/bin/promtool",
            source=_go_binary(inputs, needs, "prometheus", "promtool", build),
            mode=0o755,
        ),
        Directory("/etc/prometheus", uid=base.NOBODY, gid=base.NOBODY),
        File(
            "/etc/prometheus/prometheus.yml",
            source=example,
            mode=0o644,
            uid=base.NOBODY,
            gid=base.NOBODY,
        ),
        File("/LICENSE", source=module / "LICENSE", mode=0o644),
        File("/NOTICE", source=module / "NOTICE", mode=0o644),
        Directory("/prometheus", mode=0o775, uid=base.NOBODY, gid=base.NOBODY),
    )
    config = ImageConfig(
        entrypoint=("/bin/prometheus",),
        cmd=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
        user="nobody",
        working_dir="/prometheus",
        env=base.BUSYBOX_ENV,
        exposed_ports=("9090/tcp",),
        volumes=("/prometheus",),
        labels={
            **PROMETHEUS_LABELS,
            "org.opencontainers.image.title": "Prometheus",
            "org.opencontainers.image.description": (
                "The Prometheus monitoring system and time series database"
            ),
            "org.opencontainers.image.source": "https://github.com/prometheus/prometheus",
            "org.opencontainers.image.url": "https://github.com/prometheus/prometheus",
            "org.opencontainers.image.documentation": "https://prometheus.io/docs",
        },
    )
    return (*_busybox(needs), app), config


def config_reloader(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    build = (
        "github.com/prometheus-operator/prometheus-operator@v0.93.1"
        " ./cmd/prometheus-config-reloader"
    )
    binary = _go_binary(
        inputs, needs, "prometheus-config-reloader", "prometheus-config-reloader", build
    )
    app = _app(
        "prometheus-config-reloader",
        File("/bin/prometheus-config-reloader", source=binary, mode=0o755),
    )
    config = ImageConfig(
        entrypoint=("/bin/prometheus-config-reloader",), user="nobody", env=base.BUSYBOX_ENV
    )
    return (*_busybox(needs), app), config


def node_exporter(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = _go_binary(
        inputs,
        needs,
        "node-exporter",
        "node_exporter",
        "github.com/prometheus/node_exporter@v1.12.1",
    )
    app = _app("node_exporter", File("/bin/node_exporter", source=binary, mode=0o755))
    config = ImageConfig(
        entrypoint=("/bin/node_exporter",),
        user="nobody",
        env=base.BUSYBOX_ENV,
        exposed_ports=("9100/tcp",),
        labels={
            **PROMETHEUS_LABELS,
            "org.opencontainers.image.title": "node_exporter",
            "org.opencontainers.image.description": (
                "Prometheus exporter for hardware and OS metrics exposed by *NIX kernels"
            ),
            "org.opencontainers.image.source": "https://github.com/prometheus/node_exporter",
            "org.opencontainers.image.url": "https://github.com/prometheus/node_exporter",
            "org.opencontainers.image.documentation": "https://github.com/prometheus/node_exporter",
        },
    )
    return (*_busybox(needs), app), config


def kube_state_metrics(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = _go_binary(
        inputs,
        needs,
        "kube-state-metrics",
        "kube-state-metrics",
        "k8s.io/kube-state-metrics/v2@v2.20.0",
    )
    app = _app("kube-state-metrics", File("/kube-state-metrics", source=binary, mode=0o755))
    config = ImageConfig(
        entrypoint=("/kube-state-metrics", "--port=8080", "--telemetry-port=8081"),
        user="nobody",
        working_dir="/",
        env=base.DISTROLESS_ENV,
        exposed_ports=("8080/tcp", "8081/tcp"),
    )
    return (_static(needs), app), config


# --- the program's own workloads --------------------------------------------------------------


def event_exporter(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = _go_binary(
        inputs,
        needs,
        "kubernetes-event-exporter",
        "kubernetes-event-exporter",
        "github.com/resmoio/kubernetes-event-exporter at tag v1.7",
    )
    app = _app(
        "kubernetes-event-exporter, owned by nonroot",
        File(
            "/kubernetes-event-exporter",
            source=binary,
            mode=0o755,
            uid=base.NONROOT,
            gid=base.NONROOT,
        ),
    )
    config = ImageConfig(
        entrypoint=("/kubernetes-event-exporter",),
        user="65532",
        working_dir="/home/nonroot",
        env=base.DISTROLESS_ENV,
    )
    return (_static(needs), app), config


def vector(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = needs.file(inputs.vector, "build vectordotdev/vector v0.56.0 (the lab's build)")
    libraries = base.glibc_entries([binary], needs) if binary.is_file() else []
    runtime = Layer(tuple(libraries), "base: distroless cc (the glibc libraries vector loads)")
    app = _app(
        "vector, its config and data directories",
        File("/usr/bin/vector", source=binary, mode=0o755),
        Directory("/etc/vector"),
        Directory("/var/lib/vector"),
    )
    config = ImageConfig(
        entrypoint=("/usr/bin/vector",),
        user="0",
        working_dir="/",
        env=base.DISTROLESS_ENV,
        labels={
            "org.opencontainers.image.url": "https://vector.dev",
            "org.opencontainers.image.source": "https://github.com/vectordotdev/vector",
            "org.opencontainers.image.documentation": "https://vector.dev/docs",
        },
    )
    return (_static(needs), runtime, app), config


# CPython: what the official image removes (tests, static library, bytecode) and what this
# image leaves out besides to stay small (IDLE, Tk, ensurepip, test-only extension modules).
PYTHON_DROPPED_DIRECTORIES = frozenset(
    {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__"}
)
PYTHON_DROPPED_MODULES = (
    "_test",
    "_tkinter",
    "xxlimited",
    "_ctypes_test",
    "_xxtestfuzz",
    "xxsubtype",
)


def _python_keeps(relative: str) -> bool:
    parts = relative.split("/")
    if PYTHON_DROPPED_DIRECTORIES.intersection(parts):
        return False
    name = parts[-1]
    if name.endswith((".pyc", ".pyo", ".a")):
        return False
    if parts[0] == "lib-dynload" and name.startswith(PYTHON_DROPPED_MODULES):
        return False
    return not (
        parts[0] == "site-packages"
        and len(parts) > 1
        and not (parts[1] == "pip" or parts[1].startswith("pip-"))
        and parts[1] != "README.txt"
    )


def _relocated_script(source: Path, prefix: Path) -> bytes:
    """A script of the interpreter's with its prefix (in the shebang) moved to /usr/local."""
    return source.read_bytes().replace(str(prefix).encode(), PYTHON_PREFIX.encode())


def _python_version(prefix: Path) -> str:
    """`3.13.0` from the prefix's Include/patchlevel.h (no need to run the interpreter)."""
    header = prefix / "include" / "python3.13" / "patchlevel.h"
    for line in header.read_text().splitlines():
        if line.startswith("#define PY_VERSION "):
            return line.split('"')[1]
    raise ValueError(f"{header} has no PY_VERSION")


def python(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    prefix = inputs.python
    hint = "pyenv install 3.13.0 (or set CEDANA_PYTHON_PREFIX to a CPython 3.13 prefix)"
    interpreter = needs.file(prefix / "bin" / "python3.13", hint)
    libpython = needs.file(
        prefix / "lib" / "libpython3.13.so.1.0", f"{hint}, built --enable-shared"
    )
    stdlib = needs.directory(prefix / "lib" / "python3.13", hint)
    needs.file(prefix / "include" / "python3.13" / "patchlevel.h", hint)
    if needs.missing:
        return (), ImageConfig()
    local = PYTHON_PREFIX
    entries: list[Entry] = [
        # The official image links python3 with -rpath '$ORIGIN/../lib'; pyenv's points at its
        # own prefix, rewritten in place so the interpreter finds libpython under /usr/local.
        File(
            f"{local}/bin/python3.13",
            content=elf.with_runpath(interpreter.read_bytes(), "$ORIGIN/../lib"),
            mode=0o755,
        ),
        File(
            f"{local}/lib/libpython3.13.so.1.0",
            content=elf.with_runpath(libpython.read_bytes(), "$ORIGIN"),
            mode=0o755,
        ),
        Symlink(f"{local}/lib/libpython3.13.so", "libpython3.13.so.1.0"),
        Symlink(f"{local}/bin/python3", "python3.13"),
        Symlink(f"{local}/bin/python", "python3"),
        Directory(f"{local}/lib/python3.13"),
        *base.tree(stdlib, f"{local}/lib/python3.13", _python_keeps),
    ]
    if (prefix / "lib" / "libpython3.so").is_file():
        entries.append(
            File(f"{local}/lib/libpython3.so", source=prefix / "lib" / "libpython3.so", mode=0o755)
        )
    # The official image's console scripts and their unversioned links (dst = src without "3").
    for script, links in (("pip3.13", ("pip3", "pip")), ("pydoc3.13", ("pydoc3", "pydoc"))):
        if (prefix / "bin" / script).is_file():
            entries.append(
                File(
                    f"{local}/bin/{script}",
                    content=_relocated_script(prefix / "bin" / script, prefix),
                    mode=0o755,
                )
            )
            entries += [
                Symlink(f"{local}/bin/{links[0]}", script),
                Symlink(f"{local}/bin/{links[1]}", links[0]),
            ]
    extensions = sorted((stdlib / "lib-dynload").glob("*.so"))
    kept = [e for e in extensions if _python_keeps(f"lib-dynload/{e.name}")]
    runtime = Layer(
        tuple(base.glibc_entries([interpreter, libpython, *kept], needs)),
        "base: the glibc libraries CPython and its extension modules load",
    )
    app = Layer(tuple(entries), f"CPython {_python_version(prefix)} under /usr/local (pyenv build)")
    config = ImageConfig(
        cmd=("python3",),
        env=(
            f"PATH=/usr/local/bin:{base.PATH}",
            "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
            f"PYTHON_VERSION={_python_version(prefix)}",
        ),
    )
    return (*_busybox(needs), runtime, app), config


# --- what a real node adds --------------------------------------------------------------------


def coredns(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = _go_binary(inputs, needs, "coredns", "coredns", "github.com/coredns/coredns@v1.12.1")
    app = _app(
        "coredns with cap_net_bind_service=+ep (setcap), the CA bundle",
        File(
            "/coredns",
            source=binary,
            mode=0o755,
            xattrs={"security.capability": CAP_NET_BIND_SERVICE_EP},
        ),
    )
    config = ImageConfig(
        entrypoint=("/coredns",),
        user="nonroot:nonroot",
        working_dir="/",
        env=base.DISTROLESS_ENV,
        exposed_ports=("53/tcp", "53/udp"),
    )
    return (_static(needs), app), config


def pause(inputs: Inputs, needs: base.Needs) -> tuple[tuple[Layer, ...], ImageConfig]:
    binary = needs.file(
        inputs.binary("pause", "pause"),
        "build kubernetes v1.34.4 build/pause/linux/pause.c (gcc -static -DVERSION=v3.10.1)",
    )
    app = _app("pause (FROM scratch)", File("/pause", source=binary, mode=0o755))
    return (app,), ImageConfig(entrypoint=("/pause",), user="65535:65535")


def _version(expect: str, *argv: str) -> Smoke:
    return Smoke(tuple(argv), expect)


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        reference="quay.io/prometheus/prometheus:v3.14.0",
        source=f"{PROMETHEUS_MODULE} {PROMETHEUS_VERSION} (Go module proxy), netgo",
        upstream="prometheus/prometheus v3.14.0 Dockerfile (busybox variant: the chart's default "
        "distroless: false)",
        differences=(
            "base: busybox 1.35 from Debian's busybox-static (glibc, static) instead of "
            "quay.io/prometheus/busybox (uclibc), with distroless' passwd/group "
            "(root, nobody, nonroot) instead of busybox's",
            "binary: Go 1.26.8, without the builtinassets tag (the React UI is not in the module "
            "zip: / redirects, /query answers 500); the API, scraping and remote write are intact",
        ),
        rendered_by="prometheus chart 29.27.0: server",
        smoke=(
            _version("prometheus, version 3.14.0", "/bin/prometheus", "--version"),
            _version("promtool, version 3.14.0", "/bin/promtool", "--version"),
        ),
        assemble=prometheus,
    ),
    Recipe(
        reference="quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
        source="github.com/prometheus-operator/prometheus-operator v0.93.1 (Go module proxy, "
        "with its nested modules pkg/apis/monitoring and pkg/client at v0.93.1)",
        upstream="prometheus-operator v0.93.1 cmd/prometheus-config-reloader/Dockerfile",
        differences=("base: busybox as for Prometheus",),
        rendered_by="prometheus chart 29.27.0: configmapReload.prometheus (server sidecar)",
        smoke=(
            _version(
                "prometheus-config-reloader, version 0.93.1",
                "/bin/prometheus-config-reloader",
                "--version",
            ),
        ),
        assemble=config_reloader,
    ),
    Recipe(
        reference="quay.io/prometheus/node-exporter:v1.12.1",
        source="github.com/prometheus/node_exporter v1.12.1 (Go module proxy)",
        upstream="prometheus/node_exporter v1.12.1 Dockerfile (busybox variant: the chart's "
        "default distroless: false)",
        differences=("base: busybox as for Prometheus",),
        rendered_by="prometheus chart 29.27.0: prometheus-node-exporter 4.56.1 (shipNodeExporter)",
        smoke=(_version("node_exporter, version 1.12.1", "/bin/node_exporter", "--version"),),
        assemble=node_exporter,
    ),
    Recipe(
        reference="registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
        source="k8s.io/kube-state-metrics/v2 v2.20.0 (Go module proxy)",
        upstream="kubernetes/kube-state-metrics v2.20.0 Dockerfile (distroless static-debian13)",
        differences=(
            "base: distroless static's files (users, /tmp, nsswitch, CA bundle, netbase, tzdata) "
            "from this machine's Debian 12 instead of static-debian13; no base-files licences "
            "or media-types",
        ),
        rendered_by="prometheus chart 29.27.0: kube-state-metrics 8.4.0",
        smoke=(_version("kube-state-metrics, version v2.20.0", "/kube-state-metrics", "version"),),
        assemble=kube_state_metrics,
    ),
    Recipe(
        reference="docker.io/timberio/vector:0.56.0-distroless-libc",
        source="vectordotdev/vector v0.56.0: the lab's cargo build (only the components the "
        "program uses), /usr/local/bin/vector",
        upstream="vectordotdev/vector v0.56.0 distribution/docker/distroless-libc/Dockerfile "
        "(distroless cc-debian12)",
        differences=(
            "binary: the lab's build (rustc 1.95, LTO off, not stripped, heim at a66c440 for the "
            "unreachable b62e042) with the components the program uses, not the release .deb",
            "base: distroless static files plus exactly the glibc libraries `ldd` lists for the "
            "binary (libgcc_s, libm, libc; and libnss_compat), copied from this machine, instead "
            "of distroless cc's packages",
            "no /etc/vector/examples, /usr/share/vector, /usr/share/doc/vector (the chart "
            "mounts its own config at /etc/vector)",
        ),
        rendered_by="vector chart 0.56.0: the agent (DaemonSet) and the collector",
        smoke=(_version("vector 0.56.0", "/usr/bin/vector", "--version"),),
        assemble=vector,
    ),
    Recipe(
        reference="python:3.13.7-alpine3.22",
        source="CPython 3.13.0 from pyenv (~/.pyenv/versions/3.13.0): no 3.13.7 source is "
        "reachable here",
        upstream="docker-library/python 3.13/alpine3.22/Dockerfile at 3.13.7 (commit 935e3081)",
        differences=(
            "interpreter: CPython 3.13.0, not 3.13.7 (ENV PYTHON_VERSION says 3.13.0; no "
            "PYTHON_SHA256): python.org is unreachable and python/cpython too big to fetch",
            "libc: glibc 2.36 and Debian 12's shared libraries (libssl3, libsqlite3, …), not "
            "Alpine 3.22's musl and apk packages; /bin is busybox 1.35 as on Alpine (Debian's "
            "static build)",
            "left out: tests, idlelib, tkinter, turtledemo, ensurepip, bytecode, the static "
            "libpython, headers, test-only extension modules; pip 24.2 (pyenv's) kept",
            "python3.13's RUNPATH rewritten from pyenv's prefix to $ORIGIN/../lib (what the "
            "official image links with)",
        ),
        rendered_by="the program: credRefresherImage (the refresher sidecar of the collector); "
        "also the real node's dcgm-exporter stand-in",
        smoke=(
            _version(
                "3.13.0 ok",
                "python3",
                "-c",
                "import ssl, sqlite3, json, http.server, zoneinfo, hashlib, sys; "
                "ssl.create_default_context(); print(sys.version.split()[0], 'ok')",
            ),
            _version("pip 24.2", "pip3", "--version"),
            # The refresher itself, mounted where the program mounts it, gets as far as its
            # settings: every import it makes resolves in the image.
            Smoke(
                ("python3", "/opt/cred-refresher/cred_refresher.py"),
                "Required environment variable CEDANA_URL not set",
                exit_code=2,
                mounts=(("cred_refresher", "/opt/cred-refresher"),),
            ),
        ),
        assemble=python,
    ),
    Recipe(
        reference="ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
        source="github.com/resmoio/kubernetes-event-exporter v1.7 (git tag: the module proxy "
        "refuses the non-semver tag), CGO_ENABLED=0",
        upstream="resmoio/kubernetes-event-exporter v1.7 Dockerfile (distroless static:nonroot)",
        differences=(
            "base: distroless static's files from this machine's Debian 12",
            "binary: Go 1.26.8 (upstream: 1.20), so go_build_info shows a pseudo-version",
        ),
        rendered_by="the program: eventExporterImage",
        smoke=(_version("-metrics-address", "/kubernetes-event-exporter", "-help"),),
        assemble=event_exporter,
    ),
    Recipe(
        reference="registry.k8s.io/coredns/coredns:v1.12.1",
        source="github.com/coredns/coredns v1.12.1 (Go module proxy): kubeadm 1.34's CoreDNS",
        upstream="coredns/coredns v1.12.1 Dockerfile (distroless static-debian12:nonroot, setcap)",
        differences=("base: distroless static's files from this machine's Debian 12",),
        rendered_by="the real node (cluster DNS)",
        smoke=(_version("CoreDNS-1.12.1", "/coredns", "-version"),),
        assemble=coredns,
    ),
    Recipe(
        reference="registry.k8s.io/pause:3.10.1",
        source="kubernetes v1.34.4 build/pause/linux/pause.c (gcc -static): kubeadm 1.34's "
        "pause, containerd's sandbox_image",
        upstream="kubernetes build/pause/Dockerfile (FROM scratch, USER 65535:65535)",
        differences=("none in layout: /pause alone, as upstream",),
        rendered_by="the real node (containerd sandbox_image)",
        smoke=(_version("pause.c v3.10.1", "/pause", "-v"),),
        assemble=pause,
    ),
)

# Rendered by the program, deliberately not built: the reason replaces a recipe.
NOT_BUILT: dict[str, str] = {
    "nvcr.io/nvidia/k8s/dcgm-exporter": (
        "dcgm-exporter needs NVIDIA's driver and DCGM libraries and a GPU; real nodes run "
        "gpuMode external against a stand-in served by the python image"
    ),
}


def without_recipe(references: Iterable[str]) -> set[str]:
    """The references (as rendered) that no recipe builds and NOT_BUILT does not explain."""
    known = recipes()
    return {
        reference
        for reference in references
        if normalize_reference(reference.split("@", 1)[0]) not in known
        and reference.split("@", 1)[0].rsplit(":", 1)[0] not in NOT_BUILT
    }


def recipes() -> dict[str, Recipe]:
    """Recipes by normalized reference (`docker.io/library/python:3.13.7-alpine3.22`)."""
    return {recipe.normalized: recipe for recipe in RECIPES}


def sandbox_image() -> str:
    """The pause image containerd's CRI plugin must be configured with (`sandbox_image`)."""
    return normalize_reference("registry.k8s.io/pause:3.10.1")
