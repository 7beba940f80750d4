"""The figures the lab and the simulated cluster print: a two-column Markdown table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def figures_table(figures: Mapping[str, Any]) -> str:
    """One row per figure; a dict or list value as one line of JSON."""
    rows = ["| figure | value |", "| --- | --- |"]
    for key, value in figures.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else value
        rows.append(f"| {key} | {shown} |")
    return "\n".join(rows)
