"""Scenarios end to end on both engines: with/without forecasts, the uplift, the published run untouched."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.errors import InvalidInputError
from forecast.models.gradient import GradientBoostingAdapter
from forecast.pipeline.run import run_forecast
from forecast.scenarios import CasePlan, LivestreamPlan, run_scenario
from forecast.storage import forecast_repo, scenario_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import Scenario

HORIZON = 14


def _published(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session)


def _big_host(scenario: DemoScenario) -> str:
    """The host with the largest planted uplift in the small scenario's schedule."""
    truth = json.loads(Path(scenario.ground_truth).read_text())["livestreams"]
    seen = {e["host"] for e in truth["applied"].values() if e["status"] == "done"}
    return max(seen, key=lambda h: truth["hosts"][h]["base_uplift"])


def _event_start(cutoff: dt.date, days_ahead: int = 5) -> str:
    return f"{cutoff + dt.timedelta(days=days_ahead)}T19:00:00+08:00"


def _cutoff(engine: Engine) -> dt.date:
    from forecast.storage.schema import Sales

    with session_scope(engine) as session:
        return session.scalar(select(func.max(Sales.day)))


def test_livestream_scenario_stores_both_forecasts_and_a_positive_uplift_on_the_day(
        loaded: Engine, small_scenario: DemoScenario) -> None:
    published = run_forecast(loaded, horizon=HORIZON, models=["SeasonalNaive"])
    before = _published(loaded)
    cutoff = _cutoff(loaded)
    plan = LivestreamPlan(host=_big_host(small_scenario), start=_event_start(cutoff), skus=("STA-001",),
                          regions=("R01",), expected_viewers=300_000, discount=0.2)
    report = run_scenario(loaded, plan, horizon=HORIZON)

    assert report.status == "complete" and report.series == 1 and report.rows == HORIZON
    assert _published(loaded).equals(before)
    with session_scope(loaded) as session:
        stored = scenario_repo.get_scenario(session=session, scenario_id=report.scenario_id)
        values = scenario_repo.read_scenario_values(session=session, scenario_id=report.scenario_id)
        assert (stored.status, stored.kind, stored.base_run_id) == ("complete", "livestream", published.run_id)
        assert stored.plan["host"] == plan.host and stored.plan["skus"] == ["STA-001"]
    assert set(values["sku_id"]) == {"STA-001"} and set(values["region_id"]) == {"R01"}
    assert values["uplift"].to_list() == pytest.approx((values["yhat"] - values["baseline_yhat"]).to_list())
    event_day = values.filter(pl.col("day") == cutoff + dt.timedelta(days=5)).row(0, named=True)
    assert event_day["yhat"] > 1.3 * event_day["baseline_yhat"] > 0
    before_event = values.filter(pl.col("day") < cutoff + dt.timedelta(days=4))
    assert before_event["uplift"].abs().max() < 0.1 * event_day["uplift"]
    assert report.uplift_units == pytest.approx(values["uplift"].sum(), abs=0.01)
    assert report.uplift_by_region == {"R01": pytest.approx(report.uplift_units, abs=0.01)}


def test_case_scenario_moves_only_the_named_regions(loaded: Engine) -> None:
    plan = CasePlan(trajectory="rising", weekly_rate=1.0, regions=("R02",))
    report = run_scenario(loaded, plan, horizon=HORIZON)
    with session_scope(loaded) as session:
        values = scenario_repo.read_scenario_values(session=session, scenario_id=report.scenario_id)
    assert set(values["region_id"]) == {"R02"} and values.select("sku_id").n_unique() == 9
    assert report.series == 9 and values.height == 9 * HORIZON
    assert values["uplift"].abs().max() > 0  # the model reads the case features: doubling a week moves it


def test_a_bad_plan_writes_nothing(loaded: Engine) -> None:
    cutoff = _cutoff(loaded)
    bad = [
        (LivestreamPlan(host="A", start=_event_start(cutoff, 40), skus=("STA-001",)), "outside the forecast window"),
        (LivestreamPlan(host="A", start=_event_start(cutoff), skus=("NOPE",)), "no sales history up to the cutoff"),
        (LivestreamPlan(host="A", start=_event_start(cutoff), category="toys"), "unknown category 'toys'"),
        (LivestreamPlan(host="A", start=_event_start(cutoff), skus=("STA-001",), regions=("R99",)),
         "unknown region"),
        (LivestreamPlan(host="A", start=_event_start(cutoff), skus=("STA-001",), discount=1.5),
         "planned livestream rejected: discount"),
    ]
    for plan, message in bad:
        with pytest.raises(InvalidInputError, match=message):
            run_scenario(loaded, plan, horizon=HORIZON)
    with pytest.raises(InvalidInputError, match="does not read the signals"):
        run_scenario(loaded, CasePlan(trajectory="rising"), horizon=HORIZON, model="SeasonalNaive")
    with pytest.raises(InvalidInputError, match="needs what it features"):
        LivestreamPlan(host="A", start=_event_start(cutoff))
    with session_scope(loaded) as session:
        assert session.scalar(select(func.count()).select_from(Scenario)) == 0


def test_a_failing_model_marks_the_scenario_failed_and_keeps_the_published_run(
        loaded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    run_forecast(loaded, horizon=HORIZON, models=["SeasonalNaive"])
    before = _published(loaded)

    def broken(self, *args, **kwargs):
        raise RuntimeError("xgboost crashed")

    monkeypatch.setattr(GradientBoostingAdapter, "forecast_variants", broken)
    with pytest.raises(RuntimeError, match="xgboost crashed"):
        run_scenario(loaded, CasePlan(trajectory="falling"), horizon=HORIZON)
    with session_scope(loaded) as session:
        failed = session.scalars(select(Scenario)).one()
        rows = scenario_repo.read_scenario_values(session=session, scenario_id=failed.id)
    assert (failed.status, failed.error) == ("failed", "RuntimeError: xgboost crashed") and rows.is_empty()
    assert _published(loaded).equals(before)


def test_scenario_cli_livestream_list_show(loaded: Engine, cli: CliRunner, small_scenario: DemoScenario) -> None:
    cutoff = _cutoff(loaded)
    args = ["forecast", "scenario", "livestream", "--host", _big_host(small_scenario), "--start",
            _event_start(cutoff), "--sku", "STA-002", "--sku", "STA-003", "--region", "AREA-N", "--viewers", "100000",
            "--horizon", str(HORIZON), "--name", "spring launch", "--json"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["name"] == "spring launch" and report["series"] == 2 and report["rows"] == 2 * HORIZON
    listed = json.loads(cli.invoke(app, ["forecast", "scenario", "list", "--json"]).stdout)
    assert [s["id"] for s in listed] == [report["scenario_id"]] and listed[0]["plan"]["regions"] == ["AREA-N"]
    shown = json.loads(cli.invoke(app, ["forecast", "scenario", "show", str(report["scenario_id"]), "--json"]).stdout)
    assert len(shown["values"]) == 2 * HORIZON and {v["region_id"] for v in shown["values"]} == {"R01"}
    text = cli.invoke(app, ["forecast", "scenario", "show", str(report["scenario_id"])])
    assert text.exit_code == 0 and "uplift" in text.stdout
    missing = cli.invoke(app, ["forecast", "scenario", "show", "999"])
    assert missing.exit_code == 2 and "no scenario 999" in missing.stderr
    bad = cli.invoke(app, ["forecast", "scenario", "cases", "--trajectory", "sideways"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "unknown; use rising or falling" in bad.stderr
