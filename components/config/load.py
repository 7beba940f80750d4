"""A stack's raw config through the settings model: the typed `Settings`, or one `ConfigError`
naming every bad key, its problem and its fix (`problem_from` translates pydantic's errors)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from components.common.names import PROJECT
from components.config.model import Settings
from components.config.schema import Declaration, declarations, nested

WHOLE_NUMBER, TRUE_OR_FALSE = "must be a whole number", "must be true or false"
WORDS = {
    "missing": "is required but not set",
    **dict.fromkeys(("bool_type", "bool_parsing"), TRUE_OR_FALSE),
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), WHOLE_NUMBER),
    "string_type": "must be a string",
}


class ConfigSource(Protocol):
    """Where raw settings come from: Pulumi config at run time, a mapping in tests."""

    def get(self, key: str) -> str | None: ...

    def is_secret(self, key: str) -> bool: ...

    def configured_keys(self) -> Iterable[str]: ...  # the project's keys, without its prefix


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key}: {self.problem}\n    fix: {self.fix}"


class ConfigError(Exception):
    """One or more configuration mistakes; the message names every key and its fix."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration for {PROJECT}:\n{lines}")

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


def load_settings(source: ConfigSource) -> Settings:
    """Builds the settings from raw config, or raises ConfigError naming every bad key."""
    given = {k: v for k in source.configured_keys() if (v := source.get(k)) is not None}
    problems = [
        Problem(k, "is stored in plain text; it must be encrypted in the stack file", d.fix())
        for k, d in declarations().items()
        if d.secret and given.get(k, "").strip() and not source.is_secret(k)
    ]
    try:
        settings = Settings.model_validate_json(
            json.dumps({k: decoded(k, v) for k, v in given.items()})
        )
    except ValidationError as error:
        raise ConfigError(problems + [problem_from(e) for e in error.errors()]) from None
    if problems:
        raise ConfigError(problems)
    return settings


def decoded(key: str, raw: str) -> object:
    """A raw value as its setting's type reads it. Pulumi hands every value over as text
    (objects and arrays as JSON); what does not decode stays text, and pydantic says why."""
    setting = declarations().get(key)
    if setting is None or setting.type == "string":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _words(error: ErrorDetails, setting: Declaration, path: tuple[str | int, ...]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in WORDS:
        return WORDS[kind]
    if kind == "rule":
        return str(ctx["problem"])
    if kind in ("greater_than_equal", "less_than_equal"):
        bounds = Settings.model_json_schema()["properties"][setting.key]
        low, high = bounds.get("minimum"), bounds.get("maximum")
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        return f"must be at least {low}" if high is None else f"must be at most {high}"
    if kind in ("enum", "literal_error"):
        return "must be one of " + str(ctx["expected"]).replace("'", "").replace(" or ", ", ")
    if kind == "extra_forbidden":
        fields = nested(setting.key, path[:-1]).get("properties", {})
        return f"is not one of its fields ({', '.join(fields)})"
    if kind.endswith(("dict_type", "model_type", "model_attributes_type")):
        return f"must be an object such as {setting.example}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list such as {setting.example}"
    return str(error["msg"])


def problem_from(error: ErrorDetails) -> Problem:
    """One pydantic error as a Problem: the key, what is wrong (down to the field inside an
    object), and the exact command that fixes it."""
    first, *inside = error["loc"]
    known = declarations()
    # Errors on given values name the key (`authToken`), rules across settings the field.
    key = next((d.key for d in known.values() if str(first) in (d.key, d.field)), str(first))
    path = tuple(inside)
    if error["type"] == "extra_forbidden" and not path:
        return unknown_key(key)
    setting = known[key]
    words, value = _words(error, setting, path), error.get("input")
    shown = isinstance(value, str | int) and not isinstance(value, bool) and not setting.secret
    if shown and error["type"] not in ("missing", "extra_forbidden") and repr(value) not in words:
        # A URL's user and password are never echoed.
        words = f"{words} (got {re.sub(r'//[^/@]*@', '//***@', repr(value))})"
    fix = (error.get("ctx") or {}).get("fix")
    if path and path[-1] == "[key]":
        pass  # a map's key: the rule's words name it
    elif path and setting.type == "object" and not setting.fields:
        words = f"the value of {path[0]!r} {words}"
    elif path:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        words = f"{where.lstrip('.')} {words}"
        leaf = nested(key, path)
        example = leaf.get("examples", [None])[0] if leaf.get("type") != "object" else None
        fix = fix or (setting.fix(where, str(example)) if example else None)
    return Problem(key, words, fix or setting.fix())


def unknown_key(key: str) -> Problem:
    """A key under the project's namespace that is not a setting, with the closest one."""
    known = declarations()
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(key.lower(), by_lower, n=1, cutoff=0.6)
    remove = f"pulumi config rm {PROJECT}:{key}"
    if not close:
        return Problem(key, f"is not a setting of {PROJECT} (see Pulumi.yaml)", remove)
    closest = known[by_lower[close[0]]]
    did_you_mean = f"is not a setting of {PROJECT}; did you mean {closest.key}?"
    return Problem(key, did_you_mean, f"{closest.fix()} && {remove}")
