"""Which cluster and namespace a stack deploys to, and the rest of its settings, for verify.

The stack: `--stack`, else the selected one (Pulumi's Automation API, when the `pulumi` CLI is
installed and logged in), else the only `Pulumi.<stack>.yaml`. Its settings: the stack file
merged over Pulumi.yaml's defaults as the CLI merges them (scripts/stack_files.py), parsed by
the program's own settings model. Secrets are never decrypted: verify needs none, so each
encrypted value is replaced by a placeholder of the right shape before the model reads it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.common.names import PROJECT
from components.config import ConfigError, Settings, load_settings
from scripts.stack_files import (
    ROOT,
    MappingSource,
    MissingConfigError,
    project_config,
    stack_config,
    stack_files,
    stack_name,
    stack_values,
)

# Placeholders for encrypted values: never sent anywhere, only shaped to pass the model.
PLACEHOLDERS = {"clusterId": "00000000-0000-4000-8000-000000000000"}
PLACEHOLDER = "verify-placeholder-not-a-secret"


class StackError(Exception):
    """The stack cannot be verified as configured: the message says what to do."""


@dataclass(frozen=True)
class Target:
    stack: str
    settings: Settings

    @property
    def context(self) -> str | None:
        """The kubeconfig context (None: the kubeconfig's current one)."""
        return self.settings.kube_context

    @property
    def namespace(self) -> str:
        return self.settings.namespace


def selected_stack(root: Path = ROOT) -> str | None:
    """The stack `pulumi stack select` chose, if the CLI is there and can say."""
    if shutil.which("pulumi") is None:
        return None
    try:
        from pulumi import automation as auto  # noqa: PLC0415 - only this path needs the CLI

        summary = auto.LocalWorkspace(work_dir=str(root)).stack()
    except Exception:  # no backend login, no project: fall back to the stack files
        return None
    return summary.name.split("/")[-1] if summary else None


def choose_stack(stack: str | None, root: Path = ROOT) -> str:
    names = [stack_name(p) for p in stack_files(root)]
    if stack:
        return stack
    selected = selected_stack(root)
    if selected:
        return selected
    if len(names) == 1:
        return names[0]
    listed = ", ".join(names) or "none"
    raise StackError(f"no stack selected: pass --stack NAME (stack files: {listed})")


def _encrypted_keys(path: Path) -> set[str]:
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    prefix = f"{PROJECT}:"
    return {
        key.removeprefix(prefix)
        for key, value in config.items()
        if key.startswith(prefix) and isinstance(value, dict) and "secure" in value
    }


def stack_settings(stack: str, root: Path = ROOT) -> Settings:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackError(
            f"no Pulumi.{stack}.yaml in {root}: run verify from the project, or pass --stack"
        )
    declared: dict[str, dict[str, Any]] = project_config(root)
    encrypted = _encrypted_keys(path)
    required_secrets = {k for k, d in declared.items() if d.get("secret") and "default" not in d}
    secrets = {k: PLACEHOLDERS.get(k, PLACEHOLDER) for k in encrypted | required_secrets}
    try:
        config = stack_config(stack_values(path), secrets, root)
        return load_settings(MappingSource(config.values, config.secret_keys))
    except MissingConfigError as error:
        raise StackError(f"stack {stack}: {error}") from None
    except ConfigError as error:
        raise StackError(f"stack {stack}: {error}") from None


def target(stack: str | None, root: Path = ROOT) -> Target:
    name = choose_stack(stack, root)
    return Target(name, stack_settings(name, root))
