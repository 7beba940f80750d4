"""Configuration problems, each naming its key, what is wrong and the command that fixes it."""

from __future__ import annotations

from dataclasses import dataclass

from components.common.names import PROJECT


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
