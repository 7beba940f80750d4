"""docs/settings.md, the settings reference, generated from the settings model.

Every setting with its key, type, default, whether it is secret, its description and an
example `pulumi config set`, grouped as Pulumi.yaml groups them. `scripts/pulumi_config.py`
writes it beside Pulumi.yaml's `config:` block; a test fails while either is stale.
"""

from __future__ import annotations

import json
from typing import Any

from components.config import Declaration, declarations

HEADER = """# Settings reference

<!-- GENERATED from the settings model (components/config/model.py) by
scripts/pulumi_config.py: edit the model, then run the script. -->

Every setting is a key under `cedana-monitoring:` in the stack's config
(`Pulumi.<stack>.yaml`), set with `pulumi config set`. Secrets are set with `--secret` and are
refused in plain text; objects and lists are set with `--path` and JSON. A mistyped key, a bad
value or a missing requirement stops `pulumi preview` before anything is registered, naming the
key and the command that fixes it. Required in every stack: {required}.
"""


def _default(setting: Declaration) -> str:
    if setting.required:
        return "required"
    value: Any = setting.default
    if value == "":
        return "unset"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return f"`{text}`"


def _type(setting: Declaration) -> str:
    if setting.choices:
        return "one of " + ", ".join(f"`{c}`" for c in setting.choices)
    return f"{setting.type} of {setting.items}s" if setting.items else setting.type


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    settings = list(declarations().values())
    required = ", ".join(f"`{s.key}`" for s in settings if s.required)
    lines = [HEADER.format(required=required).rstrip("\n")]
    for setting in settings:
        if setting.group:
            lines += ["", f"## {setting.group}", ""]
            lines += [
                "| key | type | default | secret | description | example |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
        lines.append(
            f"| `{setting.key}` | {_type(setting)} | {_cell(_default(setting))}"
            f" | {'yes' if setting.secret else ''} | {_cell(setting.description)}"
            f" | `{_cell(setting.fix())}` |"
        )
    return "\n".join(lines) + "\n"
