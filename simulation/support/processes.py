"""The lab's processes: start, kill, restart, wait for health, and sample their RSS and CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    cpu_seconds_before: float = 0.0  # CPU of earlier incarnations (after a kill)
    rss: list[int] = field(default_factory=list)  # KiB samples
    down: list[tuple[float, float]] = field(default_factory=list)  # deliberate downtime
    terminating: bool = False

    def start(self) -> None:
        self.terminating = False
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(  # noqa: S603 - the lab's own binaries
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        if not self.health_url:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            try:
                # A loopback http:// URL the lab built itself.
                with urllib.request.urlopen(self.health_url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not healthy within {timeout:.0f} s: see {self.log}")

    def cpu_seconds(self) -> float:
        if not self.popen or self.popen.poll() is not None or self.terminating:
            return self.cpu_seconds_before
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return self.cpu_seconds_before
        return self.cpu_seconds_before + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def sample_rss(self) -> None:
        if not self.popen or self.popen.poll() is not None:
            return
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.rss.append(int(line.split()[1]))
        except OSError:
            pass

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.popen and self.popen.poll() is None:
            self.cpu_seconds_before = self.cpu_seconds()
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, once: the start of a graceful stop (see `stop_all`)."""
        if self.popen and self.popen.poll() is None and not self.terminating:
            self.cpu_seconds_before = self.cpu_seconds()
            self.terminating = True
            self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        self.terminate()
        if self.popen and self.popen.poll() is None:
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


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
