"""The CI audit's verdict on pip-audit's JSON report (the report's real format, from pip-audit 2.10)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("ci_audit", Path(__file__).resolve().parents[2] / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(audit)

REPORT = {"dependencies": [
    {"name": "jinja2", "version": "2.4", "vulns": [
        {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"], "description": "..."},
        {"id": "GHSA-0000-no-fix", "fix_versions": [], "aliases": [], "description": "..."}]},
    {"name": "polars", "version": "2.1.0", "vulns": []},
    {"name": "typer", "skip_reason": "Dependency not found on PyPI and could not be audited: typer (0.29.2)"},
], "fixes": []}


def test_a_fixable_vulnerability_fails_and_skips_are_counted_apart() -> None:
    fixable, unfixable, audited, skipped = audit.verdict(REPORT)
    assert fixable == ["jinja2 2.4: PYSEC-2019-217 (fixed in 2.10.1)"]
    assert unfixable == ["jinja2 2.4: GHSA-0000-no-fix (no fix released)"]
    assert (audited, skipped) == (2, 1)


def test_a_clean_report_passes() -> None:
    clean = {"dependencies": [{"name": "polars", "version": "2.1.0", "vulns": []}]}
    assert audit.verdict(clean) == ([], [], 1, 0)
