"""Pulumi.yaml's config block and the stack files, merged the way the Pulumi CLI merges them.

The CLI applies each declared default the stack does not set, refuses a stack that lacks a key
without default, and refuses a plain value for a key declared `secret: true`. Tests, the budget
script and the multi-cluster script use this to read a stack without the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.common.names import PROJECT

ROOT = Path(__file__).resolve().parents[1]


class MissingConfigError(Exception):
    """What the CLI reports before running the program: a required key is not set."""


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, Any]
    secret_keys: frozenset[str]


def project_config(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """The `config:` block of Pulumi.yaml."""
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["config"]


def stack_files(root: Path = ROOT) -> list[Path]:
    return sorted(root.glob("Pulumi.*.yaml"))


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def stack_values(path: Path) -> dict[str, Any]:
    """The stack file's own plain values, without the project prefix (secure ones skipped)."""
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    values = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace == PROJECT and not (isinstance(value, dict) and "secure" in value):
            values[name] = value
    return values


def stack_config(
    values: Mapping[str, Any], secrets: Mapping[str, str], root: Path = ROOT
) -> StackConfig:
    """Project defaults merged under the stack's values and secrets, as the CLI merges them."""
    declared = project_config(root)
    merged: dict[str, Any] = {**values, **secrets}
    missing = sorted(k for k, d in declared.items() if k not in merged and "default" not in d)
    if missing:
        raise MissingConfigError(f"Stack is missing configuration values {missing}")
    for key, declaration in declared.items():
        merged.setdefault(key, declaration.get("default"))
        if declaration.get("secret") and key not in secrets:
            raise MissingConfigError(f"configuration key '{key}' must be encrypted as it's secret")
    return StackConfig(merged, frozenset(secrets))


@dataclass(frozen=True)
class MappingSource:
    """The settings loader's ConfigSource over a plain mapping (values that are not strings
    are JSON-encoded, as the CLI hands them over)."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = frozenset()

    def get(self, key: str) -> str | None:
        if key not in self.values:
            return None
        value = self.values[key]
        return value if isinstance(value, str) else json.dumps(value)

    def is_secret(self, key: str) -> bool:
        return key in self.secret_keys

    def configured_keys(self) -> Iterable[str]:
        return self.values.keys()
