"""Explain a change: new actuals, a signal, a model switch and an override between two runs of one series."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.errors import InvalidInputError
from forecast.pipeline.explain import MOVED, explain_change
from forecast.pipeline.run import run_forecast
from forecast.storage import override_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastValue, IngestBatch, Promotion, Sales



def _series(engine: Engine) -> tuple[str, str, dt.date]:
    """The series that sold most, and the last sales day."""
    with session_scope(engine) as session:
        sku, region = session.execute(select(Sales.sku_id, Sales.region_id).group_by(Sales.sku_id, Sales.region_id)
                                      .order_by(func.sum(Sales.units).desc()).limit(1)).one()
        last = session.scalar(select(func.max(Sales.day)))
    return sku, region, last


def _announce_promotion(engine: Engine, sku: str, region: str, *, known: dt.date, start: dt.date, end: dt.date) -> None:
    """A promotion announced on `known` (after the first run's cutoff)."""
    with session_scope(engine) as session:
        batch = session.scalar(select(func.max(IngestBatch.id)))
        session.add(Promotion(source="test", promo_id="late-promo", sku_id=sku, region_id=region, start_day=start,
                              end_day=end, discount=0.3, batch_id=batch,
                              known_at=dt.datetime.combine(known, dt.time(12), tzinfo=dt.timezone.utc)))


def test_explanation_names_new_actuals_the_model_switch_the_promotion_and_the_override(loaded: Engine) -> None:
    sku, region, last = _series(loaded)
    first = run_forecast(loaded, horizon=28, models=["SeasonalNaive"], cutoff=last - dt.timedelta(days=14))
    _announce_promotion(loaded, sku, region, known=last - dt.timedelta(days=5), start=last + dt.timedelta(days=3),
                        end=last + dt.timedelta(days=6))
    second = run_forecast(loaded, horizon=28, models=["AutoTheta"], cutoff=last)
    with session_scope(loaded) as session:
        override_repo.add_override(session=session, sku=sku, region=region, start=last + dt.timedelta(days=1),
                                   end=last + dt.timedelta(days=2), kind="value", amount=50.0,
                                   reason="store refit", user="pia")
    with session_scope(loaded) as session:
        out = explain_change(session=session, sku=sku, region=region)
        values = pl.DataFrame(session.execute(select(ForecastValue.run_id, ForecastValue.day, ForecastValue.yhat).where(
            ForecastValue.sku_id == sku, ForecastValue.region_id == region)).all(),
            schema=["run", "day", "yhat"], orient="row")
        sold = session.scalar(select(func.sum(Sales.units)).where(
            Sales.sku_id == sku, Sales.region_id == region, Sales.day > last - dt.timedelta(days=14)))
    assert (out.run, out.previous_run) == (second.run_id, first.run_id)
    shared = last + dt.timedelta(days=1), last + dt.timedelta(days=14)
    assert out.days == 14 and [d["day"] for d in out.daily] == pl.date_range(*shared, eager=True).to_list()
    window = values.filter(pl.col("day").is_between(*shared))
    assert out.before == pytest.approx(window.filter(pl.col("run") == first.run_id)["yhat"].sum())
    assert out.after == pytest.approx(window.filter(pl.col("run") == second.run_id)["yhat"].sum())
    kinds = [r["kind"] for r in out.reasons]
    assert kinds[0] == "model" and kinds[-2:] == ["new actuals", "override"] and set(kinds[1:-2]) == {"signal"}
    assert out.reasons[0]["what"] == "model switched from SeasonalNaive to AutoTheta"
    signals = {r["what"].split(":")[0]: r["what"] for r in out.reasons if r["kind"] == "signal"}
    assert signals["promotions"].startswith("promotions: promo_on 0 -> 1 (4 days")
    assert "promo_discount 0 -> 0.3" in signals["promotions"]
    assert signals["price"] == (f"price: price_rel 1 -> 0.7 (4 days, {last + dt.timedelta(days=3)}.."
                                f"{last + dt.timedelta(days=6)})")  # the planned price under the discount
    assert set(signals) <= {"promotions", "price", "case counts"}  # the case projection moves with new data
    forecast_then = values.filter((pl.col("run") == first.run_id) & (pl.col("day") > last - dt.timedelta(days=14))
                                  & (pl.col("day") <= last))["yhat"].sum()
    actuals, override = out.reasons[-2:]
    assert actuals["units"] == pytest.approx(sold - forecast_then, abs=0.01)
    assert "14 new day(s) of actuals" in actuals["what"]
    assert override["what"].startswith("override ") and "by pia (store refit)" in override["what"]
    assert override["units"] > 0
    assert f"against {out.before:,.1f} in run {first.run_id}" in out.headline()


def test_xgboost_in_both_runs_sizes_each_features_contribution_change(loaded: Engine) -> None:
    sku, region, last = _series(loaded)
    first = run_forecast(loaded, horizon=14, models=["XGBoost"], cutoff=last - dt.timedelta(days=7))
    second = run_forecast(loaded, horizon=14, models=["XGBoost"], cutoff=last)
    with session_scope(loaded) as session:
        out = explain_change(session=session, sku=sku, region=region, run_id=second.run_id, against=first.run_id)
    sized = [r for r in out.reasons if r["kind"] == "signal" and r["units"] is not None]
    assert sized and all(abs(r["units"]) >= MOVED for r in sized)
    assert [abs(r["units"]) for r in sized] == sorted((abs(r["units"]) for r in sized), reverse=True)
    assert "XGBoost's contribution moved the forecast" in sized[0]["what"]
    assert not any(r["kind"] == "model" for r in out.reasons)


def test_a_first_run_and_unknown_series_are_said_plainly(loaded: Engine, cli: CliRunner) -> None:
    sku, region, _ = _series(loaded)
    run = run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    with session_scope(loaded) as session:
        out = explain_change(session=session, sku=sku, region=region)
        assert out.previous_run is None and out.reasons == []
        with pytest.raises(InvalidInputError, match="nothing is published for NOPE in R01"):
            explain_change(session=session, sku="NOPE", region="R01")
    result = cli.invoke(app, ["forecast", "explain", sku, region])
    assert result.exit_code == 0 and f"run {run.run_id} is the first forecast of this series" in result.output
    run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    result = cli.invoke(app, ["forecast", "explain", sku, region, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["previous_run"] == run.run_id and payload["days"] == 7 and payload["reasons"] == []
    bad = cli.invoke(app, ["forecast", "explain", "NOPE", region])
    assert bad.exit_code != 0 and "nothing is published for NOPE" in bad.output
