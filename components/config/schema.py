"""Each setting as Pulumi config sees it, read from `Settings.model_json_schema()`: the loader
(how a raw value decodes, which `pulumi config set` fixes it), Pulumi.yaml's `config:` block
and docs/settings.md all come from here, so they cannot disagree."""

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
    fields: tuple[str, ...]  # of an object with named fields (empty for a map)

    def fix(self, path: str = "", example: str | None = None) -> str:
        """The `pulumi config set` that sets this key (or one field inside it)."""
        value = self.example if example is None else example
        if self.type in ("string", "integer", "boolean") and not path:
            flag = "--secret " if self.secret else ""
            return f"pulumi config set {flag}{PROJECT}:{self.key} {value}"
        # Container resources are set field by field, in plain text.
        plaintext = " --plaintext" if "requests" in self.fields else ""
        return f"pulumi config set --path '{PROJECT}:{self.key}{path}'{plaintext} '{value}'"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]])
    choices = [c for c in node.get("anyOf", []) if c.get("type") != "null"]
    return _resolve(schema, choices[0]) if len(choices) == 1 else node


def _example(node: dict[str, Any], resolved: dict[str, Any]) -> str:
    """What the fixing `pulumi config set` shows: the example, else the default."""
    examples = node.get("examples") or resolved.get("examples")
    if examples:
        return str(examples[0])
    if resolved["type"] == "boolean":
        return "true"
    return str(node["default"]) if node.get("default") not in (None, "") else "<value>"


@cache
def declarations() -> dict[str, Declaration]:
    """Config key -> declaration, in the order the model declares the settings."""
    schema = Settings.model_json_schema(mode="serialization")
    fields = {info.alias or name: name for name, info in Settings.model_fields.items()}
    found = {}
    for key, node in schema["properties"].items():
        resolved = _resolve(schema, node)
        items = _resolve(schema, resolved["items"])["type"] if "items" in resolved else None
        default = node.get("default")
        found[key] = Declaration(
            key=key,
            field=fields[key],
            type=resolved["type"],
            items=items,
            required=key in schema.get("required", []),
            secret=resolved.get("writeOnly", False),
            # Pulumi config has no null: an optional string's unset default is "".
            default="" if default is None and resolved["type"] == "string" else default,
            description=" ".join(node.get("description", "").split()),
            example=_example(node, resolved),
            group=node.get("group", ""),
            choices=tuple(resolved.get("enum", ())),
            fields=tuple(nested(key, ()).get("properties", ())),
        )
    return found


def nested(key: str, path: tuple[str | int, ...]) -> dict[str, Any]:
    """The validation schema of a field inside a setting's object or list ({} if none)."""
    schema = Settings.model_json_schema()
    node = _resolve(schema, schema["properties"][key])
    for part in path:
        inner = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
        if inner is None:
            return {}
        node = _resolve(schema, inner)
    return node
