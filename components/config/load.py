"""Reads a stack's raw config through the settings model, before any resource is registered.

`load_settings` returns the typed `Settings` or raises one `ConfigError` listing every problem
at once (the rules across settings once every setting is valid on its own): each names
`cedana-monitoring:<key>`, what is wrong, and the exact `pulumi config set` that fixes it. A
key that is no setting (a typo such as `gpumode`) is a problem too, with the closest setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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
    """A raw value as its setting's type reads it. Pulumi hands every value over as text
    (objects and arrays as JSON); what does not decode stays text, and pydantic says why."""
    setting = declarations().get(key)
    if setting is None or setting.type == "string":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


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
