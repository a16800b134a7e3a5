"""A big sales file with one bad row at the very end: the bad row is quarantined, every good row lands.

The 10-million-row file is generated into tmp_path at test time (marked slow); a 200,000-row variant
runs in the default suite, together with a ragged last line that rejects the whole file.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from forecast.errors import InvalidInputError
from forecast.ingest import ingest_sales, resolve_mapping
from forecast.storage import repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import IngestBatch, RejectedRow, Sales
from tests.corpus.harness import seed, snapshot

START = dt.date(2020, 1, 1)


def write_big_file(path: Path, good_rows: int, last_line: str) -> float:
    """`good_rows` unique (sku, region, day) rows with units = row number % 97, then `last_line`; returns sum(units)."""
    frame = pl.DataFrame({"i": pl.int_range(0, good_rows, eager=True)}).select(
        pl.format("S{}", pl.col("i") % 1000).alias("sku"),
        pl.format("R{}", (pl.col("i") // 1000) % 10).alias("region"),
        (pl.lit(START) + pl.duration(days=pl.col("i") // 10_000)).alias("day"),
        (pl.col("i") % 97).alias("units"),
    )
    frame.write_csv(path)
    with path.open("a") as handle:
        handle.write(last_line)
    return float(frame["units"].sum())


def _check_big_ingest(engine: Engine, tmp_path: Path, good_rows: int) -> None:
    seed(engine, tmp_path)
    path = tmp_path / "big.csv"
    total = write_big_file(path, good_rows, "S1,R1,2019-12-31,oops\n")
    started = time.perf_counter()
    with session_scope(engine) as session:
        report = ingest_sales(path, session=session, mapping=resolve_mapping())
    print(f"{good_rows + 1:,} rows ingested in {time.perf_counter() - started:.1f}s")
    assert (report.rows_total, report.rows_accepted, report.rows_rejected) == (good_rows + 1, good_rows, 1)
    assert (report.rows_inserted, report.status) == (good_rows, "partial")
    with session_scope(engine) as session:
        rejected = repo.list_rejected_rows(session=session, batch_id=report.batch_id)
        assert [(r.line, r.reason) for r in rejected] == [(good_rows + 2, "units 'oops' is not a number")]
        count, units = session.execute(select(func.count(), func.sum(Sales.units))
                                       .where(Sales.batch_id == report.batch_id)).one()
        assert (count, units) == (good_rows, total)
        last = good_rows - 1
        row = session.get(Sales, (f"S{last % 1000}",
            f"R{(last // 1000) % 10}", START + dt.timedelta(days=last // 10_000)))
        assert row is not None and row.units == last % 97


def test_200k_rows_with_one_bad_row_at_the_end(engine: Engine, tmp_path: Path) -> None:
    _check_big_ingest(engine, tmp_path, 200_000)


def test_200k_rows_with_a_ragged_last_line_reject_the_whole_file(engine: Engine, tmp_path: Path) -> None:
    seed(engine, tmp_path)
    path = tmp_path / "big.csv"
    write_big_file(path, 200_000, "S1,R1,2019-12-31,1,surplus\n")
    before = snapshot(engine)
    with pytest.raises(InvalidInputError, match=r"^big\.csv: cannot be read as CSV \(found more fields .*\); check the "
                                                r"delimiter and quoting$"):
        with session_scope(engine) as session:
            ingest_sales(path, session=session, mapping=resolve_mapping())
    assert snapshot(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(RejectedRow)) == 0
        assert session.scalar(select(func.count()).select_from(IngestBatch)) == 1


@pytest.mark.slow
def test_10m_rows_with_one_bad_row_at_the_end(engine: Engine, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("10 million rows take minutes and several GB; run with -m slow")
    _check_big_ingest(engine, tmp_path, 10_000_000 - 1)
