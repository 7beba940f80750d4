"""Builds every recipe into a cache and imports the images into a containerd.

    ./scripts/build-images                      # build what is missing or changed, print a table
    ./scripts/build-images --import SOCK        # … then import into the containerd at SOCK
    ./scripts/build-images --check              # say what each recipe still misses, build nothing
    ./scripts/build-images --prove              # … import into a private containerd and run
                                                #     each image's --version as its user

Archives land in ~/.cache/cedana-monitoring/images/<name>_<tag>.tar beside a .json that records
the inputs they were built from (paths, sizes, mtimes, contents given inline, config): an
unchanged recipe is not rebuilt. Importing runs `ctr -a SOCK -n k8s.io images import` per
archive, then `ctr images ls` must list every reference under exactly its name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulation.images.assembler import (
    GZIP_LEVEL,
    Archive,
    Directory,
    File,
    ImageSpec,
    Symlink,
    write_archive,
)
from simulation.images.containerd import PrivateContainerd, private_containerd
from simulation.images.recipes import RECIPES, Inputs, MissingInputsError, Recipe, Smoke

DEFAULT_CACHE = Path("~/.cache/cedana-monitoring/images").expanduser()
REPOSITORY = Path(__file__).resolve().parents[2]
NAMESPACE = "k8s.io"  # the namespace kubelet's images live in (containerd's CRI plugin)
# Bump when the assembler writes different bytes for the same spec.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Built:
    recipe: Recipe
    archive: Archive | None
    missing: tuple[str, ...]
    seconds: float
    rebuilt: bool


def fingerprint(spec: ImageSpec) -> str:
    """What the archive depends on: every entry (a host file by path, size and mtime; inline
    content by hash) and the config. Equal fingerprints give equal archives."""
    digest = hashlib.sha256()

    def feed(value: object) -> None:
        digest.update(json.dumps(value, sort_keys=True, default=str).encode())
        digest.update(b"\n")

    feed([FORMAT_VERSION, GZIP_LEVEL, spec.reference, spec.architecture, spec.os])
    feed(spec.config.to_json())
    for layer in spec.layers:
        feed(layer.created_by)
        for entry in layer.entries:
            if isinstance(entry, Directory):
                feed(["dir", entry.path, entry.mode, entry.uid, entry.gid])
            elif isinstance(entry, Symlink):
                feed(["symlink", entry.path, entry.target, entry.uid, entry.gid])
            elif isinstance(entry, File):
                if entry.source is not None:
                    stat = entry.source.stat()
                    origin: object = [str(entry.source), stat.st_size, stat.st_mtime_ns]
                else:
                    assert entry.content is not None
                    origin = hashlib.sha256(entry.content).hexdigest()
                xattrs = {k: v.hex() for k, v in entry.xattrs.items()}
                feed(
                    [
                        "file",
                        entry.path,
                        entry.resolved_mode(),
                        entry.uid,
                        entry.gid,
                        xattrs,
                        origin,
                    ]
                )
    return digest.hexdigest()


def cache_paths(recipe: Recipe, cache: Path) -> tuple[Path, Path]:
    return cache / f"{recipe.cache_name}.tar", cache / f"{recipe.cache_name}.json"


def build_image(recipe: Recipe, inputs: Inputs, cache: Path = DEFAULT_CACHE) -> Built:
    """Builds one recipe unless its cached archive has the same inputs.

    Raises MissingInputsError naming what to build when an input is absent."""
    started = time.monotonic()
    spec = recipe.spec(inputs)
    archive_path, record_path = cache_paths(recipe, cache)
    wanted = fingerprint(spec)
    if archive_path.is_file() and record_path.is_file():
        record = json.loads(record_path.read_text())
        if (
            record.get("fingerprint") == wanted
            and record.get("bytes") == archive_path.stat().st_size
        ):
            archive = Archive(
                path=archive_path,
                reference=record["reference"],
                manifest_digest=record["manifest_digest"],
                config_digest=record["config_digest"],
                layer_digests=tuple(record["layer_digests"]),
                diff_ids=tuple(record["diff_ids"]),
                size=record["size"],
            )
            return Built(recipe, archive, (), time.monotonic() - started, rebuilt=False)
    archive = write_archive(spec, archive_path)
    seconds = time.monotonic() - started
    record_path.write_text(
        json.dumps(
            {
                "fingerprint": wanted,
                "bytes": archive_path.stat().st_size,
                "reference": archive.reference,
                "manifest_digest": archive.manifest_digest,
                "config_digest": archive.config_digest,
                "layer_digests": list(archive.layer_digests),
                "diff_ids": list(archive.diff_ids),
                "size": archive.size,
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
        + "\n"
    )
    return Built(recipe, archive, (), seconds, rebuilt=True)


def build_images(
    recipes: Iterable[Recipe] = RECIPES,
    inputs: Inputs | None = None,
    cache: Path = DEFAULT_CACHE,
) -> list[Built]:
    """Builds every recipe it can; a recipe with absent inputs comes back with `missing`."""
    inputs = Inputs.from_environment() if inputs is None else inputs
    results = []
    for recipe in recipes:
        try:
            results.append(build_image(recipe, inputs, cache))
        except MissingInputsError as missing:
            results.append(Built(recipe, None, tuple(missing.missing), 0.0, rebuilt=False))
    return results


def _ctr(socket: Path, namespace: str, *args: str, timeout: float = 600) -> str:
    command = ["ctr", "-a", str(socket), "-n", namespace, *args]
    result = subprocess.run(  # noqa: S603 - ctr with arguments of ours
        command, check=False, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout}")
    return result.stdout


def import_images(
    archives: Iterable[Path], socket: Path, namespace: str = NAMESPACE
) -> dict[Path, float]:
    """`ctr images import` of each archive into the containerd at `socket`; seconds each."""
    taken = {}
    for archive in archives:
        started = time.monotonic()
        _ctr(socket, namespace, "images", "import", str(archive))
        taken[archive] = time.monotonic() - started
    return taken


def imported_references(socket: Path, namespace: str = NAMESPACE) -> set[str]:
    """The image names containerd holds (`ctr images ls -q`), IDs (`sha256:…`) left out."""
    listed = _ctr(socket, namespace, "images", "ls", "-q", timeout=60).split()
    return {name for name in listed if not name.startswith("sha256:")}


def verify_imported(
    references: Iterable[str], socket: Path, namespace: str = NAMESPACE
) -> list[str]:
    """The references containerd does not hold under exactly that name (empty: all there)."""
    present = imported_references(socket, namespace)
    return sorted(set(references) - present)


def import_and_verify(
    built: Sequence[Built], socket: Path, namespace: str = NAMESPACE
) -> dict[Path, float]:
    archives = [b.archive for b in built if b.archive is not None]
    taken = import_images([a.path for a in archives], socket, namespace)
    absent = verify_imported([a.reference for a in archives], socket, namespace)
    if absent:
        raise RuntimeError(f"imported but not listed under their names: {', '.join(absent)}")
    return taken


@dataclass(frozen=True)
class SmokeResult:
    reference: str
    smoke: Smoke
    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == self.smoke.exit_code and self.smoke.expect in self.output


def run_smokes(containerd: PrivateContainerd, built: Sequence[Built]) -> list[SmokeResult]:
    """Each image's smoke commands via `ctr run --rm`, as the image's user."""
    results = []
    for b in built:
        if b.archive is None:
            continue
        for smoke in b.recipe.smoke:
            mounts = [(REPOSITORY / source, target) for source, target in smoke.mounts]
            run = containerd.run(b.archive.reference, smoke.argv, mounts)
            results.append(SmokeResult(b.archive.reference, smoke, run.returncode, run.output))
    return results


@dataclass(frozen=True)
class Proof:
    imported: dict[Path, float]  # archive -> seconds `ctr images import` took
    smokes: list[SmokeResult]


def prove(built: Sequence[Built], directory: Path) -> Proof:
    """Imports the built images into a private containerd under `directory`, checks each is
    listed under its reference, runs every smoke command, then stops and cleans up."""
    with private_containerd(directory) as containerd:
        imported = import_and_verify(built, containerd.socket, containerd.namespace)
        return Proof(imported, run_smokes(containerd, built))


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where archives go")
    parser.add_argument("--only", action="append", default=[], help="a reference (repeatable)")
    parser.add_argument(
        "--import", dest="socket", type=Path, help="containerd socket to import into"
    )
    parser.add_argument("--namespace", default=NAMESPACE)
    parser.add_argument("--check", action="store_true", help="report missing inputs only")
    parser.add_argument(
        "--prove", action="store_true", help="import into a private containerd and run each image"
    )
    args = parser.parse_args(argv)
    inputs = Inputs.from_environment()
    chosen = [
        r for r in RECIPES if not args.only or r.reference in args.only or r.normalized in args.only
    ]
    if args.check:
        for recipe in chosen:
            missing = recipe.missing(inputs)
            status = "; ".join(f"missing: {m}" for m in missing) if missing else "ready"
            print(f"{recipe.reference}: {status}")
        return 0
    built = []
    for recipe in chosen:
        result = build_images([recipe], inputs, args.cache)[0]
        built.append(result)
        print(_line(result), flush=True)
    if args.socket is not None:
        taken = import_and_verify(built, args.socket, args.namespace)
        for path, seconds in taken.items():
            print(f"imported {path.name} in {seconds:.1f} s", flush=True)
    proven = True
    if args.prove:
        with tempfile.TemporaryDirectory(prefix="cdn-images-") as directory:
            proof = prove(built, Path(directory) / "containerd")
            for path, seconds in proof.imported.items():
                print(f"imported {path.name} in {seconds:.1f} s", flush=True)
            for smoked in proof.smokes:
                proven &= smoked.passed
                verdict = "ok" if smoked.passed else f"FAILED (exit {smoked.returncode})"
                print(f"{smoked.reference}: {' '.join(smoked.smoke.argv)}: {verdict}", flush=True)
                if not smoked.passed:
                    print("    " + smoked.output.strip().replace("\n", "\n    "), flush=True)
    return 0 if proven and all(b.archive is not None for b in built) else 1


def _line(b: Built) -> str:
    if b.archive is None:
        return f"{b.recipe.reference}: " + "; ".join(f"missing: {m}" for m in b.missing)
    how = f"built in {b.seconds:.1f} s" if b.rebuilt else "cached"
    return f"{b.recipe.reference}: {b.archive.path} ({_mib(b.archive.size)} compressed, {how})"


if __name__ == "__main__":
    sys.exit(main())
