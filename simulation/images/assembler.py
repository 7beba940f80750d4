"""A small OCI image assembler: files, directories and symlinks plus an image config in, one
tarball that `ctr images import` accepts out. No daemon, no storage driver, no network.

The tarball is at once an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) and a
docker-archive (`manifest.json`), as `docker save` writes since Docker 25, so containerd
(`ctr images import`), skopeo (`oci-archive:` and `docker-archive:`) and umoci read it. The
index names the image with `io.containerd.image.name` (the full reference) and
`org.opencontainers.image.ref.name` (the tag), so containerd imports it under exactly that
reference without `--base-name`.

Deterministic: entries sorted by path, every mtime fixed, owners numeric and without names,
JSON with sorted keys, gzip without name or timestamp. The same inputs give the same digests.

Why not buildah: it needs a storage driver and user namespaces set up on the machine; umoci and
skopeo would do, but every step they take is also a few lines here, with nothing to configure.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

# Every entry of every tar written here carries this mtime; every config this creation time.
EPOCH = 0
CREATED = "1970-01-01T00:00:00Z"
GZIP_LEVEL = 6
CHUNK = 1 << 20

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


class AssemblyError(ValueError):
    """A recipe the assembler cannot turn into an image (a path twice, a relative path…)."""


@dataclass(frozen=True)
class File:
    """A regular file: from a host file (`source`) or given bytes (`content`).

    `mode` None keeps the host file's executable bit (0755 or 0644)."""

    path: str
    source: Path | None = None
    content: bytes | None = None
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    # Extended attributes written as PAX `SCHILY.xattr.*` records (e.g. security.capability).
    xattrs: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.source is None) == (self.content is None):
            raise AssemblyError(f"{self.path}: give exactly one of source and content")

    def resolved_mode(self) -> int:
        if self.mode is not None:
            return self.mode
        if self.source is None:
            return 0o644
        return 0o755 if self.source.stat().st_mode & 0o111 else 0o644

    def size(self) -> int:
        if self.content is not None:
            return len(self.content)
        assert self.source is not None
        return self.source.stat().st_size


@dataclass(frozen=True)
class Directory:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str
    uid: int = 0
    gid: int = 0


Entry = File | Directory | Symlink


@dataclass(frozen=True)
class Layer:
    entries: tuple[Entry, ...]
    # What the layer holds, for the image's history (`docker history`, `ctr images inspect`).
    created_by: str


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an OCI image config (what a Dockerfile's instructions set)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    # "uid:gid", "uid", a user name from the image's /etc/passwd, or "" (root).
    user: str = ""
    working_dir: str = ""
    env: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()  # "9090/tcp", "53/udp"
    volumes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.user:
            config["User"] = self.user
        if self.env:
            config["Env"] = list(self.env)
        if self.entrypoint:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.volumes:
            config["Volumes"] = {volume: {} for volume in self.volumes}
        if self.labels:
            config["Labels"] = dict(self.labels)
        return config


@dataclass(frozen=True)
class ImageSpec:
    """What to assemble: the reference it is imported under, its layers and its config."""

    reference: str
    layers: tuple[Layer, ...]
    config: ImageConfig
    architecture: str = "amd64"
    os: str = "linux"


@dataclass(frozen=True)
class Archive:
    """An assembled image on disk."""

    path: Path
    reference: str
    manifest_digest: str
    config_digest: str
    layer_digests: tuple[str, ...]
    diff_ids: tuple[str, ...]
    # Bytes of the compressed layers (what the image costs in a content store).
    size: int


def normalize_reference(reference: str) -> str:
    """The reference as containerd names it: `python:3.13` → `docker.io/library/python:3.13`."""
    name, tag = _split_tag(reference)
    first, _, rest = name.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name if rest else 'library/' + name}"
    return f"{name}:{tag}"


def _split_tag(reference: str) -> tuple[str, str]:
    if "@" in reference:
        raise AssemblyError(f"{reference}: an assembled image has a tag, not a digest")
    name, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag or not name:
        raise AssemblyError(f"{reference}: give repository:tag")
    return name, tag


# --- layers -------------------------------------------------------------------------------------


def _member_name(path: str) -> str:
    pure = PurePosixPath(path)
    if not pure.is_absolute() or ".." in pure.parts or str(pure) != path.rstrip("/") or path == "/":
        raise AssemblyError(f"{path!r}: give a normalized absolute path other than /")
    return str(pure)[1:]


