"""DESIGN.md's import direction: dashboard, scheduler -> forecast -> signals; never the other way.

Inside `forecast` too: every part (subpackage or top-level module) may import only the parts below
it (`LAYERS`), at module level or inside a function, absolutely or relatively.
"""

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

FACADE = "forecast"
"""The package's own `__init__` (`from forecast import Forecaster`): it re-exports from the parts, so it
sits above all of them but the CLI."""
_BASE = frozenset({"errors", "settings", "version"})
LAYERS: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "version": frozenset(),
    "settings": frozenset({"errors"}),
    "series_shape": frozenset({"errors"}),
    "storage": frozenset({"errors", "settings"}),
    "models": frozenset({"errors", "settings"}),
    "ingest": frozenset({"errors", "settings", "storage"}),
    "features": _BASE | {"storage", "series_shape"},
    "pipeline": _BASE | {"storage", "series_shape", "features", "models"},
    "backtest": _BASE | {"storage", "series_shape", "features", "models", "pipeline"},
    "scenarios": _BASE | {"storage", "series_shape", "features", "models", "pipeline"},
    "demo": _BASE | {"storage", "ingest"},
    FACADE: _BASE | {"storage", "series_shape", "features", "models", "ingest", "pipeline", "backtest", "scenarios",
                     "demo"},
    "cli": _BASE | {"storage", "series_shape", "features", "models", "ingest", "pipeline", "backtest", "scenarios",
                    "demo", FACADE},
}
"""Part of `forecast` -> the parts it may import (its own modules are always allowed). Storage sits on
settings and errors only; models never touch storage; the nightly run (`pipeline`) owns selection
and reconciliation, and `backtest` and `scenarios` use it, never the reverse; nothing imports `cli`."""


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


def _part(root: Path, dotted: str) -> str:
    """The part of `forecast` that module `dotted` (`forecast.x.y`, or a name imported from `forecast`) is in."""
    names = dotted.split(".")
    if len(names) == 1:
        return FACADE
    package = root / FACADE / names[1]
    return names[1] if (package / "__init__.py").exists() or package.with_suffix(".py").exists() else FACADE


def _forecast_imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import of `forecast` in `path`, anywhere in it; relative imports
    resolved against the file's package, `from forecast import x` as `forecast.x`."""
    package = path.relative_to(root).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = [*package[:len(package) - node.level + 1], *(node.module or "").split(".")] if node.level else \
                (node.module or "").split(".")
            module = ".".join(n for n in base if n)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names] if module == FACADE else \
                [(node.lineno, module)]
    return [(line, name) for line, name in found if name == FACADE or name.startswith(FACADE + ".")]


def layer_violations(root: Path) -> list[str]:
    """Every import inside `forecast` from a part to one it may not use (`LAYERS`), as
    `path:line imports module (part may import only ...)`, and every part that has no rule."""
    problems = []
    for path in sorted((root / FACADE).rglob("*.py")):
        relative = path.relative_to(root / FACADE)
        part = FACADE if relative.as_posix() == "__init__.py" else relative.with_suffix("").parts[0]
        if part not in LAYERS:
            problems.append(f"{FACADE}/{relative.as_posix()}: {part} has no rule in LAYERS")
            continue
        for line, module in _forecast_imports(path, root):
            target = _part(root, module)
            if target != part and target not in LAYERS[part]:
                allowed = ", ".join(sorted(LAYERS[part])) or "nothing of forecast"
                problems.append(f"{FACADE}/{relative.as_posix()}:{line} imports {module} ({part} may import only {allowed})")
    return problems


def test_no_import_points_the_wrong_way() -> None:
    assert violations(ROOT) == []


def test_no_part_of_forecast_imports_one_above_it() -> None:
    assert layer_violations(ROOT) == []


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "signals" / "bad.py").write_text("from forecast.storage import repo\n")
    (tmp_path / "forecast" / "bad.py").write_text("def f():\n    import streamlit\n")
    assert violations(tmp_path) == ["forecast/bad.py:2 imports streamlit", "signals/bad.py:1 imports forecast"]


def test_the_layer_checker_catches_a_wrong_way_import_inside_forecast(tmp_path: Path) -> None:
    forecast = tmp_path / "forecast"
    for part in ("storage", "models", "pipeline", "backtest", "cli", "scenarios"):
        (forecast / part).mkdir(parents=True)
        (forecast / part / "__init__.py").write_text("")
    (forecast / "__init__.py").write_text("from forecast.pipeline import run\n")
    (forecast / "errors.py").write_text("")
    (forecast / "storage" / "repo.py").write_text("from forecast.pipeline.run import run_forecast\n")
    (forecast / "models" / "base.py").write_text("def f():\n    from forecast.storage import repo\n")
    (forecast / "pipeline" / "run.py").write_text("from ..backtest import config\nfrom . import selection\n")
    (forecast / "backtest" / "config.py").write_text("from forecast.pipeline import run\nimport forecast.errors\n")
    (forecast / "scenarios" / "run.py").write_text("from forecast import cli\n")
    (forecast / "cli" / "main.py").write_text("from forecast import Forecaster\nfrom forecast.backtest import config\n")
    (forecast / "newpart.py").write_text("")
    assert layer_violations(tmp_path) == [
        "forecast/models/base.py:2 imports forecast.storage (models may import only errors, settings)",
        "forecast/newpart.py: newpart has no rule in LAYERS",
        "forecast/pipeline/run.py:1 imports forecast.backtest (pipeline may import only errors, features, models, "
        "series_shape, settings, storage, version)",
        "forecast/scenarios/run.py:1 imports forecast.cli (scenarios may import only errors, features, models, "
        "pipeline, series_shape, settings, storage, version)",
        "forecast/storage/repo.py:1 imports forecast.pipeline.run (storage may import only errors, settings)",
    ]


def test_every_part_of_forecast_has_a_layer() -> None:
    parts = {p.stem for p in (ROOT / FACADE).glob("*.py") if p.name != "__init__.py"}
    parts |= {p.parent.name for p in (ROOT / FACADE).glob("*/__init__.py")}
    assert parts | {FACADE} == set(LAYERS)


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_exists(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists()
