"""A private containerd for checking images: its own root, state and socket under one directory,
the CRI plugin configured as a real node's (`sandbox_image`, `restrict_oom_score_adj`), nothing
pulled. It runs an image's entrypoint with `ctr run --rm` as the image's user, then stops and
removes what it wrote — also the paths containerd 1.6 uses whatever its config says
(/run/containerd/s, /run/containerd/fifo, /var/lib/cni/results: removed when this run created
them and left them empty) and the cgroups of its containers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simulation.images.recipes import sandbox_image

# Written by containerd 1.6 or its shims regardless of the configured root and state.
FIXED_PATHS = (
    Path("/run/containerd/fifo"),
    Path("/run/containerd/s"),
    Path("/run/containerd/runc"),
    Path("/run/containerd"),
    Path("/var/lib/cni/results"),
    Path("/var/lib/cni"),
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
TOOLS = ("containerd", "ctr", "runc")


def missing_tools() -> list[str]:
    """What a private containerd needs and this machine lacks."""
    missing = [
        f"{tool} (apt-get install containerd runc)" for tool in TOOLS if not shutil.which(tool)
    ]
    if os.geteuid() != 0:
        missing.append("root (containerd and runc run as root here)")
    return missing


def config_toml(directory: Path, sandbox: str) -> str:
    """The probe's configuration (NOTES-kubernetes.md), every path under `directory`."""
    d = directory
    return f"""version = 2
root = "{d}/root"
state = "{d}/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", \
"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", \
"io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{d}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{sandbox}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    # No CAP_SYS_RESOURCE here: a negative oom_score_adj would fail every sandbox.
    restrict_oom_score_adj = true
    disable_apparmor = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "{shutil.which("runc") or "/usr/sbin/runc"}"
          Root = "{d}/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{d}/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""
"""


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    returncode: int
    output: str


@dataclass
class PrivateContainerd:
    directory: Path
    namespace: str = "k8s.io"
    process: subprocess.Popen[bytes] | None = None
    _runs: int = 0
    cgroup_parent: str = field(default_factory=lambda: f"cdn-images-{os.getpid()}")

    @property
    def socket(self) -> Path:
        return self.directory / "containerd.sock"

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - ctr with arguments of ours
            ["ctr", "-a", str(self.socket), "-n", self.namespace, *args],  # noqa: S607
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(
        self,
        reference: str,
        argv: Sequence[str],
        mounts: Sequence[tuple[Path, str]] = (),
        timeout: float = 120,
    ) -> RunResult:
        """`ctr run --rm` of `argv` in the image (as its user, in its working directory), with
        no network but loopback; read-only bind mounts (host path, container path)."""
        self._runs += 1
        name = f"smoke-{self._runs}"
        options = [
            "--rm",
            "--fifo-dir", str(self.directory / "fifo"),
            "--runc-root", str(self.directory / "runc-ctr"),
            "--cgroup", f"/{self.cgroup_parent}/{name}",
        ]  # fmt: skip
        for source, target in mounts:
            options += ["--mount", f"type=bind,src={source},dst={target},options=rbind:ro"]
        result = self.ctr("run", *options, reference, name, *argv, timeout=timeout)
        return RunResult(tuple(argv), result.returncode, result.stdout + result.stderr)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "cni" / "net.d").mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.toml"
        config.write_text(config_toml(self.directory, sandbox_image()))
        log = (self.directory / "containerd.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            ["containerd", "-c", str(config)],  # noqa: S607
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"containerd exited: see {self.directory / 'containerd.log'}")
            if self.socket.exists() and self.ctr("version", timeout=10).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"containerd did not answer in 60 s: {self.directory / 'containerd.log'}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None
        _unmount_under(self.directory)
        for hierarchy in _cgroup_hierarchies():
            parent = hierarchy / self.cgroup_parent
            if parent.is_dir():
                for child in sorted(parent.iterdir()):
                    if child.is_dir():
                        with contextlib.suppress(OSError):
                            child.rmdir()
                with contextlib.suppress(OSError):
                    parent.rmdir()


def _cgroup_hierarchies() -> list[Path]:
    if not CGROUP_ROOT.is_dir():
        return []
    candidates = [CGROUP_ROOT, *CGROUP_ROOT.iterdir(), CGROUP_ROOT / "unified"]
    return sorted({p.resolve() for p in candidates if p.is_dir() and (p / "cgroup.procs").exists()})


def _unmount_under(directory: Path) -> None:
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(directory))]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)  # noqa: S603,S607


def leftovers(before: set[Path]) -> list[Path]:
    """Fixed paths that exist now but did not before (what cleanup could not remove)."""
    return [path for path in FIXED_PATHS if path.exists() and path not in before]


@contextlib.contextmanager
def private_containerd(directory: Path) -> Iterator[PrivateContainerd]:
    """A containerd under `directory`; on exit it is stopped, its directory removed, and the
    fixed paths it created removed when empty (one still in use by another containerd stays)."""
    before = {path for path in FIXED_PATHS if path.exists()}
    containerd = PrivateContainerd(directory)
    try:
        containerd.start()
        yield containerd
    finally:
        containerd.stop()
        shutil.rmtree(directory, ignore_errors=True)
        for path in FIXED_PATHS:  # deepest first
            if path.is_dir() and path not in before:
                with contextlib.suppress(OSError):
                    path.rmdir()
