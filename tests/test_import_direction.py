"""DESIGN.md's import direction: dashboard, scheduler -> forecast -> signals; never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("forecast", "signals", "scheduler", "dashboard", "migrations")
# package -> top-level names it may not import at module level
FORBIDDEN = {
    "signals": {"forecast", "scheduler", "dashboard", "streamlit", "apscheduler", "migrations"},
    "forecast": {"scheduler", "dashboard", "streamlit", "apscheduler"},
    "scheduler": {"dashboard", "streamlit"},
    "dashboard": {"scheduler", "apscheduler"},
    "migrations": {"scheduler", "dashboard", "streamlit", "apscheduler"},
}
LAZY_ALLOWED = {"forecast/cli"}  # commands may import scheduler/dashboard inside the function that starts them


def _imports(tree: ast.AST, *, module_level_only: bool) -> list[tuple[int, str]]:
    nodes = tree.body if module_level_only else list(ast.walk(tree))  # type: ignore[attr-defined]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(root: Path) -> list[str]:
    """Every import that points the wrong way, as `path:line imports name`."""
    problems = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            lazy_ok = any(relative.startswith(p) for p in LAZY_ALLOWED)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, name in _imports(tree, module_level_only=lazy_ok):
                if name in FORBIDDEN[package]:
                    problems.append(f"{relative}:{line} imports {name}")
    return problems


def test_no_import_points_the_wrong_way() -> None:
    assert violations(ROOT) == []


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "signals" / "bad.py").write_text("from forecast.storage import repo\n")
    (tmp_path / "forecast" / "bad.py").write_text("def f():\n    import streamlit\n")
    assert violations(tmp_path) == ["forecast/bad.py:2 imports streamlit", "signals/bad.py:1 imports forecast"]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exists(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists()
