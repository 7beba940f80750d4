"""The base layers the recipes share, made from this machine's Debian files.

Upstream's images sit on three bases: distroless (`gcr.io/distroless/static`, `cc`), Prometheus'
busybox (`quay.io/prometheus/busybox`) and Alpine (the official Python image). Each is rebuilt
here from the files it holds, not pulled: users and groups as distroless writes them, /tmp,
nsswitch.conf, the CA bundle, netbase's tables and tzdata; busybox from Debian's busybox-static;
and, for dynamically linked programs, the exact glibc libraries `ldd` names.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulation.images.assembler import Directory, Entry, File, Layer, Symlink

ROOT, NOBODY, NONROOT = 0, 65534, 65532

# distroless common/BUILD.bazel: passwd, group and home as distroless writes them.
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
# distroless static/nsswitch.conf (Debian's default).
NSSWITCH = """\
passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
"""
OS_RELEASE = """\
PRETTY_NAME="cedana-monitoring local image base (files from this machine's Debian)"
NAME="Debian GNU/Linux"
ID=debian
HOME_URL="https://github.com/GoogleContainerTools/distroless"
"""
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# distroless static: PATH and SSL_CERT_FILE.
DISTROLESS_ENV = (f"PATH={PATH}", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
BUSYBOX_ENV = (f"PATH={PATH}",)

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
ZONEINFO = "/usr/share/zoneinfo"
NETBASE = ("/etc/services", "/etc/protocols", "/etc/rpc", "/etc/ethertypes")
MULTIARCH = "/lib/x86_64-linux-gnu"
INTERPRETER = "/lib64/ld-linux-x86-64.so.2"
# Not linked but loaded at run time by glibc: pthread_exit/cancel unwind through libgcc_s, and
# nsswitch's "compat" service is a module of its own (files and dns are in libc since 2.34).
GLIBC_DLOPENED = ("libgcc_s.so.1", "libnss_compat.so.2")


@dataclass
class Needs:
    """What a recipe could not find, each as the thing to build or install."""

    missing: list[str] = field(default_factory=list)

    def file(self, path: Path, hint: str) -> Path:
        if not path.is_file():
            self.missing.append(f"{path} ({hint})")
        return path

    def directory(self, path: Path, hint: str) -> Path:
        if not path.is_dir():
            self.missing.append(f"{path} ({hint})")
        return path


def tree(source: Path, target: str, keep: Callable[[str], bool] | None = None) -> Iterator[Entry]:
    """A host directory as entries under `target`: files keep their executable bit, symlinks
    their target; `keep(relative path)` filters (a directory it refuses is not entered)."""
    for directory, subdirectories, files in os.walk(source):
        base_dir = Path(directory)
        subdirectories.sort()
        for name in sorted([*files, *subdirectories]):
            host = base_dir / name
            relative = host.relative_to(source).as_posix()
            kept = keep is None or keep(relative)
            if name in subdirectories and (not kept or host.is_symlink()):
                subdirectories.remove(name)  # not entered
            if not kept:
                continue
            path = f"{target}/{relative}"
            if host.is_symlink():
                yield Symlink(path, str(host.readlink()))
            elif host.is_dir():
                yield Directory(path)
            elif host.is_file():
                yield File(path, source=host)


def static_base(needs: Needs) -> Layer:
    """distroless `static`: users, homes, /tmp, nsswitch, os-release, CA bundle, netbase, tzdata."""
    entries: list[Entry] = [
        File("/etc/passwd", content=PASSWD.encode()),
        File("/etc/group", content=GROUP.encode()),
        File("/etc/nsswitch.conf", content=NSSWITCH.encode()),
        File("/etc/os-release", content=OS_RELEASE.encode()),
        Directory("/root", mode=0o700),
        Directory("/home"),
        Directory("/home/nonroot", mode=0o700, uid=NONROOT, gid=NONROOT),
        Directory("/tmp", mode=0o1777),  # noqa: S108 - the image's /tmp
        File(
            CA_BUNDLE,
            source=needs.file(Path(CA_BUNDLE), "apt-get install ca-certificates"),
            mode=0o644,
        ),
    ]
    entries += [
        File(path, source=Path(path), mode=0o644) for path in NETBASE if Path(path).is_file()
    ]
    zoneinfo = needs.directory(Path(ZONEINFO), "apt-get install tzdata")
    if zoneinfo.is_dir():
        entries += [Directory(ZONEINFO), *tree(zoneinfo, ZONEINFO)]
    return Layer(tuple(entries), "base: distroless static files (users, CA bundle, tzdata)")


def busybox_applets(busybox: Path) -> list[str]:
    listed = subprocess.run(  # noqa: S603 - the host's own busybox, asked for its applets
        [str(busybox), "--list"], check=True, capture_output=True, text=True
    ).stdout
    return sorted(name for name in listed.split() if re.fullmatch(r"[\w.\[-]+", name))


def busybox_layer(needs: Needs) -> Layer:
    """Prometheus' busybox base and Alpine's /bin: a static busybox and a link per applet."""
    busybox = needs.file(Path("/bin/busybox"), "apt-get install busybox-static")
    entries: list[Entry] = []
    if busybox.is_file():
        entries.append(File("/bin/busybox", source=busybox, mode=0o755))
        entries += [
            Symlink(f"/bin/{applet}", "busybox")
            for applet in busybox_applets(busybox)
            if applet != "busybox"
        ]
    return Layer(tuple(entries), "base: busybox (Debian busybox-static), one link per applet")


def shared_libraries(binaries: Iterable[Path], needs: Needs) -> dict[str, Path]:
    """Image path → host file of every library the binaries load, as `ldd` resolves them,
    plus what glibc loads at run time. Libraries outside the system's multiarch directory
    (the program's own) are left to the recipe."""
    found: dict[str, Path] = {}
    for binary in binaries:
        result = subprocess.run(  # noqa: S603 - ldd of a binary the recipe ships
            ["ldd", str(binary)],  # noqa: S607
            check=False,
            capture_output=True,
            text=True,
        )
        for line in result.stdout.splitlines():
            if "not found" in line:
                needs.missing.append(f"{line.split()[0]} for {binary} (install its Debian package)")
                continue
            match = re.match(r"\s*(\S+) => (/\S+)", line)
            if match and str(Path(match.group(2)).parent) == MULTIARCH:
                found[match.group(2)] = Path(match.group(2))
    for name in GLIBC_DLOPENED:
        library = Path(MULTIARCH) / name
        found[str(library)] = needs.file(library, "apt-get install libc6 libgcc-s1")
    return found


def glibc_entries(binaries: Iterable[Path], needs: Needs) -> list[Entry]:
    """The libraries as files at their Debian paths (content of the real file behind each
    symlink) and the program interpreter at /lib64, as distroless `cc` lays them out."""
    libraries = shared_libraries(binaries, needs)
    loader = Path(MULTIARCH) / Path(INTERPRETER).name
    libraries[str(loader)] = needs.file(loader, "apt-get install libc6")
    entries: list[Entry] = [
        File(path, source=source.resolve(), mode=0o755)
        for path, source in sorted(libraries.items())
        if source.is_file()
    ]
    entries.append(Symlink(INTERPRETER, str(loader)))
    return entries
