"""Each setting as Pulumi config sees it, read from `Settings.model_json_schema()`.

The loader (how a raw value is decoded, which `pulumi config set` fixes it), Pulumi.yaml's
`config:` block and docs/settings.md all come from here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from components.common.names import PROJECT
from components.config.model import Settings

PulumiType = Literal["string", "integer", "boolean", "array", "object"]


@dataclass(frozen=True)
class Declaration:
    key: str
    field: str
    type: PulumiType
    items: PulumiType | None
    required: bool
    secret: bool
    default: Any
    description: str
    example: str
    group: str
    choices: tuple[str, ...]
    # Container resources are objects set field by field: `--path … --plaintext`.
    nested_model: str | None

    def fix(self, path: str = "", example: str | None = None) -> str:
        """The `pulumi config set` that sets this key (or one field inside it)."""
        value = self.example if example is None else example
        if self.type in ("string", "integer", "boolean") and not path:
            flag = "--secret " if self.secret else ""
            return f"pulumi config set {flag}{PROJECT}:{self.key} {value}"
        plaintext = " --plaintext" if self.nested_model == "Resources" else ""
        return f"pulumi config set --path '{PROJECT}:{self.key}{path}'{plaintext} '{value}'"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]])
    choices = [c for c in node.get("anyOf", []) if c.get("type") != "null"]
    return _resolve(schema, choices[0]) if len(choices) == 1 else node


def _model_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref") or next((c["$ref"] for c in node.get("anyOf", []) if "$ref" in c), "")
    return ref.rsplit("/", 1)[1] if ref else None


def _example(kind: PulumiType, node: dict[str, Any], resolved: dict[str, Any]) -> str:
    """What the fixing `pulumi config set` shows: the example, else the default."""
    examples = node.get("examples") or resolved.get("examples") or []
    if examples:
        return str(examples[0])
    if kind == "boolean":
        return "true"
    return str(node["default"]) if node.get("default") not in (None, "") else "<value>"


def _config_default(kind: PulumiType, node: dict[str, Any]) -> Any:
    # Pulumi config has no null: an optional string's unset default is "".
    default = node.get("default")
    return "" if default is None and kind == "string" and "default" in node else default


@cache
def declarations() -> dict[str, Declaration]:
    """Config key -> declaration, in the order the model declares the settings."""
    schema = Settings.model_json_schema(mode="serialization")
    required = set(schema.get("required", []))
    fields = {info.alias or name: name for name, info in Settings.model_fields.items()}
    found = {}
    for key, node in schema["properties"].items():
        resolved = _resolve(schema, node)
        kind: PulumiType = resolved["type"]
        items = _resolve(schema, resolved["items"])["type"] if kind == "array" else None
        found[key] = Declaration(
            key=key,
            field=fields[key],
            type=kind,
            items=items,
            required=key in required,
            secret=resolved.get("writeOnly", False),
            default=_config_default(kind, node),
            description=" ".join(node.get("description", "").split()),
            example=_example(kind, node, resolved),
            group=node.get("group", ""),
            choices=tuple(resolved.get("enum", ())),
            nested_model=_model_name(node),
        )
    return found


def _nested(declaration: Declaration, path: tuple[str | int, ...]) -> dict[str, Any]:
    """The schema of a field inside a setting's object or list ({} when there is none)."""
    schema = Settings.model_json_schema(mode="validation")
    node = _resolve(schema, schema["properties"][declaration.key])
    for part in path:
        inner = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
        if inner is None:
            return {}
        node = _resolve(schema, inner)
    return node


def nested_fields(declaration: Declaration, path: tuple[str | int, ...]) -> list[str]:
    """The fields an object inside a setting may have."""
    return list(_nested(declaration, path).get("properties", {}))


def nested_example(declaration: Declaration, path: tuple[str | int, ...]) -> str | None:
    """The example of a field inside a setting's object (requests.cpu -> 100m), if any."""
    node = _nested(declaration, path)
    examples = node.get("examples")
    return str(examples[0]) if examples and node.get("type") != "object" else None
