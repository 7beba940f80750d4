"""Pulumi.yaml's `config:` block, generated from the settings model.

The block is what users read (and what the CLI enforces: types, required keys, secrets), so it
is written from the one declaration of each setting: `scripts/pulumi_config.py` rewrites it and
a test checks that the file is up to date.
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from components.config import declarations

CONFIG_LINE = "config:\n"


def config_block() -> dict[str, dict[str, Any]]:
    """Key -> Pulumi declaration (type, items, secret, default, description)."""
    block: dict[str, dict[str, Any]] = {}
    for config_key, setting in declarations().items():
        declaration: dict[str, Any] = {"type": setting.type}
        if setting.items:
            declaration["items"] = {"type": setting.items}
        if setting.required:
            # The CLI refuses a stack without this key, and refuses `secret: true` with a
            # default, so only required secrets are declared secret (the program refuses the
            # others in plain text).
            if setting.secret:
                declaration["secret"] = True
        else:
            declaration["default"] = setting.default
        declaration["description"] = setting.description
        block[config_key] = declaration
    return block


def _value(value: Any) -> str:
    """A default in YAML's flow style, on one line where it fits."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()
    )


def _declaration(config_key: str, declaration: dict[str, Any]) -> list[str]:
    lines = [f"  {config_key}:", f"    type: {declaration['type']}"]
    if "items" in declaration:
        lines += ["    items:", f"      type: {declaration['items']['type']}"]
    if declaration.get("secret"):
        lines.append("    secret: true")
    default = declaration.get("default", ...)
    if isinstance(default, dict) and default and all(isinstance(v, dict) for v in default.values()):
        lines.append("    default:")
        lines += [f"      {k}: {_value(v)}" for k, v in default.items()]
    elif isinstance(default, list) and default:
        lines.append("    default:")
        lines += [f"      - {_value(item)}" for item in default]
    elif default is not ...:
        lines.append(f"    default: {_value(default)}")
    description = declaration["description"]
    if len(description) <= 80 and ": " not in description and not description.startswith("`"):
        lines.append(f"    description: {description}")
    else:
        lines.append("    description: >-")
        lines += textwrap.wrap(
            description,
            94,
            initial_indent=" " * 6,
            subsequent_indent=" " * 6,
            break_on_hyphens=False,
        )
    return lines


def render() -> str:
    """The `config:` block as Pulumi.yaml holds it, one commented section per group."""
    lines = [CONFIG_LINE.rstrip("\n")]
    for config_key, declaration in config_block().items():
        group = declarations()[config_key].group
        if group:
            if len(lines) > 1:
                lines.append("")
            lines.append(f"  # --- {group} ".ljust(97, "-"))
        lines += _declaration(config_key, declaration)
    return "\n".join(lines) + "\n"


def with_config_block(pulumi_yaml: str) -> str:
    """Pulumi.yaml with its `config:` block (the end of the file) replaced by `render()`."""
    head, found, _ = pulumi_yaml.partition("\n" + CONFIG_LINE)
    if not found:
        raise ValueError("Pulumi.yaml has no top-level `config:` block")
    return head + "\n" + render()
