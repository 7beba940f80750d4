"""How raw config values become typed values, with messages a user can act on.

Each setting's annotation carries one `Parse`: its parser, how Pulumi.yaml types it and how a
user sets it. A parser rejects a value with `fail`, whose message names the problem and the
value (never a secret's); the loader adds the key and the fixing `pulumi config set`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NoReturn

from pydantic import SecretStr
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema

from components.common.names import PROJECT
from components.config import rules
from components.config.types import Resources


def fail(problem: str, fix: str | None = None) -> NoReturn:
    """Rejects a value; `fix` replaces the setting's own `pulumi config set` suggestion."""
    raise PydanticCustomError("setting", "{problem}", {"problem": problem, "fix": fix})


@dataclass(frozen=True)
class Parse:
    """A setting's parser, with how Pulumi.yaml types it and how a user sets it.

    `command`: `set` for a scalar, `path` for a JSON value set with `--path`, `path-plaintext`
    for the resource objects (same, with `--plaintext`).
    """

    pulumi_type: str
    function: Callable[[Any], Any]
    items: str | None = None
    command: Literal["set", "path", "path-plaintext"] = "set"
    secret: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.function)


Rule = Callable[[str], str | None]


def _checked_text(
    value: Any, rule: Rule | None, required: bool, shown: Callable[[str], str]
) -> str:
    text = str(value).strip()
    if required and not text:
        fail("is required but not set")
    problem = rule(text) if rule and text else None
    if problem:
        fail(f"{problem} (got {shown(text)})")
    return text


def text(rule: Rule | None = None, *, required: bool = False) -> Parse:
    return Parse("string", lambda v: _checked_text(v, rule, required, repr))


def optional_text(rule: Rule | None = None) -> Parse:
    """Empty means unset: None."""
    return Parse("string", lambda v: _checked_text(v, rule, False, repr) or None)


def secret(rule: Rule | None = None, *, required: bool = False) -> Parse:
    """Never echoed in a message; empty means unset: None."""

    def parse(value: Any) -> SecretStr | None:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        checked = _checked_text(raw, rule, required, lambda _: "a secret value")
        return SecretStr(checked) if checked else None

    return Parse("string", parse, secret=True)


def choice(kind: type[StrEnum]) -> Parse:
    def parse(value: Any) -> StrEnum:
        raw = str(value).strip()
        if raw not in {m.value for m in kind}:
            fail(f"must be one of {', '.join(m.value for m in kind)} (got {raw!r})")
        return kind(raw)

    return Parse("string", parse)


def one_of(choices: tuple[str, ...]) -> Parse:
    return text(lambda v: None if v in choices else f"must be one of {', '.join(choices)}")


def whole(minimum: int, maximum: int | None = None) -> Parse:
    def parse(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            fail(f"must be a whole number (got {str(value)!r})")
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum else f"at least {minimum}"
            fail(f"must be {bound} (got {number})")
        return number

    return Parse("integer", parse)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered not in ("true", "false"):
        fail(f"must be true or false (got {str(value)!r})")
    return lowered == "true"


FLAG = Parse("boolean", _flag)


def _json_or_raw(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def structured(
    pulumi_type: str,
    rule: Callable[[Any], str | None],
    convert: Callable[[Any], Any],
    *,
    items: str | None = None,
    command: Literal["path", "path-plaintext"] = "path",
) -> Parse:
    """A JSON value (objects and arrays reach the program as JSON text)."""

    def parse(value: Any) -> Any:
        loaded = _json_or_raw(value)
        problem = rule(loaded)
        if problem:
            fail(problem)
        return convert(loaded)

    return Parse(pulumi_type, parse, items=items, command=command)


def _to_resources(value: dict[str, Any]) -> Resources:
    return Resources(requests=dict(value["requests"]), limits=dict(value["limits"]))


RESOURCES = structured("object", rules.resources, _to_resources, command="path-plaintext")


def key(field_name: str) -> str:
    """The config key of a field: `aws_region` -> `awsRegion`."""
    return to_camel(field_name)


def set_command(config_key: str, example: str, *, secret: bool = False) -> str:
    flag = "--secret " if secret else ""
    return f"pulumi config set {flag}{PROJECT}:{config_key} {example}"
