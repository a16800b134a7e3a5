"""Regional shocks: the triggers, the hold period, the run's short-memory policy, the job, the CLI."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from forecast.cli import app
from forecast.errors import InvalidInputError
from forecast.features import signal_features
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.frames import ModelFrames, model_frames
from forecast.pipeline.run import run_forecast
from forecast.pipeline.shock import ShockRules, check_shocks_at, detect_shocks, widened
from forecast.storage import shock_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun, ForecastValue, Sales

CUTOFF = dt.date(2024, 6, 30)
# The small scenario's epidemic (seed 3, 400 days from 2024-01-01): R02 peaks on 2024-11-15 and R01
# on 2024-11-22, each about six days wide; before October both regions have background cases only.
CALM, R02_RISING, BOTH_RISING = dt.date(2024, 10, 20), dt.date(2024, 11, 7), dt.date(2024, 11, 16)


def _panel(rises: dict[str, float], *, days: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """history (unique_id, ds, y, cases features) and series (unique_id, region): 6 series per region whose
    cases on CUTOFF are `rise / 7` above the week before (7-day means of daily cases per 100k)."""
    rows, series = [], []
    for region, rise in rises.items():
        for k in range(6):
            uid = f"{region}-{k}"
            series.append({"unique_id": uid, "region": region})
            for d in range(days):
                rows.append({"unique_id": uid, "ds": CUTOFF - dt.timedelta(days=d), "y": 10.0,
                             "cases_7d_per_100k": 5.0 + rise / 7, "cases_7d_per_100k_lag7": 5.0})
    return pl.DataFrame(rows), pl.DataFrame(series)


def _bands(history: pl.DataFrame, outside: dict[str, int]) -> pl.DataFrame:
    """Earlier 80% bands around y (8..12), except for the first `outside[region]` series, whose band misses y."""
    def missed(uid: str) -> bool:
        region, k = uid.split("-")
        return int(k) < outside.get(region, 0)

    return history.select("unique_id", "ds").with_columns(
        pl.col("unique_id").map_elements(missed, return_dtype=pl.Boolean).alias("_m")).with_columns(
        pl.when("_m").then(2.0).otherwise(8.0).alias("lo80"), pl.when("_m").then(5.0).otherwise(12.0).alias("hi80")
    ).drop("_m")


def test_rising_cases_trigger_a_flag_and_steady_ones_do_not() -> None:
    history, series = _panel({"R1": 14.0, "R2": 9.0})
    checks = detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(case_rise=10))
    r1, r2 = checks.sort("region").iter_rows(named=True)
    assert (r1["active"], r1["triggered"], r1["raised_on"], r1["last_trigger"]) == (True, True, CUTOFF, CUTOFF)
    assert r1["case_rise"] == pytest.approx(14.0) and r1["cases_week_per_100k"] == pytest.approx(49.0)
    assert r1["reason"] == "cases 49.0 per 100k this week, +14.0 on the week before (threshold +10)"
    assert (r2["active"], r2["triggered"], r2["raised_on"], r2["reason"]) == (False, False, None, "")


def test_many_series_breaking_out_of_their_bands_trigger_a_flag() -> None:
    history, series = _panel({"R1": 0.0, "R2": 0.0, "R3": 0.0})
    bands = _bands(history, {"R1": 3, "R2": 2})  # R1: 3 of 6 series outside (50%), R2: 2 of 6
    checks = detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(), earlier=bands)
    by = {r["region"]: r for r in checks.iter_rows(named=True)}
    assert by["R1"]["active"] and by["R1"]["breakout_share"] == pytest.approx(0.5)
    assert by["R1"]["reason"] == ("50% of 6 series' last 7 days outside their 80% band, 50% above (threshold 50%)")
    assert not by["R2"]["active"] and by["R2"]["breakout_share"] == pytest.approx(2 / 6)
    assert not by["R3"]["active"] and by["R3"]["breakout_series"] == 6
    few = detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(min_series=7), earlier=bands)
    assert not few["active"].any(), "a region with fewer tracked series than min_series never breaks out"
    unbanded = bands.with_columns(pl.col("lo80").alias("hi80"))  # no band: nothing to break out of
    assert detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(), earlier=unbanded)["breakout_series"].is_null().all()


def test_a_flag_holds_without_triggers_for_the_hold_days_then_clears() -> None:
    history, series = _panel({"R1": 0.0})
    raised = dt.date(2024, 6, 10)

    def previous(last_trigger: dt.date) -> pl.DataFrame:
        return pl.DataFrame([{"region": "R1", "active": True, "triggered": False, "raised_on": raised,
                              "last_trigger": last_trigger}])

    held = detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(hold_days=14),
                         previous=previous(CUTOFF - dt.timedelta(days=13))).row(0, named=True)
    assert (held["active"], held["triggered"], held["raised_on"]) == (True, False, raised)
    assert held["reason"] == "held: last triggered 2024-06-17, clears on 2024-07-01 without a new trigger"
    cleared = detect_shocks(history, series, cutoff=CUTOFF, rules=ShockRules(hold_days=14),
                            previous=previous(CUTOFF - dt.timedelta(days=14))).row(0, named=True)
    assert (cleared["active"], cleared["raised_on"]) == (False, None)
    assert cleared["reason"] == "cleared on 2024-06-30: no trigger for 14 days"


def test_bad_rules_are_refused_with_the_setting_named() -> None:
    with pytest.raises(InvalidInputError, match=r"shock window must be 0 \(normal memory\) or a number of days, got -1"):
        ShockRules(window=-1)
    with pytest.raises(InvalidInputError, match="shock case_rise must be positive, got -1"):
        ShockRules(case_rise=-1)


def test_widened_bands_keep_the_forecast_and_stay_ordered_and_non_negative() -> None:
    frame = pl.DataFrame({"yhat": [10.0, 1.0], "lo80": [8.0, 0.2], "hi80": [12.0, 2.0], "lo95": [6.0, 0.0],
                          "hi95": [14.0, 3.0]})
    out = widened(frame, ShockRules(band_factor=1.5))
    assert out.rows() == [(10.0, 7.0, 13.0, 4.0, 16.0), (1.0, pytest.approx(0.0), 2.5, 0.0, 4.0)]


def test_short_memory_fits_only_the_last_window_of_each_series(loaded: Engine) -> None:
    frames = _frames(loaded, CUTOFF, horizon=14)
    full = Forecaster(["AutoETS"])
    short = full.with_memory(112).forecast(frames.history, frames.future, h=14).forecasts
    tail = frames.history.group_by("unique_id", maintain_order=True).tail(112)
    assert short.equals(Forecaster(["AutoETS"]).forecast(tail, frames.future, h=14).forecasts)
    assert not short.equals(full.forecast(frames.history, frames.future, h=14).forecasts)


def test_the_case_trigger_follows_the_scenarios_wave_and_each_check_is_stored(loaded: Engine) -> None:
    rules = ShockRules()
    calm = check_shocks_at(loaded, rules=rules, cutoff=CALM)
    assert not calm["active"].any() and (calm["case_rise"].abs() < 2).all()
    rising = {r["region"]: r for r in check_shocks_at(loaded, rules=rules, cutoff=R02_RISING).iter_rows(named=True)}
    assert rising["R02"]["active"] and rising["R02"]["raised_on"] == R02_RISING and rising["R02"]["case_rise"] > 10
    assert rising["R02"]["reason"].startswith("cases ") and not rising["R01"]["active"]
    check_shocks_at(loaded, rules=rules, cutoff=BOTH_RISING)
    late = BOTH_RISING + dt.timedelta(days=12)  # R02's cases fall now: held since its last trigger
    held = check_shocks_at(loaded, rules=rules, cutoff=late).filter(pl.col("region") == "R02").row(0, named=True)
    assert (held["active"], held["triggered"], held["raised_on"]) == (True, False, R02_RISING)
    assert held["reason"].startswith(f"held: last triggered {BOTH_RISING}")
    gone = check_shocks_at(loaded, rules=rules, cutoff=late + dt.timedelta(days=3))
    assert gone.filter(pl.col("region") == "R02")["reason"][0] == f"cleared on {late + dt.timedelta(days=3)}: no trigger for 14 days"
    with session_scope(loaded) as session:
        stored = shock_repo.read_checks(session=session, region="R02")
        newest = shock_repo.latest_checks(session=session)
    assert stored["checked_on"].to_list() == [CALM, R02_RISING, BOTH_RISING, late, late + dt.timedelta(days=3)]
    assert stored["active"].to_list() == [False, True, True, True, False]
    assert newest.filter(pl.col("region") == "R02")["checked_on"][0] == late + dt.timedelta(days=3)


def test_forecasts_breaking_out_of_a_published_runs_bands_flag_their_region(loaded: Engine) -> None:
    run = run_forecast(loaded, horizon=14, models=["SeasonalNaive"], cutoff=CUTOFF).run_id
    week = (CUTOFF + dt.timedelta(days=1), CUTOFF + dt.timedelta(days=7))
    banded = _values(loaded, run).filter(pl.col("region_id") == "R01", pl.col("day") <= week[1],
                                         pl.col("hi80") > pl.col("lo80"))["sku_id"].n_unique()
    with session_scope(loaded) as session:  # R01 sells four times as much the week after the run
        session.execute(update(Sales).where(Sales.region_id == "R01", Sales.day.between(*week))
                        .values(units=Sales.units * 4 + 10))
    checks = check_shocks_at(loaded, rules=ShockRules(), cutoff=week[1])
    by = {r["region"]: r for r in checks.iter_rows(named=True)}
    assert by["R01"]["active"] and by["R01"]["breakout_series"] == banded >= 5 and by["R01"]["breakout_above"] > 0.5
    assert "outside their 80% band" in by["R01"]["reason"] and by["R01"]["case_rise"] < 10
    assert not by["R02"]["active"] and by["R02"]["breakout_share"] < 0.5


def test_a_run_forecasts_flagged_regions_with_short_memory_and_wider_bands(loaded: Engine) -> None:
    rules = ShockRules(case_rise=50.0, window=112)  # on BOTH_RISING only R02's cases rise by 50 per 100k in a week
    plain = run_forecast(loaded, horizon=14, models=["AutoETS"], cutoff=BOTH_RISING)
    shocked = run_forecast(loaded, horizon=14, models=["AutoETS"], cutoff=BOTH_RISING, shock=rules)
    assert list(shocked.shock.regions) == ["R02"] and plain.shock is None
    r02 = shocked.shock.regions["R02"]
    # R02's 9 series less FAS-007, inactive at the cutoff (no sale for 68 days: forecast zero, not modelled)
    assert r02.raised_on == BOTH_RISING.isoformat() and r02.series == 8 and r02.models == {"AutoETS": 8}
    assert shocked.series_shapes.inactive == [{"sku": "FAS-007", "region": "R02", "days_without_sale": 68}]
    assert r02.reason.startswith("cases ") and shocked.shock.rules.window == 112
    with session_scope(loaded) as session:
        config = session.get(ForecastRun, shocked.run_id).config
    assert config["shock"]["regions"]["R02"]["series"] == 8
    first, second = (_values(loaded, run) for run in (plain.run_id, shocked.run_id))
    calm = [f.filter(pl.col("region_id") == "R01").drop("run_id") for f in (first, second)]
    assert calm[0].equals(calm[1]), "an unflagged region is forecast as without the policy"
    flagged = second.filter(pl.col("region_id") == "R02", pl.col("model") != "Inactive").sort("sku_id", "day")
    frames = _frames(loaded, BOTH_RISING, horizon=14)
    ids = frames.series.filter(pl.col("region") == "R02")
    keep = pl.col("unique_id").is_in(ids["unique_id"].implode())
    expected = widened(Forecaster(["AutoETS"], max_train=112).forecast(
        frames.history.filter(keep), frames.future.filter(keep), h=14).forecasts, rules)
    expected = expected.join(ids, on="unique_id").sort("sku", "ds")
    for col in ("yhat", "lo80", "hi80", "lo95", "hi95"):
        assert flagged[col].to_list() == pytest.approx(expected[col].to_list(), rel=1e-9, abs=1e-9)


def _frames(engine: Engine, cutoff: dt.date, *, horizon: int) -> ModelFrames:
    with session_scope(engine) as session:
        return model_frames(signal_features(session=session, cutoff=cutoff, horizon=horizon), cutoff=cutoff)


def test_by_default_a_flagged_region_keeps_its_forecasts_and_widens_its_bands(loaded: Engine) -> None:
    rules = ShockRules(case_rise=50.0)
    assert rules.window == 0
    plain = _values(loaded, run_forecast(loaded, horizon=14, models=["AutoETS"], cutoff=BOTH_RISING).run_id)
    shocked = run_forecast(loaded, horizon=14, models=["AutoETS"], cutoff=BOTH_RISING, shock=rules)
    assert list(shocked.shock.regions) == ["R02"]
    second = _values(loaded, shocked.run_id)
    assert plain.drop("run_id", "lo95", "lo80", "hi80", "hi95").equals(second.drop("run_id", "lo95", "lo80", "hi80", "hi95"))
    r01 = [f.filter(pl.col("region_id") == "R01").drop("run_id") for f in (plain, second)]
    assert r01[0].equals(r01[1])
    before, after = (f.filter(pl.col("region_id") == "R02") for f in (plain, second))
    assert (after["hi95"] - after["yhat"]).to_list() == pytest.approx((1.5 * (before["hi95"] - before["yhat"])).to_list())
    assert (after["hi80"] - after["yhat"]).to_list() == pytest.approx((1.5 * (before["hi80"] - before["yhat"])).to_list())


def _values(engine: Engine, run_id: int) -> pl.DataFrame:
    with session_scope(engine) as session:
        rows = session.execute(select(ForecastValue.run_id, ForecastValue.sku_id, ForecastValue.region_id,
                                      ForecastValue.day, ForecastValue.yhat, ForecastValue.lo80, ForecastValue.hi80,
                                      ForecastValue.lo95, ForecastValue.hi95, ForecastValue.model)
                               .where(ForecastValue.run_id == run_id)).all()
    return pl.DataFrame(rows, orient="row", schema=["run_id", "sku_id", "region_id", "day", "yhat", "lo80", "hi80",
                                                    "lo95", "hi95", "model"]).sort("sku_id", "region_id", "day")


def test_demand_forecast_shocks_prints_and_stores_the_flags(loaded: Engine, cli: CliRunner) -> None:
    result = cli.invoke(app, ["forecast", "shocks", "--cutoff", R02_RISING.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["region"]: r for r in json.loads(result.stdout)}
    assert rows["R02"]["active"] and rows["R02"]["raised_on"] == R02_RISING.isoformat() and not rows["R01"]["active"]
    text = cli.invoke(app, ["forecast", "shocks", "--cutoff", R02_RISING.isoformat()])
    assert "2 regions checked; flagged: R02" in text.stdout and f"R02 flagged since {R02_RISING}: cases " in text.stdout
    bad = cli.invoke(app, ["forecast", "shocks", "--cutoff", "soon"])
    assert bad.exit_code != 0 and "--cutoff 'soon' is not a date; use YYYY-MM-DD" in bad.output
