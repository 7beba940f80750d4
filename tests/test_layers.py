"""The layers stay straight: common/ below config/ below the parts, each importing only what is
below it, and one ComponentResource per module."""

from __future__ import annotations

import ast
from pathlib import Path

from simulation.mocks import ROOT

COMPONENTS = ROOT / "components"
PARTS = sorted(p.name for p in COMPONENTS.iterdir() if (p / "component.py").exists())


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_common_imports_nothing_above_it() -> None:
    for path in sorted((COMPONENTS / "common").glob("*.py")):
        above = {m for m in imported(path) if m.startswith("components.")}
        assert {m for m in above if not m.startswith("components.common")} == set(), path.name


def test_the_settings_import_no_part_and_no_pulumi() -> None:
    for path in sorted((COMPONENTS / "config").glob("*.py")):
        modules = imported(path)
        assert not {m for m in modules if m.split(".")[0].startswith("pulumi")}, path.name
        parts = {m.split(".")[1] for m in modules if m.startswith("components.")}
        assert parts <= {"config", "common", "catalog"}, path.name


def test_each_part_has_one_component_per_module() -> None:
    assert len(PARTS) >= 9
    for part in PARTS:
        for path in sorted((COMPONENTS / part).glob("*.py")):
            tree = ast.parse(path.read_text())
            components = [
                node.name
                for node in tree.body
                if isinstance(node, ast.ClassDef)
                and any(ast.unparse(base) == "pulumi.ComponentResource" for base in node.bases)
            ]
            expected = 1 if path.name == "component.py" else 0
            assert len(components) == expected, (path, components)