def _with_parents(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Entries by member name, with every missing parent directory added (root, 0755)."""
    by_name: dict[str, Entry] = {}
    for entry in entries:
        name = _member_name(entry.path)
        if name in by_name and by_name[name] != entry:
            raise AssemblyError(f"{entry.path} is given twice, differently")
        by_name[name] = entry
    for name in list(by_name):
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            existing = by_name.get(str(parent))
            if existing is None:
                by_name[str(parent)] = Directory("/" + str(parent))
            elif not isinstance(existing, Directory):
                raise AssemblyError(f"/{parent} is a parent of /{name} but not a directory")
            parent = parent.parent
    return by_name


def _tarinfo(name: str, entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = EPOCH
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    if isinstance(entry, Directory):
        info.type = tarfile.DIRTYPE
        info.mode = entry.mode
    elif isinstance(entry, Symlink):
        info.type = tarfile.SYMTYPE
        info.linkname = entry.target
        info.mode = 0o777
    else:
        info.type = tarfile.REGTYPE
        info.mode = entry.resolved_mode()
        info.size = entry.size()
        if entry.xattrs:
            # surrogateescape lets tarfile restore the exact bytes (hdrcharset=BINARY).
            info.pax_headers = {
                f"SCHILY.xattr.{key}": value.decode("utf-8", "surrogateescape")
                for key, value in sorted(entry.xattrs.items())
            }
    return info


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through to `target`."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.target.write(view)
        self.size += len(view)
        return len(view)

    def digest(self) -> str:
        return f"sha256:{self.sha256.hexdigest()}"


@dataclass(frozen=True)
class _Blob:
    digest: str
    size: int
    path: Path


def _write_layer(layer: Layer, directory: Path, compresslevel: int) -> tuple[_Blob, str]:
    """The layer gzipped into `directory`; returns the blob and the uncompressed digest."""
    handle, name = tempfile.mkstemp(dir=directory, suffix=".layer")
    with os.fdopen(handle, "wb") as raw:
        compressed = _HashingWriter(raw)
        with gzip.GzipFile(
            filename="", mode="wb", compresslevel=compresslevel, fileobj=compressed, mtime=0
        ) as gz:
            uncompressed = _HashingWriter(gz)  # type: ignore[arg-type]
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for member, entry in sorted(_with_parents(layer.entries).items()):
                    info = _tarinfo(member, entry)
                    if isinstance(entry, File):
                        tar.addfile(info, _open_content(entry))
                    else:
                        tar.addfile(info)
    return _Blob(compressed.digest(), compressed.size, Path(name)), uncompressed.digest()


def _open_content(entry: File) -> IO[bytes]:
    if entry.content is not None:
        return io.BytesIO(entry.content)
    assert entry.source is not None
    return entry.source.open("rb")


# --- the archive --------------------------------------------------------------------------------


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/", 1)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_directory(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mtime, info.mode = tarfile.DIRTYPE, EPOCH, 0o755
    tar.addfile(info)


def write_archive(spec: ImageSpec, path: Path, compresslevel: int = GZIP_LEVEL) -> Archive:
    """Assembles `spec` into the tarball `path` (replaced atomically). The gzip level is part
    of the inputs: another level gives other layer digests."""
    reference = normalize_reference(spec.reference)
    tag = _split_tag(reference)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".assemble-") as work:
        layers: list[_Blob] = []
        diff_ids: list[str] = []
        for layer in spec.layers:
            blob, diff_id = _write_layer(layer, Path(work), compresslevel)
            layers.append(blob)
            diff_ids.append(diff_id)
        config = _json_bytes(
            {
                "architecture": spec.architecture,
                "os": spec.os,
                "created": CREATED,
                "config": spec.config.to_json(),
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [
                    {"created": CREATED, "created_by": layer.created_by} for layer in spec.layers
                ],
            }
        )
        manifest = _json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": {
                    "mediaType": MEDIA_CONFIG,
                    "digest": _digest(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": MEDIA_LAYER_GZIP, "digest": blob.digest, "size": blob.size}
                    for blob in layers
                ],
            }
        )
        index = _json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_INDEX,
                "manifests": [
                    {
                        "mediaType": MEDIA_MANIFEST,
                        "digest": _digest(manifest),
                        "size": len(manifest),
                        "annotations": {ANNOTATION_IMAGE_NAME: reference, ANNOTATION_REF_NAME: tag},
                        "platform": {"architecture": spec.architecture, "os": spec.os},
                    }
                ],
            }
        )
        docker_manifest = _json_bytes(
            [
                {
                    "Config": _blob_name(_digest(config)),
                    "RepoTags": [reference],
                    "Layers": [_blob_name(blob.digest) for blob in layers],
                }
            ]
        )
        blobs: dict[str, bytes | Path] = {_digest(config): config, _digest(manifest): manifest}
        for blob in layers:
            blobs.setdefault(blob.digest, blob.path)
        partial = Path(work) / "image.tar"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_directory(tar, "blobs")
            _add_directory(tar, "blobs/sha256")
            for digest, content in sorted(blobs.items()):
                if isinstance(content, bytes):
                    _add_bytes(tar, _blob_name(digest), content)
                else:
                    info = tarfile.TarInfo(_blob_name(digest))
                    info.size, info.mtime, info.mode = content.stat().st_size, EPOCH, 0o644
                    with content.open("rb") as handle:
                        tar.addfile(info, handle)
            _add_bytes(tar, "index.json", index)
            _add_bytes(tar, "manifest.json", docker_manifest)
            _add_bytes(tar, "oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"}))
        partial.replace(path)
    return Archive(
        path=path,
        reference=reference,
        manifest_digest=_digest(manifest),
        config_digest=_digest(config),
        layer_digests=tuple(blob.digest for blob in layers),
        diff_ids=tuple(diff_ids),
        size=sum(blob.size for blob in layers),
    )


# --- reading an archive back (tests, the build's cache check) -----------------------------------


@dataclass(frozen=True)
class Member:
    """One entry of an image's filesystem as its layers leave it."""

    path: str
    type: str  # "file", "dir", "symlink", "hardlink", "other"
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    xattrs: Mapping[str, bytes]
    layer: int


@dataclass(frozen=True)
class ArchiveContents:
    reference: str
    manifest_digest: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    members: dict[str, Member]

    @property
    def runtime(self) -> dict[str, Any]:
        """The config's `config` object: User, Entrypoint, Cmd, WorkingDir, Env…"""
        return dict(self.config.get("config", {}))


def _member_type(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    return "other"


def _layer_members(data: IO[bytes], layer: int) -> Iterator[Member]:
    with tarfile.open(fileobj=data, mode="r|") as tar:
        for info in tar:
            xattrs = {
                key.removeprefix("SCHILY.xattr."): value.encode("utf-8", "surrogateescape")
                for key, value in info.pax_headers.items()
                if key.startswith("SCHILY.xattr.")
            }
            yield Member(
                path="/" + info.name.rstrip("/"),
                type=_member_type(info),
                mode=stat.S_IMODE(info.mode),
                uid=info.uid,
                gid=info.gid,
                size=info.size,
                linkname=info.linkname,
                xattrs=xattrs,
                layer=layer,
            )


class _HashingReader(io.RawIOBase):
    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        self.sha256.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> str:
        while self.read(CHUNK):
            pass
        return f"sha256:{self.sha256.hexdigest()}"


def read_archive(path: Path) -> ArchiveContents:
    """Reads an archive written by `write_archive` (or `docker save`'s OCI layout) and checks
    every digest and size: index → manifest → config and layers, layers against the config's
    diff_ids, and `manifest.json` against the index. Raises AssemblyError on any mismatch."""
    with tarfile.open(path, "r") as outer:

        def blob(digest: str, size: int | None = None) -> bytes:
            member = outer.extractfile(_blob_name(digest))
            if member is None:
                raise AssemblyError(f"{path}: blob {digest} is missing")
            data = member.read()
            if _digest(data) != digest or (size is not None and len(data) != size):
                raise AssemblyError(f"{path}: blob {digest} does not match its digest or size")
            return data

        index = json.loads(_read_member(outer, "index.json"))
        if len(index["manifests"]) != 1:
            raise AssemblyError(f"{path}: expected one image in index.json")
        descriptor = index["manifests"][0]
        reference = descriptor.get("annotations", {}).get(ANNOTATION_IMAGE_NAME, "")
        manifest = json.loads(blob(descriptor["digest"], descriptor["size"]))
        config = json.loads(blob(manifest["config"]["digest"], manifest["config"]["size"]))
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(manifest["layers"]):
            raise AssemblyError(f"{path}: {len(manifest['layers'])} layers, diff_ids differ")
        members: dict[str, Member] = {}
        for number, (layer, diff_id) in enumerate(zip(manifest["layers"], diff_ids, strict=True)):
            handle = outer.extractfile(_blob_name(layer["digest"]))
            if handle is None:
                raise AssemblyError(f"{path}: layer {layer['digest']} is missing")
            compressed = _HashingReader(handle)
            try:
                with gzip.GzipFile(fileobj=compressed, mode="rb") as gz:
                    uncompressed = _HashingReader(gz)  # type: ignore[arg-type]
                    for member in _layer_members(uncompressed, number):  # type: ignore[arg-type]
                        members[member.path] = member
                    unpacked = uncompressed.drain()
            except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
                raise AssemblyError(f"{path}: layer {number} is damaged: {error}") from error
            if unpacked != diff_id:
                raise AssemblyError(f"{path}: layer {number} does not match its diff_id")
            if compressed.drain() != layer["digest"]:
                raise AssemblyError(f"{path}: layer {number} does not match its digest")
        docker = json.loads(_read_member(outer, "manifest.json"))
        expected = {
            "Config": _blob_name(manifest["config"]["digest"]),
            "Layers": [_blob_name(layer["digest"]) for layer in manifest["layers"]],
        }
        if [{k: d[k] for k in expected} for d in docker] != [expected]:
            raise AssemblyError(f"{path}: manifest.json and index.json describe different images")
        if reference and docker[0].get("RepoTags") != [reference]:
            raise AssemblyError(f"{path}: manifest.json tags differ from {reference}")
    return ArchiveContents(
        reference=reference,
        manifest_digest=descriptor["digest"],
        config=config,
        manifest=manifest,
        members=members,
    )


def _read_member(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise AssemblyError(f"the archive has no {name}")
    return member.read()
