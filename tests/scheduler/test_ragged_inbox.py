"""A ragged file dropped into the inbox (a day reported for only some series) and the next nightly run publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, text

from forecast.demo.generate import DemoScenario
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun
from tests.scheduler.conftest import ServiceThread, job_runs, wait_for


def _newest_published(engine: Engine, after: dt.date) -> ForecastRun | None:
    with session_scope(engine) as session:
        run_id = session.scalar(text("SELECT max(run_id) FROM published_forecast"))
        run = session.get(ForecastRun, run_id) if run_id else None
        if run is not None and run.cutoff > after:
            session.expunge(run)
            return run
    return None


def test_a_day_reported_early_for_two_series_still_publishes_every_series(
        loaded: Engine, small_scenario: DemoScenario, configure, tmp_path: Path) -> None:
    sales = pl.read_csv(small_scenario.sales, try_parse_dates=True)
    last = sales["day"].max()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    early = sales.filter(pl.col("day") == last).head(2).with_columns(pl.col("day") + dt.timedelta(days=1),
                                                                     pl.lit(5).alias("units"))
    early.write_csv(inbox / "one-store-early.csv")
    configure(sales_drop_dir=inbox, schedule_sales_pull="* * * * * *", schedule_forecast="*/3 * * * * *",
              forecast_models='["SeasonalNaive", "XGBoost"]', forecast_from_backtest="false")
    with ServiceThread(loaded) as running:
        run = wait_for(lambda: _newest_published(loaded, last), timeout=120, what="a run with the new day published")
    assert running.error is None
    cutoff = last + dt.timedelta(days=1)
    assert run.cutoff == cutoff and run.status == "published"
    with session_scope(loaded) as session:
        window = session.execute(text(
            "SELECT count(*), count(DISTINCT sku || '/' || region), min(day), max(day) FROM published_forecast")).one()
    series = sales.select("sku", "region").n_unique()
    assert tuple(window[:2]) == (series * 7, series)
    assert str(window[2])[:10] == str(cutoff + dt.timedelta(days=1)) and str(window[3])[:10] == str(cutoff + dt.timedelta(days=7))
    assert run.config["series_shapes"]["series"] == {"late": series - 2, "live": 2}
    assert all(r.status == "succeeded" for r in job_runs(loaded, "sales_pull") if r.rows)
