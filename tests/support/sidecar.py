"""Runs the credential refresher as a real process, as its tests and the delivery tests do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest

from simulation.standins.cedana_api import FakeCedana, key_id
from simulation.support.ports import free_port
from simulation.support.processes import Process
from simulation.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "cred_refresher" / "cred_refresher.py"
# The interpreter that runs the sidecar: the tests' own unless CRED_REFRESHER_PYTHON names
# another, e.g. the production image's Python 3.13.
PYTHON = os.environ.get("CRED_REFRESHER_PYTHON") or sys.executable
AUTH_TOKEN = "cedana-test-token-5f0e9d8c7b6a"
CLUSTER_ID = "5b1f3a2e-9c4d-4e7f-8a6b-0d1c2e3f4a5b"
ENDPOINT_TOKEN = "endpoint-token-0a1b2c3d4e5f"


def http_get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, bytes]:
    assert url.startswith(("http://127.0.0.1:", "http://[::1]:")), "tests talk to loopback only"
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Sidecar:
    handle: Process
    endpoint_port: int
    health_port: int
    log_path: Path
    credentials_file: Path
    token_file: Path

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.handle.popen is not None
        return self.handle.popen

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.endpoint_port}/credentials"

    def credentials(self, token: str | None = ENDPOINT_TOKEN) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": token} if token is not None else {}
        status, body = http_get(self.endpoint, headers)
        return status, (json.loads(body) if status == 200 else {})

    def health(self, path: str) -> int:
        return http_get(f"http://127.0.0.1:{self.health_port}{path}")[0]

    def status(self) -> tuple[int, dict[str, Any]]:
        """GET /status on the health port: the document verify reads."""
        status, body = http_get(f"http://127.0.0.1:{self.health_port}/status")
        return status, (json.loads(body) if status == 200 else {})

    def serves(self, generation: int) -> bool:
        status, document = self.credentials()
        return status == 200 and document["AccessKeyId"] == key_id(generation)

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.endpoint_port), timeout=1):
                return True
        except OSError:
            return False

    def output(self) -> str:
        return self.log_path.read_text()

    def lines(self, text: str) -> list[str]:
        """The output's lines that contain the text."""
        return [line for line in self.output().splitlines() if text in line]

    def threads(self) -> int:
        return self.handle.threads()

    def stop(self) -> int:
        """SIGTERM; the exit code (subprocess.TimeoutExpired if it is still running 10 s on)."""
        code = self.handle.stop(timeout=10, kill=False)
        assert code is not None
        return code


def ready(sidecar: Sidecar, generation: int = 1) -> None:
    """Waits until the sidecar serves credentials of the generation."""
    wait_until(lambda: sidecar.listening() and sidecar.serves(generation), what="credentials")


class Launcher:
    """Starts sidecar processes and checks, at the end, that none printed a secret."""

    def __init__(self, tmp_path: Path, api: FakeCedana) -> None:
        self.tmp_path, self.api = tmp_path, api
        self.started: list[Sidecar] = []
        self.credentials_file = tmp_path / "credentials" / "aws-credentials"
        self.token_file = tmp_path / "endpoint-token"
        # No trailing newline: the AWS SDKs refuse a token that is not a legal header value.
        self.token_file.write_text(ENDPOINT_TOKEN)

    def start(self, **overrides: str) -> Sidecar:
        endpoint_port, health_port = free_port(), free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "CEDANA_URL": self.api.url,
            "CEDANA_AUTH_TOKEN": AUTH_TOKEN,
            "CLUSTER_ID": CLUSTER_ID,
            "REFRESH_INTERVAL": "45m",
            "CREDENTIALS_FILE": str(self.credentials_file),
            "CREDENTIALS_ENDPOINT": f"127.0.0.1:{endpoint_port}",
            "CREDENTIALS_AUTH_TOKEN_FILE": str(self.token_file),
            "HEALTH_PORT": str(health_port),
            "S3_BUCKET": self.api.bucket,
            "REQUEST_TIMEOUT": "2s",
            "RETRY_INITIAL_DELAY": "100ms",
            "RETRY_MAX_DELAY": "800ms",
            # The production floor (5s) between calls to the API would slow every test down;
            # the tests of the floor set it themselves.
            "MIN_REFRESH_DELAY": "50ms",
        }
        env.update(overrides)
        if "MUTANT_UNDER_TEST" in os.environ:
            # bench/mutation.py: the refresher's own process runs the mutant under test too.
            env["MUTANT_UNDER_TEST"] = os.environ["MUTANT_UNDER_TEST"]
        log_path = self.tmp_path / f"sidecar-{len(self.started)}.log"
        handle = Process(log_path.stem, [PYTHON, str(SCRIPT)], env, log_path)
        handle.start()
        sidecar = Sidecar(
            handle, endpoint_port, health_port, log_path, self.credentials_file, self.token_file
        )
        self.started.append(sidecar)
        return sidecar

    def finish(self) -> None:
        for sidecar in self.started:
            sidecar.stop()
            text = sidecar.output()
            for secret in {AUTH_TOKEN, ENDPOINT_TOKEN, *self.api.issued}:
                assert secret not in text, f"a secret reached the sidecar's output:\n{text}"


def s3_client_through(sidecar: Sidecar, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(sidecar.log_path.parent / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(sidecar.log_path.parent / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", sidecar.endpoint)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(sidecar.token_file))
    session = boto3.Session(botocore_session=botocore.session.Session(), region_name="us-east-1")
    return session.client("s3", endpoint_url=endpoint)
