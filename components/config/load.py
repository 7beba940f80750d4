"""Reads a stack's raw config through the settings model, before any resource is registered.

`load_settings` returns the typed `Settings` or raises one `ConfigError` listing every problem
at once: each names `cedana-monitoring:<key>`, what is wrong, and the exact `pulumi config set`
that fixes it. A key under the project's namespace that is not a setting (a typo such as
`gpumode`) is a problem too, with the closest setting suggested. The rules across settings
(a mode's requirements) are checked once every setting is valid on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from components.config.errors import ConfigError, Problem, problem_from
from components.config.model import Settings
from components.config.schema import declarations


class ConfigSource(Protocol):
    """Where raw settings come from: Pulumi config at run time, a mapping in tests."""

    def get(self, key: str) -> str | None: ...

    def is_secret(self, key: str) -> bool: ...

    def configured_keys(self) -> Iterable[str]:
        """Every key set under the project's namespace (without the `cedana-monitoring:`)."""
        ...


def decoded(key: str, raw: str) -> Any:
    """A raw config value as its setting's type reads it. Pulumi hands every value over as
    text, objects and arrays as JSON; anything that does not decode stays text, and pydantic
    then says what it should have been."""
    declaration = declarations().get(key)
    if declaration is None or declaration.type == "string":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_settings(source: ConfigSource) -> Settings:
    """Builds the settings from raw config, or raises ConfigError naming every bad key."""
    raw = {k: source.get(k) for k in source.configured_keys()}
    given = {k: v for k, v in raw.items() if v is not None}
    problems = [
        Problem(k, "is stored in plain text; it must be encrypted in the stack file", d.fix())
        for k, d in declarations().items()
        if d.secret and given.get(k, "").strip() and not source.is_secret(k)
    ]
    document = json.dumps({k: decoded(k, v) for k, v in given.items()})
    try:
        settings = Settings.model_validate_json(document)
    except ValidationError as error:
        problems += [problem_from(e) for e in error.errors()]
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return settings


@dataclass(frozen=True)
class MappingSource:
    """A ConfigSource over a plain mapping; values that are not strings are JSON-encoded."""

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
