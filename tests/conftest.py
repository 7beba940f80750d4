"""Shared fixtures: whole-program runs under Pulumi mocks, cached per configuration."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from simulation.mocks import ProgramRun, run_program

BASE = {"s3Bucket": "cedana-metrics-example", "awsRegion": "us-east-1"}

_cache: dict[str, ProgramRun] = {}


def run_with(**overrides: Any) -> ProgramRun:
    """The program under mocks with the base stack plus overrides (each config runs once)."""
    secrets = overrides.pop("secrets", None)
    key = json.dumps([overrides, secrets], sort_keys=True)
    # Under mutmut (bench/mutation.py) every test runs the program itself: mutmut links a test to
    # the code it ran, and a test served from the cache would run none.
    if key not in _cache or "MUTANT_UNDER_TEST" in os.environ:
        _cache[key] = run_program({**BASE, **overrides}, secrets)
    return _cache[key]


@pytest.fixture
def program() -> Callable[..., ProgramRun]:
    return run_with


@pytest.fixture
def default_run() -> ProgramRun:
    return run_with()


@pytest.fixture
def s3_server() -> Iterator[str]:
    """moto's S3 (and STS) server on a port of 127.0.0.1 the kernel picks; yields its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
