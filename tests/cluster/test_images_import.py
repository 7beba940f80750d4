"""The built images in a real containerd: imported under exactly their references, seen by the
CRI plugin as kubelet asks for them, and each one's program running inside it as its user.

Runs where containerd, runc and the binaries exist (a private containerd under a temporary
directory; nothing is pulled); an image whose inputs are absent is skipped with what to build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulation.images import base
from simulation.images.build import REPOSITORY, Built, build_images, import_and_verify
from simulation.images.containerd import (
    CGROUP_ROOT,
    FIXED_PATHS,
    PrivateContainerd,
    leftovers,
    missing_tools,
    private_containerd,
)
from simulation.images.recipes import CAP_NET_BIND_SERVICE_EP, RECIPES, Inputs, Recipe

MISSING_TOOLS = missing_tools()
pytestmark = pytest.mark.skipif(
    bool(MISSING_TOOLS), reason="a private containerd needs " + "; ".join(MISSING_TOOLS)
)
BUSYBOX = Path("/bin/busybox")  # static: runs in any image, mounted read-only
PROBE = "/.cedana-probe/busybox"
NAMES = {line.split(":")[0]: int(line.split(":")[2]) for line in base.PASSWD.splitlines()}


@dataclass
class Node:
    containerd: PrivateContainerd
    built: dict[str, Built]


def expected_uid(user: str) -> int:
    """The uid an image config's User runs as (`nobody`, `65532`, `nonroot:nonroot`, "")."""
    name = user.split(":", maxsplit=1)[0]
    return 0 if not name else NAMES[name] if name in NAMES else int(name)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    built = {b.recipe.reference: b for b in build_images(RECIPES, Inputs.from_environment())}
    before = {path for path in FIXED_PATHS if path.exists()}
    directory = tmp_path_factory.mktemp("containerd")
    with private_containerd(directory / "root") as containerd:
        import_and_verify(list(built.values()), containerd.socket, containerd.namespace)
        yield Node(containerd, built)
        cgroup = containerd.cgroup_parent
    assert leftovers(before) == [], "containerd left these behind"
    assert not list(CGROUP_ROOT.glob(f"*/{cgroup}")), "cgroups left behind"
    assert not directory.joinpath("root").exists()


def image(node: Node, recipe: Recipe) -> Built:
    built = node.built[recipe.reference]
    if built.archive is None:
        pytest.skip("; ".join(f"missing: {m}" for m in built.missing))
    return built


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.reference for r in RECIPES])
def test_the_image_is_listed_under_exactly_its_reference(node: Node, recipe: Recipe) -> None:
    image(node, recipe)
    listed = node.containerd.ctr("images", "ls", "-q").stdout.split()
    assert recipe.normalized in listed


@pytest.mark.skipif(shutil.which("crictl") is None, reason="needs crictl (cri-tools)")
@pytest.mark.parametrize("recipe", RECIPES, ids=[r.reference for r in RECIPES])
def test_kubelets_image_lookup_finds_it_as_the_program_writes_it(
    node: Node, recipe: Recipe
) -> None:
    image(node, recipe)
    found = subprocess.run(
        [
            "crictl",
            "--runtime-endpoint",
            f"unix://{node.containerd.socket}",
            "--image-endpoint",
            f"unix://{node.containerd.socket}",
            "inspecti",
            recipe.reference,  # as rendered: `python:3.13.7-alpine3.22`, not normalized
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.reference for r in RECIPES])
def test_the_program_runs_inside_its_image(node: Node, recipe: Recipe) -> None:
    built = image(node, recipe)
    assert built.archive is not None
    for smoke in recipe.smoke:
        mounts = [(REPOSITORY / source, target) for source, target in smoke.mounts]
        result = node.containerd.run(built.archive.reference, smoke.argv, mounts)
        assert result.returncode == smoke.exit_code, result.output
        assert smoke.expect in result.output, result.output


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.reference for r in RECIPES])
def test_it_runs_as_its_user_in_its_working_directory(node: Node, recipe: Recipe) -> None:
    built = image(node, recipe)
    assert built.archive is not None
    config = recipe.spec(Inputs.from_environment()).config
    mounts = [(BUSYBOX, PROBE)]
    uid = node.containerd.run(built.archive.reference, (PROBE, "id", "-u"), mounts)
    assert uid.output.strip() == str(expected_uid(config.user)), uid.output
    pwd = node.containerd.run(built.archive.reference, (PROBE, "pwd"), mounts)
    assert pwd.output.strip() == (config.working_dir or "/"), pwd.output


def test_coredns_keeps_its_file_capability_once_unpacked(node: Node) -> None:
    coredns = next(r for r in RECIPES if r.reference.startswith("registry.k8s.io/coredns/"))
    image(node, coredns)
    snapshots = node.containerd.directory / "root" / "io.containerd.snapshotter.v1.overlayfs"
    unpacked = list(snapshots.glob("snapshots/*/fs/coredns"))
    assert unpacked, f"no unpacked /coredns under {snapshots}"
    assert os.getxattr(unpacked[0], "security.capability") == CAP_NET_BIND_SERVICE_EP
