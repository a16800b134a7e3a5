"""Sales pulls: a drop folder (files to processed/ or failed/) and a query against a source database."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import OperationalError

from forecast.demo.generate import DemoScenario
from forecast.errors import InvalidInputError
from forecast.ingest import ColumnMapping, ingest_regions, ingest_skus
from forecast.ingest.pull import pull_drop_folder, pull_sql_query
from forecast.storage.engine import make_engine, session_scope
from forecast.storage.schema import IngestBatch, Sales


@pytest.fixture
def master(engine: Engine, small_scenario: DemoScenario) -> Engine:
    with session_scope(engine) as session:
        ingest_regions(small_scenario.regions, session=session)
        ingest_skus(small_scenario.skus, session=session)
    return engine


def _count(engine: Engine, what) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(what))


def test_drop_folder_moves_good_files_to_processed_and_bad_ones_to_failed_with_the_reason(
        master: Engine, small_scenario: DemoScenario, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(small_scenario.sales, inbox / "sales.csv.gz")
    (inbox / "semicolons.csv").write_text("sku;region;day;units\nA;B;2024-01-01;1\n")
    (inbox / "upload.csv.tmp").write_text("partial")
    (inbox / ".hidden.csv").write_text("ignored")

    report = pull_drop_folder(inbox, master, mapping=ColumnMapping())

    assert report.files == 2 and len(report.batches) == 1
    assert report.rows_accepted == _count(master, Sales) > 0
    assert list(report.failed) == ["semicolons.csv"]
    reason = (inbox / "failed" / "semicolons.csv.error.txt").read_text().strip()
    assert reason == report.failed["semicolons.csv"] and "semicolons.csv" in reason
    assert [p.name for p in (inbox / "processed").iterdir()] == ["sales.csv.gz"]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == [".hidden.csv", "upload.csv.tmp"]

    # the same file dropped again is recognised by its content and kept beside the first, renamed
    shutil.copy(small_scenario.sales, inbox / "sales.csv.gz")
    again = pull_drop_folder(inbox, master, mapping=ColumnMapping())
    assert again.files == 1 and again.batches == [] and again.rows_accepted == 0
    assert len(list((inbox / "processed").iterdir())) == 2
    assert _count(master, IngestBatch) == 1


def test_a_database_error_leaves_the_file_in_the_folder(small_scenario: DemoScenario, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(small_scenario.sales, inbox / "sales.csv.gz")
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(OperationalError, match="no such table"):
        pull_drop_folder(inbox, unmigrated, mapping=ColumnMapping())
    assert (inbox / "sales.csv.gz").exists() and not (inbox / "failed").exists()


def test_a_missing_drop_folder_is_named(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="sales drop folder .*nowhere does not exist"):
        pull_drop_folder(tmp_path / "nowhere", engine, mapping=ColumnMapping())


def test_sql_query_result_is_ingested_once(master: Engine, small_scenario: DemoScenario, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'erp.db'}"
    erp = pl.read_csv(small_scenario.sales).head(500)
    erp.write_database("erp_sales", create_engine(source_url))
    query = "SELECT sku, region, day, units FROM erp_sales ORDER BY sku, region, day"

    first = pull_sql_query(source_url, query, master, mapping=ColumnMapping())
    second = pull_sql_query(source_url, query, master, mapping=ColumnMapping())

    assert first.rows_accepted == 500 == _count(master, Sales) and len(first.batches) == 1
    assert second.batches == [] and _count(master, IngestBatch) == 1
    with pytest.raises(InvalidInputError, match="the sales query returned no rows"):
        pull_sql_query(source_url, "SELECT * FROM erp_sales WHERE 1 = 0", master, mapping=ColumnMapping())
