"""CSV downloads that a spreadsheet cannot turn into formulas."""

from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
"""Cells starting with one of these are formulas to a spreadsheet (CSV injection)."""


def safe_csv(frame: pl.DataFrame) -> bytes:
    """`frame` as UTF-8 CSV, every text cell that starts like a formula prefixed with `'`."""
    escaped = frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, kind in frame.schema.items() if kind == pl.String)
    return escaped.write_csv().encode("utf-8")
