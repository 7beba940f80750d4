"""Configuration problems, each naming its key, what is wrong and the command that fixes it.

`problem_from` is the one place where pydantic's errors become messages a user can act on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pydantic_core import ErrorDetails

from components.common.names import PROJECT
from components.config.model import Settings
from components.config.schema import Declaration, declarations, nested_example, nested_fields


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


def _path(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _words(error: ErrorDetails, declaration: Declaration) -> str:
    """What is wrong, in words, for each kind of error pydantic reports."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "rule":
        return str(ctx["problem"])
    if kind == "missing":
        return "is required but not set"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(declaration)
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        return f"must be at least {low}" if low is not None else f"must be at most {high}"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}"
    if kind == "extra_forbidden":
        return "is not a field here"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be an object such as {declaration.example}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list such as {declaration.example}"
    if kind == "string_type":
        return "must be a string"
    return str(error["msg"])


def _bounds(declaration: Declaration) -> tuple[int | None, int | None]:
    low = high = None
    for constraint in Settings.model_fields[declaration.field].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def problem_from(error: ErrorDetails) -> Problem:
    """One pydantic error as a Problem: key, what is wrong (down to the field inside an
    object), and the exact command that fixes it."""
    key, *inside = error["loc"]
    key = str(key)
    known = declarations()
    if key not in known:
        # Errors on defaults name the field (`auth_token`), errors on given values the key.
        key = next((d.key for d in known.values() if d.field == key), key)
    if error["type"] == "extra_forbidden" and not inside:
        return unknown_key(key)
    declaration = known[key]
    words = _words(error, declaration)
    path = tuple(inside)
    if error["type"] == "extra_forbidden":
        allowed = nested_fields(declaration, path[:-1])
        words = f"is not one of its fields ({', '.join(allowed)})"
    value = error.get("input")
    shown = isinstance(value, str | int) and not isinstance(value, bool)
    if (
        shown
        and not declaration.secret
        and error["type"] not in ("missing", "extra_forbidden")
        and repr(value) not in words
    ):
        words = f"{words} (got {value!r})"
    fix = (error.get("ctx") or {}).get("fix")
    if path and path[-1] == "[key]":
        pass  # a map's key: the rule's words name it
    elif path and declaration.type == "object" and declaration.nested_model is None:
        words = f"the value of {path[0]!r} {words}"
    elif path:
        words = f"{_path(path).lstrip('.')} {words}"
        leaf = nested_example(declaration, path)
        fix = fix or (declaration.fix(_path(path), leaf) if leaf else None)
    return Problem(key, words, fix or declaration.fix())


def unknown_key(key: str) -> Problem:
    """A key under the project's namespace that is not a setting, with the closest one."""
    known = declarations()
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(key.lower(), by_lower, n=1, cutoff=0.6)
    remove = f"pulumi config rm {PROJECT}:{key}"
    if not close:
        return Problem(key, f"is not a setting of {PROJECT} (see Pulumi.yaml)", remove)
    suggestion = known[by_lower[close[0]]]
    return Problem(
        key,
        f"is not a setting of {PROJECT}; did you mean {suggestion.key}?",
        f"{suggestion.fix()} && {remove}",
    )
