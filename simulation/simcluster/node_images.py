"""The images a real node holds before any pod starts: nothing is ever pulled.

Images are archives (docker-archive or OCI layout tars, as `ctr images import` takes them) that
`simulation/images` builds into ~/.cache/cedana-monitoring/images (`./scripts/build-images`);
`CEDANA_IMAGES_DIR` points elsewhere. An archive's reference is read from the archive itself
(`manifest.json`'s RepoTags, else `index.json`'s image-name annotation), so a node imports
exactly the references its pods name.

The import is one call, `Importer(archives, socket)`: by default `ctr images import` of each
archive, the same signature as `simulation.images.build.import_images`, which can replace it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# What kubeadm 1.34 pins for kubelet 1.34 (the sandbox image) and its CoreDNS.
SANDBOX_IMAGE = "registry.k8s.io/pause:3.10.1"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"
# The test pods' image: a shell (busybox) and Python, as the program's stand-ins use it.
PYTHON_IMAGE = "docker.io/library/python:3.13.7-alpine3.22"
NODE_IMAGES = (SANDBOX_IMAGE, COREDNS_IMAGE)
NAMESPACE = "k8s.io"  # containerd's namespace for the CRI's images
DEFAULT_DIR = Path("~/.cache/cedana-monitoring/images").expanduser()

Importer = Callable[[Iterable[Path], Path], object]


def images_dir() -> Path:
    return Path(os.environ.get("CEDANA_IMAGES_DIR") or DEFAULT_DIR)


def archive_references(path: Path) -> list[str]:
    """The image names an archive carries (empty for a file that is no image archive)."""
    try:
        with tarfile.open(path) as archive:
            names = set(archive.getnames())
            if "manifest.json" in names:
                manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
                return [tag for entry in manifest for tag in entry.get("RepoTags") or []]
            if "index.json" in names:
                index = json.load(archive.extractfile("index.json"))  # type: ignore[arg-type]
                return [
                    m["annotations"]["io.containerd.image.name"]
                    for m in index.get("manifests", [])
                    if "io.containerd.image.name" in m.get("annotations", {})
                ]
    except (OSError, tarfile.TarError, ValueError, KeyError):
        return []
    return []


@dataclass(frozen=True)
class NodeImages:
    """The archives to import into every real node, by reference."""

    archives: dict[str, Path]
    sandbox: str = SANDBOX_IMAGE

    @property
    def paths(self) -> list[Path]:
        return sorted(set(self.archives.values()))


def find_images(
    references: Sequence[str], directory: Path | None = None
) -> tuple[NodeImages, list[str]]:
    """The archives in `directory` that hold `references`; and the references none holds."""
    directory = directory or images_dir()
    found: dict[str, Path] = {}
    for path in sorted(directory.glob("*.tar")) if directory.is_dir() else []:
        for reference in archive_references(path):
            if reference in references:
                found.setdefault(reference, path)
    return NodeImages(found), [r for r in references if r not in found]


def missing_images_text(missing: Sequence[str], directory: Path | None = None) -> str:
    where = directory or images_dir()
    return (
        f"the images {', '.join(missing)} as archives in {where} (./scripts/build-images builds"
        " them: simulation/images; or set CEDANA_IMAGES_DIR)"
    )


def ctr_import(
    archives: Iterable[Path], socket: Path, namespace: str = NAMESPACE
) -> dict[Path, float]:
    """`ctr images import` of each archive into the containerd at `socket`; seconds each."""
    taken = {}
    for archive in archives:
        started = time.monotonic()
        command = ["ctr", "-a", str(socket), "-n", namespace, "images", "import", str(archive)]
        result = subprocess.run(  # noqa: S603 - ctr with arguments of ours
            command, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {(result.stderr or result.stdout).strip()}")
        taken[archive] = round(time.monotonic() - started, 1)
    return taken


def imported(socket: Path, namespace: str = NAMESPACE) -> set[str]:
    """The image names the containerd at `socket` holds."""
    result = subprocess.run(  # noqa: S603 - ctr with arguments of ours
        ["ctr", "-a", str(socket), "-n", namespace, "images", "ls", "-q"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {name for name in result.stdout.split() if not name.startswith("sha256:")}
