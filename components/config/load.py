"""Reads a stack's raw config through the settings model, before any resource is registered.

`load_settings` returns the typed `Settings` or raises one `ConfigError` listing every problem
at once: each names `cedana-monitoring:<key>`, what is wrong, and the exact `pulumi config set`
that fixes it. A key under the project's namespace that is not a setting (a typo such as
`gpumode`) is a problem too, with the closest setting suggested.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from components.common.names import PROJECT
from components.config.errors import ConfigError, Problem
from components.config.model import Settings
from components.config.parse import Parse, key, set_command


class ConfigSource(Protocol):
    """Where raw settings come from: Pulumi config at run time, a mapping in tests."""

    def get(self, key: str) -> str | None: ...

    def is_secret(self, key: str) -> bool: ...

    def configured_keys(self) -> Iterable[str]:
        """Every key set under the project's namespace (without the `cedana-monitoring:`)."""
        ...


@dataclass(frozen=True)
class Declared:
    """One setting as the loader sees it: its key, field and parser."""

    key: str
    name: str
    field: FieldInfo

    @property
    def parse(self) -> Parse:
        return next(m for m in self.field.metadata if isinstance(m, Parse))

    @property
    def example(self) -> str:
        extra = self.field.json_schema_extra
        example = str(extra.get("example", "")) if isinstance(extra, dict) else ""
        return example or "true"  # only flags leave the example out

    def fix(self) -> str:
        """The `pulumi config set` that sets this key."""
        if self.parse.command == "set":
            return set_command(self.key, self.example, secret=self.parse.secret)
        plaintext = " --plaintext" if self.parse.command == "path-plaintext" else ""
        return f"pulumi config set --path '{PROJECT}:{self.key}'{plaintext} '{self.example}'"


def declared_settings() -> dict[str, Declared]:
    """Config key -> declaration, in declaration order."""
    return {
        key(name): Declared(key(name), name, field) for name, field in Settings.model_fields.items()
    }


def load_settings(source: ConfigSource) -> Settings:
    """Builds the settings from raw config, or raises ConfigError naming every bad key."""
    declared = declared_settings()
    raw = {k: source.get(k) for k in source.configured_keys()}
    raw = {k: v for k, v in raw.items() if v is not None}
    problems = [
        Problem(k, "is stored in plain text; it must be encrypted in the stack file", d.fix())
        for k, d in declared.items()
        if d.parse.secret and str(raw.get(k) or "").strip() and not source.is_secret(k)
    ]
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        problems += [_problem(e, declared) for e in error.errors()]
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


def _problem(error: ErrorDetails, declared: dict[str, Declared]) -> Problem:
    # Errors on defaults name the field (`auth_token`), errors on given values the key.
    config_key = key(str(error["loc"][0]))
    if error["type"] == "extra_forbidden":
        return _unknown_key(str(error["loc"][0]), declared)
    setting = declared[config_key]
    if error["type"] == "missing":
        return Problem(config_key, "is required but not set", setting.fix())
    context = error.get("ctx") or {}
    return Problem(config_key, str(error["msg"]), context.get("fix") or setting.fix())


def _unknown_key(config_key: str, declared: dict[str, Declared]) -> Problem:
    by_lower = {k.lower(): k for k in declared}
    close = difflib.get_close_matches(config_key.lower(), by_lower, n=1, cutoff=0.6)
    remove = f"pulumi config rm {PROJECT}:{config_key}"
    if not close:
        return Problem(config_key, f"is not a setting of {PROJECT} (see Pulumi.yaml)", remove)
    suggestion = declared[by_lower[close[0]]]
    return Problem(
        config_key,
        f"is not a setting of {PROJECT}; did you mean {suggestion.key}?",
        f"{suggestion.fix()} && {remove}",
    )


@dataclass(frozen=True)
class MappingSource:
    """A ConfigSource over a plain mapping; values that are not strings are JSON-encoded."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = frozenset()

    def get(self, key: str) -> str | None:
        if key not in self.values:
            return None
        value = self.values[key]
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value)

    def is_secret(self, key: str) -> bool:
        return key in self.secret_keys

    def configured_keys(self) -> Iterable[str]:
        return self.values.keys()
