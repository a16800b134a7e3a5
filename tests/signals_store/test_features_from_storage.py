"""Features built from storage see exactly what was known at the cutoff (both engines)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, delete

from forecast.features import signal_features
from forecast.ingest import ColumnMapping, ingest_regions, ingest_sales
from forecast.ingest.signal_config import SourceConfig
from forecast.ingest.signals import pull_source
from forecast.storage.engine import session_scope
from forecast.storage.schema import CaseCount
from signals.frames import as_of_instant
from signals.sources import SnapshotSource

CUTOFF = dt.date(2020, 4, 15)


def _load(engine: Engine, tmp_path: Path, shared_data: Path) -> None:
    (tmp_path / "regions.csv").write_text("region,name,parent,population\nCA,California,,39512223\n"
                                          "CA_1,Store 1,CA,\nTX,Texas,,28995881\nTX_1,Store 2,TX,\n")
    days = pl.date_range(dt.date(2020, 2, 1), dt.date(2020, 5, 31), eager=True)
    sales = pl.DataFrame({"day": days}).join(pl.DataFrame({"region": ["CA_1", "TX_1"]}), how="cross").with_columns(
        pl.lit("SKU1").alias("sku"), (pl.col("day").dt.day() % 5).cast(pl.Float64).alias("units"))
    sales.write_csv(tmp_path / "sales.csv")
    config = SourceConfig(name="nyt", kind="cases", preset="nyt", location=str(shared_data / "nyt_covid_us_states_cumulative.csv"),
                          region_map={"California": "CA", "Texas": "TX"})
    with session_scope(engine) as session:
        ingest_regions(tmp_path / "regions.csv", session=session)
        ingest_sales(tmp_path / "sales.csv", session=session, mapping=ColumnMapping())
        pull_source(config, session=session)
    # a later revision of an early-April count, learned long after the cutoff
    revised = "date,state,fips,cases,deaths\n2020-04-10,California,06,999999,0\n"
    with session_scope(engine) as session:
        pull_source(config, session=session, fetcher=SnapshotSource(
            revised, fetched_at=dt.datetime(2020, 9, 1, tzinfo=dt.timezone.utc)))


def test_april_2020_features_ignore_everything_learned_after_the_cutoff(engine: Engine, tmp_path: Path,
                                                                        shared_data: Path) -> None:
    _load(engine, tmp_path, shared_data)
    with session_scope(engine) as session:
        with_future = signal_features(session=session, cutoff=CUTOFF, horizon=14)
    with session_scope(engine) as session:  # remove everything learned after the cutoff, then build again
        session.execute(delete(CaseCount).where(CaseCount.known_at >= as_of_instant(CUTOFF)))
    with session_scope(engine) as session:
        without = signal_features(session=session, cutoff=CUTOFF, horizon=14)
    assert with_future.equals(without)
    store = with_future.filter(pl.col("region") == "CA_1").sort("day")
    assert store["day"].max() == CUTOFF + dt.timedelta(days=14)
    assert store.filter(pl.col("day") > CUTOFF)["y"].null_count() == 14
    # the store gets its state's cases; the cutoff day itself is not reported yet (one day of lag)
    assert store.filter(pl.col("day") == dt.date(2020, 4, 10))["cases_7d_per_100k"][0] > 1.0
    assert store.filter(pl.col("day") == CUTOFF)["cases_projected"][0] == 1
    assert store.filter(pl.col("day") == CUTOFF - dt.timedelta(days=1))["cases_projected"][0] == 0
    held = store.filter(pl.col("day") >= CUTOFF)["cases_7d_per_100k"].unique()
    assert held.len() == 1  # hold scenario: the last 7-day mean carried forward


def test_sales_read_back_with_their_types_whatever_the_first_rows_hold(engine: Engine, tmp_path: Path) -> None:
    """The reader infers a batch's column types from its first rows: 150 days without a price, then
    prices, must still read (the M5 file starts with items not yet on sale)."""
    from forecast.features import sales_panel

    days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 7, 1), eager=True)
    sales = pl.DataFrame({"sku": "S1", "region": "R1", "day": days, "units": 2.0}).with_columns(
        pl.when(pl.int_range(pl.len()) >= 150).then(pl.lit(5.09)).alias("price"))
    sales.write_csv(tmp_path / "sales.csv")
    with session_scope(engine) as session:
        ingest_sales(tmp_path / "sales.csv", session=session, mapping=ColumnMapping())
    with session_scope(engine) as session:
        panel = sales_panel(session=session, cutoff=days[-1], horizon=0)
    assert panel.schema["price"] == pl.Float64 and panel.schema["y"] == pl.Float64
    assert panel["price"].null_count() == 150 and panel["price"].drop_nulls().unique().to_list() == [5.09]
