"""What a run may change on the machine, read before and after it, so that "nothing is left"
is a comparison rather than a hope: kernel settings, the root namespace's firewall and links,
mounts, network namespaces, cgroups, and the paths containerd and the kubelet write whatever
they are told.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SYSCTL_ROOT = Path("/proc/sys")
# Counters and figures the kernel changes by itself.
VOLATILE_SYSCTLS = (
    "fs.dentry-state",
    "fs.file-nr",
    "fs.inode-nr",
    "fs.inode-state",
    "fs.aio-nr",
    "fs.quota.",
    "kernel.ns_last_pid",
    "kernel.pty.nr",
    "kernel.random.",
    "kernel.perf_event_max_sample_rate",
    "kernel.tainted",
    "net.netfilter.nf_conntrack_count",
    "vm.stat_refresh",
)
# Where containerd 1.6 and the kubelet write regardless of their configuration, and what the
# network and firewall tools leave: none may appear.
STRAY_PATHS = (
    "/run/containerd",
    "/var/lib/containerd",
    "/var/lib/cni",
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/usr/libexec/kubernetes",
    "/var/lib/kube-router",
    "/run/xtables.lock",
    "/run/netns",
    "/etc/cni/net.d",
)
# Named network namespaces live here, one mount each.
NETNS_DIR = "/run/netns"
FIREWALL_DUMPS = (("iptables-save",), ("ip6tables-save",), ("nft", "list", "ruleset"))


def read_sysctls(root: Path = SYSCTL_ROOT) -> dict[str, str]:
    """Every readable kernel setting of this process's namespaces, but the volatile ones."""
    values = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            key = ".".join(path.relative_to(root).parts)
            if key.startswith(VOLATILE_SYSCTLS):
                continue
            with contextlib.suppress(OSError):
                values[key] = " ".join(path.read_text().split())
    return values


def write_sysctl(key: str, value: str, root: Path = SYSCTL_ROOT) -> None:
    (root / key.replace(".", "/")).write_text(value)


def firewall() -> str:
    """The root namespace's rules (iptables, ip6tables, nftables), counters and dates left
    out."""
    dumps = []
    for argv in FIREWALL_DUMPS:
        if not shutil.which(argv[0]):
            continue
        result = subprocess.run(  # noqa: S603 - fixed tools
            list(argv), capture_output=True, text=True, timeout=60, check=False
        )
        lines = [
            line.split(" [")[0] if line.startswith(":") else line
            for line in result.stdout.splitlines()
            if not line.startswith("#")
        ]
        dumps.append("\n".join(lines))
    return "\n".join(dumps)


def _mount_points() -> frozenset[str]:
    with Path("/proc/self/mountinfo").open() as mounts:
        return frozenset(line.split()[4] for line in mounts)


def _links() -> frozenset[str]:
    return frozenset(p.name for p in Path("/sys/class/net").iterdir())


def _netns() -> frozenset[str]:
    directory = Path("/run/netns")
    return frozenset(p.name for p in directory.iterdir()) if directory.is_dir() else frozenset()


@dataclass(frozen=True)
class HostState:
    sysctls: dict[str, str]
    firewall: str
    paths: frozenset[str]
    mounts: frozenset[str]
    links: frozenset[str]
    netns: frozenset[str]

    @classmethod
    def capture(cls) -> HostState:
        return cls(
            sysctls=read_sysctls(),
            firewall=firewall(),
            paths=frozenset(p for p in STRAY_PATHS if os.path.lexists(p)),
            mounts=_mount_points(),
            links=_links(),
            netns=_netns(),
        )

    def differences(
        self, after: HostState, ours: Callable[[str, str], bool] = lambda kind, item: True
    ) -> list[str]:
        """What `after` has that this state had not, or lost, of what `ours(kind, item)` says
        a run could have made (a shared machine has other programs' namespaces and mounts
        come and go)."""
        found = []
        for key in sorted(set(self.sysctls) | set(after.sysctls)):
            if self.sysctls.get(key) != after.sysctls.get(key):
                found.append(
                    f"sysctl {key}: {self.sysctls.get(key)!r} -> {after.sysctls.get(key)!r}"
                )
        if self.firewall != after.firewall:
            found.append(f"the root namespace's firewall changed:\n{after.firewall}")
        for kind, before, now in (
            ("path", self.paths, after.paths),
            ("mount", self.mounts, after.mounts),
            ("link", self.links, after.links),
            ("netns", self.netns, after.netns),
        ):
            found += [f"{kind} left: {item}" for item in sorted(now - before) if ours(kind, item)]
            found += [f"{kind} gone: {item}" for item in sorted(before - now) if ours(kind, item)]
        return found


def restore_sysctls(before: HostState, keys: Sequence[str]) -> list[str]:
    """The listed settings put back to what they were; the ones it changed."""
    now = read_sysctls()
    restored = []
    for key in keys:
        if key in before.sysctls and now.get(key) != before.sysctls[key]:
            write_sysctl(key, before.sysctls[key])
            restored.append(f"{key}: {now.get(key)} -> {before.sysctls[key]}")
    return restored


def processes_left(markers: Sequence[str], namespaces: Iterable[str]) -> list[str]:
    """Processes (this one and its ancestors aside) whose command line names a marker or that
    live in one of the namespaces ("net:[…]", "mnt:[…]")."""
    wanted = set(namespaces)
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.pid in mine:
            continue
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            spaces = {str(Path(f"/proc/{process.pid}/ns/{k}").readlink()) for k in ("net", "mnt")}
        except (OSError, psutil.Error):
            continue
        if any(m in cmdline for m in markers) or spaces & wanted:
            left.append(f"{process.pid}: {cmdline[:160]}")
    return left


def made_by(run_id: str, workdir: Path) -> Callable[[str, str], bool]:
    """What a run could have left: a namespace or mount naming its id or its directory, a
    mount on one of the stray paths (named namespaces aside: another run's are not ours; the
    namespace directory only when nobody's namespace is left in it), and any path, link,
    sysctl or firewall change."""
    marks = (run_id, str(workdir))

    def ours(kind: str, item: str) -> bool:
        if item == NETNS_DIR:  # the run removes it when it made it, unless others use it
            directory = Path(NETNS_DIR)
            return not directory.is_dir() or not any(directory.iterdir())
        if kind == "netns":
            return any(m in item for m in marks)
        if kind == "mount":
            if any(m in item for m in marks):
                return True
            if item.startswith(f"{NETNS_DIR}/"):
                return False
            return item.startswith(STRAY_PATHS)
        return True

    return ours
