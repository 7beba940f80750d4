"""Prints the credential refresher's footprint: RSS and CPU over a window (default 60 s).

    .venv/bin/python bench/sidecar_footprint.py [--seconds 60] [--python /path/to/python3.13]
        [--script OLD_COPY.py] [--tls] [--probes]

Starts a fake Cedana API on 127.0.0.1 and the sidecar, waits for its first refresh, then samples
its RSS and CPU time (user + system, from psutil) once a second. Everything stays on loopback.

--tls serves the fake API over https with a throw-away certificate for 127.0.0.1 (made with the
openssl command), trusted through SSL_CERT_FILE next to the system's CAs, so the sidecar holds
a CA store the size of production's. --probes sends what a pod sees while idle: the kubelet's
/ready every 10 s and /health every 30 s, and Vector's credentials fetch every 30 s.
"""

from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulation.standins.cedana_api import FakeCedana  # noqa: E402
from simulation.support.ports import free_port  # noqa: E402
from simulation.support.processes import Process, cpu_seconds, rss_kib  # noqa: E402

ENDPOINT_TOKEN = "bench-token"


def serve_tls(api: FakeCedana, directory: Path) -> Path:
    """Wraps the fake API's socket in TLS; returns a CA bundle: the system's plus its cert."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    api.server.socket = context.wrap_socket(api.server.socket, server_side=True)
    bundle = directory / "ca-bundle.pem"
    system = ssl.get_default_verify_paths().cafile
    bundle.write_text((Path(system).read_text() if system else "") + cert.read_text())
    return bundle


def get(url: str, headers: dict[str, str] | None = None) -> None:
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter that runs the sidecar"
    )
    parser.add_argument(
        "--script",
        default=str(ROOT / "cred_refresher" / "cred_refresher.py"),
        help="sidecar source to measure (e.g. an older copy, for a before/after comparison)",
    )
    parser.add_argument("--tls", action="store_true", help="https to the fake API")
    parser.add_argument("--probes", action="store_true", help="kubelet probes and Vector")
    args = parser.parse_args()
    api = FakeCedana()
    with TemporaryDirectory() as tmp:
        token = Path(tmp) / "token"
        token.write_text(ENDPOINT_TOKEN)
        endpoint_port, health_port = free_port(), free_port()
        env = {
            "PATH": os.environ["PATH"],
            "CEDANA_URL": api.url,
            "CEDANA_AUTH_TOKEN": "bench-auth-token",
            "CLUSTER_ID": "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b",
            "CREDENTIALS_FILE": f"{tmp}/aws-credentials",
            "CREDENTIALS_ENDPOINT": f"127.0.0.1:{endpoint_port}",
            "CREDENTIALS_AUTH_TOKEN_FILE": str(token),
            "HEALTH_PORT": str(health_port),
            # As in the pod spec (components/credential_wiring.py).
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if args.tls:
            env["SSL_CERT_FILE"] = str(serve_tls(api, Path(tmp)))
            env["CEDANA_URL"] = api.url.replace("http://", "https://")
        with api:
            sidecar = Process("sidecar", [args.python, args.script], env)
            process = sidecar.start()
            try:
                if not api.wait_for_requests(1, timeout=30):
                    raise SystemExit("the sidecar never called the API")
                time.sleep(1)  # let the first refresh finish before measuring
                start_cpu, samples = cpu_seconds(process.pid), []
                for second in range(args.seconds):
                    if process.poll() is not None:
                        raise SystemExit(f"the sidecar exited with {process.returncode}")
                    if args.probes and second % 10 == 0:
                        get(f"http://127.0.0.1:{health_port}/ready")
                    if args.probes and second % 30 == 0:
                        get(f"http://127.0.0.1:{health_port}/health")
                        get(
                            f"http://127.0.0.1:{endpoint_port}/credentials",
                            {"Authorization": ENDPOINT_TOKEN},
                        )
                    samples.append(rss_kib(process.pid))
                    time.sleep(1)
                used = cpu_seconds(process.pid) - start_cpu
            finally:
                sidecar.stop(timeout=10)
    version = subprocess.run(
        [args.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"python: {version} ({args.python})")
    print(f"script: {args.script}; tls: {args.tls}; probes: {args.probes}")
    print(f"window: {args.seconds} s, {len(samples)} samples")
    print(f"RSS max:  {max(samples) / 1024:.1f} MiB")
    print(f"RSS mean: {sum(samples) / len(samples) / 1024:.1f} MiB")
    print(f"CPU used: {used:.3f} s ({100 * used / args.seconds:.3f} % of one core)")


if __name__ == "__main__":
    main()
