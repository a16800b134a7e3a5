"""No value reaches SQL text: every f-string that builds SQL interpolates only vetted identifiers.

Values (SKU and region names, dates, numbers, users' input) travel as bound parameters; an f-string
may only splice in the names below, each a constant or built from the code's own identifiers. A
new interpolation fails this test until someone checks it and adds it here with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("forecast", "dashboard", "scheduler", "signals")
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+.*\sSET|DELETE\s+FROM|CREATE\s+(TEMP\s+)?(TABLE|VIEW|INDEX|ROLE)|"
                 r"DROP\s+(TABLE|VIEW|ROLE)|ALTER\s+(TABLE|ROLE)|GRANT\s|REVOKE\s|ANALYZE\s|TRUNCATE\s)", re.I | re.S)
VETTED = {
    "STAGE": "module constant: the staging table's name (forecast/storage/bulk.py)",
    "table": "a table name from the code's own schema objects (bulk.insert_frame callers)",
    "', '.join(rows.columns)": "the columns of a frame the code built for that table",
    "', '.join('?' * rows.width)": "placeholders",
    "where": "' AND '.join of constant clauses with :named parameters (forecast_repo.read_published)",
    "same_key": "constant join condition on the key columns (bulk.write_sales)",
    "changed": "comparisons of constant column names (bulk.write_sales)",
}


def _sql_fstrings() -> list[tuple[str, int, str]]:
    """(file, line, interpolated expression) of every f-string whose text reads as SQL."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.JoinedStr):
                    continue
                literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
                shape = "".join(v.value if isinstance(v, ast.Constant) else " x " for v in node.values)
                if SQL.search(shape) or SQL.search(literal):
                    found += [(str(path.relative_to(ROOT)), node.lineno, ast.unparse(v.value))
                              for v in node.values if isinstance(v, ast.FormattedValue)]
    return found


def test_sql_fstrings_interpolate_only_vetted_identifiers() -> None:
    found = _sql_fstrings()
    assert found, "the scan found no SQL f-strings at all: the pattern broke"
    unvetted = [f"{path}:{line}: {{{expr}}}" for path, line, expr in found if expr not in VETTED]
    assert not unvetted, "SQL built with unvetted interpolations (bind the value instead):\n" + "\n".join(unvetted)
