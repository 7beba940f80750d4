"""Prints the credential refresher's idle footprint: RSS and CPU over a window (default 60 s).

    .venv/bin/python bench/sidecar_footprint.py [--seconds 60]

Starts a fake Cedana API on 127.0.0.1 and the sidecar, waits for its first refresh, then samples
/proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime + stime) once a second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulation.cedana_api import FakeCedana, free_port  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with FakeCedana() as api, TemporaryDirectory() as tmp:
        token = Path(tmp) / "token"
        token.write_text("bench-token")
        env = {
            "PATH": os.environ["PATH"],
            "CEDANA_URL": api.url,
            "CEDANA_AUTH_TOKEN": "bench-auth-token",
            "CLUSTER_ID": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
            "CREDENTIALS_FILE": f"{tmp}/aws-credentials",
            "CREDENTIALS_ENDPOINT": f"127.0.0.1:{free_port()}",
            "CREDENTIALS_AUTH_TOKEN_FILE": str(token),
            "HEALTH_PORT": str(free_port()),
        }
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "cred_refresher" / "cred_refresher.py")],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            if not api.wait_for_requests(1, timeout=30):
                raise SystemExit("the sidecar never called the API")
            time.sleep(1)  # let the first refresh finish before measuring idle
            start_cpu, samples = cpu_seconds(process.pid), []
            for _ in range(args.seconds):
                samples.append(rss_kib(process.pid))
                time.sleep(1)
            used = cpu_seconds(process.pid) - start_cpu
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"python: {sys.version.split()[0]}")
    print(f"window: {args.seconds} s, {len(samples)} samples")
    print(f"idle RSS max:  {max(samples) / 1024:.1f} MiB")
    print(f"idle RSS mean: {sum(samples) / len(samples) / 1024:.1f} MiB")
    print(f"CPU used: {used:.3f} s ({100 * used / args.seconds:.3f} % of one core)")


if __name__ == "__main__":
    main()
