"""Forecast runs: drafts are invisible, publishing switches every series at once, runs are complete."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest
from sqlalchemy import Engine, select

from forecast.errors import DemandError
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun

SERIES = [("A", "R1"), ("A", "R2"), ("B", "R1")]


def _values(level: float, horizon: int = 3, series=SERIES) -> pl.DataFrame:
    rows = [(sku, region, dt.date(2024, 1, 1) + dt.timedelta(days=d), level, level - 1, level + 1, level - 2,
             level + 2, "AutoETS") for sku, region in series for d in range(horizon)]
    return pl.DataFrame(rows, schema=dict.fromkeys(forecast_repo.VALUE_COLUMNS), orient="row").with_columns(
        pl.col("day").cast(pl.Date))


def _run(engine: Engine, level: float, *, publish: bool = True, series=SERIES, horizon: int = 3) -> int:
    with session_scope(engine) as session:
        run = forecast_repo.create_run(session=session, cutoff=dt.date(2023, 12, 31), horizon=3, frequency="D",
                                       config={"models": ["AutoETS"]}, code_version="test")
        forecast_repo.write_values(session=session, run_id=run.id, values=_values(level, horizon, series))
        run_id = run.id
    if publish:
        with session_scope(engine) as session:
            forecast_repo.publish_run(session=session, run_id=run_id)
    return run_id


def test_draft_is_invisible_and_publish_switches_all_series(engine: Engine) -> None:
    first = _run(engine, 10.0)
    draft = _run(engine, 20.0, publish=False)
    with session_scope(engine) as session:
        view = forecast_repo.read_published(session=session)
    assert view.height == 9 and set(view["run_id"]) == {first} and set(view["yhat"]) == {10.0}
    with session_scope(engine) as session:
        forecast_repo.publish_run(session=session, run_id=draft)
    with session_scope(engine) as session:
        view = forecast_repo.read_published(session=session, sku="A", region="R2")
        statuses = dict(session.execute(select(ForecastRun.id, ForecastRun.status)).all())
    assert view["yhat"].to_list() == [20.0] * 3 and view["day"].to_list()[0] == dt.date(2024, 1, 1)
    assert statuses == {first: "superseded", draft: "published"}


def test_a_partial_run_keeps_other_series_on_their_run(engine: Engine) -> None:
    first = _run(engine, 10.0)
    second = _run(engine, 30.0, series=[("B", "R1")])
    with session_scope(engine) as session:
        view = forecast_repo.read_published(session=session)
        statuses = dict(session.execute(select(ForecastRun.id, ForecastRun.status)).all())
    by_series = view.group_by("sku", "region").agg(pl.col("run_id").unique()).sort("sku", "region")
    assert by_series["run_id"].to_list() == [[first], [first], [second]]
    assert statuses == {first: "published", second: "published"}  # first still serves two series


def test_incomplete_run_is_not_published(engine: Engine) -> None:
    first = _run(engine, 10.0)
    broken = _run(engine, 50.0, publish=False, horizon=2)
    with pytest.raises(DemandError, match=r"run \d+: 3 series do not have exactly 3 rows; the run stays a draft"):
        with session_scope(engine) as session:
            forecast_repo.publish_run(session=session, run_id=broken)
    with session_scope(engine) as session:
        assert set(forecast_repo.read_published(session=session)["run_id"]) == {first}
        assert session.get(ForecastRun, broken).status == "draft"
    with pytest.raises(DemandError, match="only drafts can be published"):
        with session_scope(engine) as session:
            forecast_repo.publish_run(session=session, run_id=first)


def test_the_database_refuses_unordered_or_negative_intervals(engine: Engine) -> None:
    bad = _values(10.0).with_columns(pl.lit(-1.0).alias("lo95"))
    with pytest.raises(Exception, match="(?i)ordered_non_negative|check constraint"):
        with session_scope(engine) as session:
            run = forecast_repo.create_run(session=session, cutoff=dt.date(2023, 12, 31), horizon=3, frequency="D",
                                           config={}, code_version="test")
            forecast_repo.write_values(session=session, run_id=run.id, values=bad)


def test_readers_never_see_a_mix_of_two_runs(engine: Engine) -> None:
    _run(engine, 3.0)
    seen: list[set[int]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with session_scope(engine) as session:
                seen.append(set(forecast_repo.read_published(session=session)["run_id"]))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for level in range(4, 14):
            _run(engine, float(level))
    finally:
        stop.set()
        thread.join()
    assert seen and all(len(runs) == 1 for runs in seen)
