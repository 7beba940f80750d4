"""Processes the lab, the simulated cluster, the sidecar's tests and the benchmarks start:
start, wait for health, kill, restart, stop, and their figures (RSS, CPU, threads) from psutil."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from simulation.support.waiting import wait_until


def rss_kib(pid: int) -> int:
    """The process's resident set size, in KiB (VmRSS)."""
    return int(psutil.Process(pid).memory_info().rss // 1024)


def cpu_seconds(pid: int) -> float:
    """CPU time the process used, user and system (not its children's)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def thread_count(pid: int) -> int:
    return int(psutil.Process(pid).num_threads())


def _answers_200(url: str) -> bool:
    # A loopback http:// URL the caller built itself.
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return bool(response.status == 200)


@dataclass
class Process:
    """One process: its command, environment, log (None: stdout discarded, stderr left on
    ours) and optional health URL, with figures that survive restarts (CPU of earlier
    incarnations, RSS samples, deliberate downtime)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path | None = None
    health_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    cpu_seconds_before: float = 0.0  # CPU of earlier incarnations (after a kill)
    rss: list[int] = field(default_factory=list)  # KiB samples
    down: list[tuple[float, float]] = field(default_factory=list)  # deliberate downtime
    terminating: bool = False

    def start(self) -> subprocess.Popen[bytes]:
        self.terminating = False
        if self.log is None:
            self.popen = subprocess.Popen(  # noqa: S603 - our own binaries, argv built here
                self.argv, env=self.env, stdout=subprocess.DEVNULL
            )
        else:
            with self.log.open("ab") as out:
                self.popen = subprocess.Popen(  # noqa: S603 - our own binaries, argv built here
                    self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT
                )
        return self.popen

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _healthy(self) -> bool:
        if not self.running():
            raise RuntimeError(f"{self.name} exited: see {self.log}")
        assert self.health_url is not None
        return _answers_200(self.health_url)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        if not self.health_url:
            return
        wait_until(
            self._healthy,
            timeout,
            f"{self.name} to be healthy: see {self.log}",
            every=0.25,
            ignoring=(OSError, urllib.error.URLError),
        )

    def cpu_seconds(self) -> float:
        if not self.running() or self.terminating:
            return self.cpu_seconds_before
        try:
            return self.cpu_seconds_before + cpu_seconds(self.pid)
        except psutil.Error:
            return self.cpu_seconds_before

    def sample_rss(self) -> None:
        if not self.running():
            return
        with contextlib.suppress(psutil.Error):  # gone since `running()`
            self.rss.append(rss_kib(self.pid))

    def threads(self) -> int:
        return thread_count(self.pid)

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.popen and self.running():
            self.cpu_seconds_before = self.cpu_seconds()
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, once: the start of a graceful stop (see `stop_all`)."""
        if self.popen and self.running() and not self.terminating:
            self.cpu_seconds_before = self.cpu_seconds()
            self.terminating = True
            self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30, *, kill: bool = True) -> int | None:
        """SIGTERM, then the exit code once the process is gone. After `timeout` seconds it is
        killed (`kill`), or subprocess.TimeoutExpired propagates (`kill=False`: a process that
        ignores SIGTERM is the finding)."""
        self.terminate()
        if self.popen and self.popen.poll() is None:
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                if not kill:
                    raise
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode if self.popen else None


def stop_all(processes: list[Process], timeout: float = 20) -> None:
    """Stops every process at once: a forwarder whose peer is gone would otherwise hold its
    shutdown for Vector's whole grace period, one process after another."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.stop(timeout=max(0.1, deadline - time.monotonic()))


@dataclass
class Sampler:
    """Samples every process's RSS every `every` seconds until stopped."""

    processes: list[Process]
    every: float = 2.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for process in self.processes:
                process.sample_rss()

    def stop(self) -> None:
        self._stop.set()
