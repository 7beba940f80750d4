"""Vector's VRL compiler, from the suite: runs tests/support/vrl_runner.py in `.venv-vrl`.

`vector-vrl` ships wheels for CPython 3.12+ only, so scripts/test gives it a virtualenv of its
own (from the newest Python >= 3.12 it finds) and the suite talks to it over JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VRL_PYTHON = ROOT / ".venv-vrl" / "bin" / "python"
RUNNER = Path(__file__).with_name("vrl_runner.py")


def run_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(VRL_PYTHON), str(RUNNER)],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(result.stdout))


def interpolate(text: str, env: dict[str, str]) -> str:
    """`${VAR}` replaced as Vector does when it loads a config (a missing one is an error)."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env[m.group(1)], text)


def chain_to_sink(config: dict[str, Any], source: str) -> list[list[str]]:
    """Every path of transform names from a source to a sink, in order."""
    transforms = config.get("transforms", {})
    consumers: dict[str, list[str]] = {}
    for name, component in {**transforms, **config["sinks"]}.items():
        for upstream in component["inputs"]:
            consumers.setdefault(upstream, []).append(name)

    def paths(name: str) -> list[list[str]]:
        if name in config["sinks"]:
            return [[]]
        found = []
        for consumer in consumers.get(name, []):
            for rest in paths(consumer):
                found.append(([consumer] if consumer in transforms else []) + rest)
        return found

    return paths(source)


def steps(config: dict[str, Any], names: list[str], env: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for name in names:
        transform = config["transforms"][name]
        if transform["type"] == "filter":
            out.append({"filter": interpolate(transform["condition"], env)})
        else:
            out.append({"remap": interpolate(transform["source"], env)})
    return out
