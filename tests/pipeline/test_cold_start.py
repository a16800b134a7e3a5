"""Cold start: a SKU launched in a livestream, and one with a week of sales, forecast from similar SKUs."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from forecast.features import signal_features
from forecast.pipeline.cold_start import COLD_DAYS, WIDEN, _host_uplift
from forecast.pipeline.frames import model_frames
from forecast.pipeline.run import run_forecast
from forecast.storage import forecast_repo, repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import IngestBatch, LivestreamEvent, Sales, Sku

H = 14


def _launch(engine: Engine) -> dict:
    """A new staples SKU (no sales) featured in R01 three days after the cutoff by the busiest host,
    and another with only the last 7 days of sales in R02."""
    with session_scope(engine) as session:
        last = session.scalar(select(func.max(Sales.day)))
        price = session.scalar(select(Sku.attributes).where(Sku.id == "STA-002"))["base_price"]
        host = session.scalar(select(LivestreamEvent.host).group_by(LivestreamEvent.host)
                              .order_by(func.count().desc()).limit(1))
        batch = session.scalar(select(func.max(IngestBatch.id)))
        repo.upsert_skus(session=session, skus=[
            {"id": "NEW-001", "name": "New pasta", "category": "staples", "attributes": {"base_price": float(price) * 1.1}},
            {"id": "NEW-002", "name": "New rice", "category": "staples", "attributes": {"base_price": float(price)}}])
        live = last + dt.timedelta(days=3)
        start = dt.datetime.combine(live, dt.time(11), tzinfo=dt.timezone.utc)
        session.add(LivestreamEvent(source="test", event_id="LAUNCH-1", announced_at=start - dt.timedelta(days=9),
                                    host=host, platform="StreamMart", start_at=start, end_at=start + dt.timedelta(hours=2),
                                    utc_offset="+00:00", local_day=live, skus=["NEW-001"], category="staples",
                                    regions=["R01"], expected_viewers=40000, discount=0.0, status="scheduled",
                                    known_at=start - dt.timedelta(days=9), batch_id=batch))
        for i in range(7):
            session.add(Sales(sku_id="NEW-002", region_id="R02", day=last - dt.timedelta(days=i), units=5.0 + i,
                              price=float(price), on_promo=False, batch_id=batch))
    return {"last": last, "live": live, "host": host}


def test_a_launched_sku_and_a_short_one_are_forecast_from_their_analogues(loaded: Engine) -> None:
    launch = _launch(loaded)
    without = run_forecast(loaded, horizon=H, models=["SeasonalNaive"])
    assert without.cold_start is None
    report = run_forecast(loaded, horizon=H, models=["SeasonalNaive"], cold_start=True)
    assert report.cold_start.new_series == 1 and report.cold_start.blended_series == 1
    assert report.series == without.series + 1
    analogues = report.cold_start.analogues["NEW-001 in R01"]
    assert 1 <= len(analogues) <= 5 and "NEW-002" not in analogues  # a week of sales is no analogue
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
        frames = model_frames(signal_features(session=session, cutoff=launch["last"], horizon=H), cutoff=launch["last"])
    assert set(categories[a] for a in analogues) == {"staples"}
    new = published.filter(pl.col("sku") == "NEW-001").sort("day")
    assert new.height == H and set(new["region"]) == {"R01"}
    assert new["model"][0] == f"ColdStart({len(analogues)} analogues, host {launch['host']})"
    theirs = published.filter(pl.col("sku").is_in(analogues) & (pl.col("region") == "R01")).group_by("day").agg(
        pl.col("yhat").median().alias("median"), pl.col("hi95").median().alias("hi95_median"))
    both = new.join(theirs, on="day")
    quiet = both.filter(pl.col("day") != launch["live"])
    assert (quiet["yhat"] - quiet["median"]).abs().max() < 1e-9  # the analogues' median on a day off air
    assert ((quiet["hi95"] - quiet["yhat"]) - WIDEN * (quiet["hi95_median"] - quiet["median"])).abs().max() < 1e-9
    uplift = _host_uplift(frames).filter(pl.col("host") == launch["host"])["uplift"].item()
    on_air = both.filter(pl.col("day") == launch["live"]).row(0, named=True)
    assert on_air["yhat"] == pytest.approx(on_air["median"] * math.exp(uplift))  # the host's past uplift

    short = published.filter(pl.col("sku") == "NEW-002")
    assert short.height == H and short["model"].n_unique() == 1  # own weight 7 / 28 days
    assert re.fullmatch(rf"SeasonalNaive \+ ColdStart\([1-5] analogues, {1 - 7 / COLD_DAYS:.2f}\)", short["model"][0])
    # the totals count the new SKU: R01's reconciled total is the sum of its series, NEW-001 included
    run_forecast(loaded, horizon=H, models=["SeasonalNaive"], cold_start=True, reconcile="bottom_up")
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
        totals = forecast_repo.read_published_totals(session=session)
    assert published.filter(pl.col("sku") == "NEW-001").height == H
    r01 = totals.filter(pl.col("node") == "total/R01").join(
        published.filter(pl.col("region") == "R01").group_by("day").agg(pl.col("yhat").sum().alias("summed")), on="day")
    assert r01.height == H and (r01["yhat"] - r01["summed"]).abs().max() < 1e-6
