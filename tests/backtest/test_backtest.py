"""Backtests end to end on both engines: stored metrics that check out, exact reruns, data as known then."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.conftest import BACKENDS, database_url, load_scenario

from forecast.backtest import BacktestConfig, BacktestReport, rerun_backtest, run_backtest
from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.errors import InvalidInputError
from forecast.ingest import ColumnMapping, ingest_sales
from forecast.pipeline.selection import band_factors
from forecast.storage import backtest_repo
from forecast.storage.backtest_repo import ALL_WINDOWS
from forecast.storage.engine import make_engine, session_scope
from forecast.storage.schema import BacktestForecast, BacktestRun, ForecastRun

H = 14
CONFIG = BacktestConfig(windows=3, horizon=H, models=("SeasonalNaive", "AutoTheta", "XGBoost"), compare_signals=True)
SERIES = 18


def _forecasts(engine: Engine, run_id: int) -> pl.DataFrame:
    with session_scope(engine) as session:
        rows = session.execute(select(BacktestForecast.window_no, BacktestForecast.sku_id, BacktestForecast.region_id,
                                      BacktestForecast.model, BacktestForecast.day, BacktestForecast.y,
                                      BacktestForecast.yhat, BacktestForecast.lo95, BacktestForecast.hi95)
                               .where(BacktestForecast.run_id == run_id)).all()
    return pl.DataFrame(rows, schema=["window", "sku", "region", "model", "day", "y", "yhat", "lo95", "hi95"], orient="row")


def _metrics(engine: Engine, run_id: int) -> pl.DataFrame:
    with session_scope(engine) as session:
        return backtest_repo.read_metrics(session=session, run_id=run_id)


@pytest.fixture(scope="module", params=BACKENDS)
def backtested_once(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    small_scenario: DemoScenario) -> Iterator[tuple[Engine, BacktestReport]]:
    """One backtest per engine, shared by the tests that only read it."""
    for url in database_url(request, request.param, tmp_path_factory.mktemp("backtest")):
        engine = make_engine(url)
        report = run_backtest(load_scenario(engine, small_scenario), CONFIG)
        assert report.status == "complete" and report.series == SERIES
        yield engine, report
        engine.dispose()


@pytest.fixture
def backtested(backtested_once: tuple[Engine, BacktestReport]) -> tuple[Engine, int]:
    return backtested_once[0], backtested_once[1].run_id


def test_backtest_stores_every_window_model_and_step(backtested: tuple[Engine, int]) -> None:
    engine, run_id = backtested
    fc = _forecasts(engine, run_id)
    base = ["AutoTheta", "SeasonalNaive", "XGBoost", "XGBoost (no signals)"]
    per_window = fc.group_by("window", "model").len().sort("window", "model")
    assert per_window.filter(pl.col("window") == 0)["model"].to_list() == base
    assert per_window.filter(pl.col("window") == 2)["model"].to_list() == sorted([*base, "Ensemble", "Selected"])
    assert set(per_window["len"]) == {SERIES * H}
    assert (fc["lo95"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi95"]).all()
    with session_scope(engine) as session:
        run = backtest_repo.get_run(session=session, run_id=run_id)
        assert run.config["windows"] == 3 and run.data_batch_id > 0
    last_day = fc["day"].max()
    assert fc.filter(pl.col("window") == 2)["day"].min() == last_day - dt.timedelta(days=H - 1)


def test_stored_metrics_match_the_stored_forecasts(backtested: tuple[Engine, int]) -> None:
    engine, run_id = backtested
    fc, metrics = _forecasts(engine, run_id), _metrics(engine, run_id)
    one = fc.filter((pl.col("window") == 1) & (pl.col("model") == "AutoTheta"))
    by_series = one.group_by("sku", "region").agg((pl.col("yhat") - pl.col("y")).abs().mean().alias("mae"),
                                                  ((pl.col("y") >= pl.col("lo95")) & (pl.col("y") <= pl.col("hi95")))
                                                  .mean().alias("coverage_95"))
    stored = metrics.filter((pl.col("window_no") == 1) & (pl.col("model") == "AutoTheta") & (pl.col("step") == 0)
                            & (pl.col("sku_id") != "*")).pivot(on="metric", index=["sku_id", "region_id"], values="value")
    check = by_series.join(stored, left_on=["sku", "region"], right_on=["sku_id", "region_id"], suffix="_stored")
    assert check.height == SERIES
    assert check["mae"].to_list() == pytest.approx(check["mae_stored"].to_list(), rel=1e-9)
    assert check["coverage_95"].to_list() == pytest.approx(check["coverage_95_stored"].to_list())
    pooled = metrics.filter((pl.col("window_no") == 1) & (pl.col("model") == "AutoTheta") & (pl.col("sku_id") == "*")
                            & (pl.col("metric") == "wape") & (pl.col("step") == 0))["value"].item()
    assert pooled == pytest.approx((one["yhat"] - one["y"]).abs().sum() / one["y"].abs().sum(), rel=1e-9)
    steps = metrics.filter((pl.col("window_no") == 1) & (pl.col("model") == "AutoTheta") & (pl.col("sku_id") == "*")
                           & (pl.col("metric") == "mae") & (pl.col("step") > 0))
    assert steps.height == H and steps["value"].mean() == pytest.approx((one["yhat"] - one["y"]).abs().mean())
    by_window = fc.group_by("window", "model").agg(
        ((pl.col("yhat") - pl.col("y")).abs().sum() / pl.col("y").abs().sum()).alias("wape"))
    stored_wape = metrics.filter((pl.col("sku_id") == "*") & (pl.col("metric") == "wape") & (pl.col("step") == 0))
    assert set(stored_wape.filter(pl.col("model") == "Selected")["window_no"]) == {1, 2, ALL_WINDOWS}
    common = by_window.filter(pl.col("window") >= 1).group_by("model").agg(pl.col("wape").mean())  # windows 1-2
    check = common.join(stored_wape.filter(pl.col("window_no") == ALL_WINDOWS), on="model")
    assert check.height == 6 and check["wape"].to_list() == pytest.approx(check["value"].to_list(), rel=1e-9)
    levels = metrics.filter((pl.col("metric") == "wrmsse") & (pl.col("window_no") == 2) & (pl.col("model") == "Selected"))
    assert levels.height == 13 and levels.filter(pl.col("region_id") == "WRMSSE")["value"].item() == pytest.approx(
        levels.filter(pl.col("region_id") != "WRMSSE")["value"].mean())


def test_selection_uses_only_earlier_windows(backtested_once: tuple[Engine, BacktestReport]) -> None:
    engine, report = backtested_once
    run_id = report.run_id
    fc, metrics = _forecasts(engine, run_id), _metrics(engine, run_id)
    rmsse = metrics.filter((pl.col("metric") == "rmsse") & (pl.col("window_no") == 0) & (pl.col("sku_id") != "*")
                           & ~pl.col("model").is_in(["Selected", "Ensemble"]))
    best = rmsse.sort("value", "model").group_by("sku_id", "region_id").first()
    chosen = fc.filter((pl.col("window") == 1) & (pl.col("model") == "Selected")).join(
        best, left_on=["sku", "region"], right_on=["sku_id", "region_id"]).join(
        fc.filter(pl.col("window") == 1), left_on=["sku", "region", "day", "model_right"],
        right_on=["sku", "region", "day", "model"], suffix="_best")
    assert chosen.height == SERIES * H and (chosen["yhat"] == chosen["yhat_best"]).all()
    summary = report.summary  # over windows 1-2, the ones every model has
    assert {r["model"] for r in summary} >= {"Selected", "Ensemble", "XGBoost (no signals)"}
    assert all(0.0 <= r["coverage_95"] <= 1.0 for r in summary)
    ensemble = fc.filter(pl.col("model") == "Ensemble")
    assert ensemble.height == 2 * SERIES * H and (ensemble["lo95"] <= ensemble["hi95"]).all()
    # window 2's Selected bands: the chosen model's own bands, rescaled by what window 1's needed
    selected = fc.filter(pl.col("model") == "Selected")
    factor = band_factors(selected.filter(pl.col("window") == 1).with_columns(
        pl.col("lo95").alias("lo80"), pl.col("hi95").alias("hi80")))[95]
    earlier = metrics.filter((pl.col("metric") == "rmsse") & pl.col("window_no").is_in([0, 1])
                             & (pl.col("sku_id") != "*") & ~pl.col("model").is_in(["Selected", "Ensemble"]))
    best2 = earlier.group_by("sku_id", "region_id", "model").agg(pl.col("value").sort().mean()).sort(
        "value", "model").group_by("sku_id", "region_id").first()
    raw = fc.filter(pl.col("window") == 2).join(
        best2.select(pl.col("sku_id").alias("sku"), pl.col("region_id").alias("region"), "model"),
        on=["sku", "region", "model"])
    check = selected.filter(pl.col("window") == 2).join(raw, on=["sku", "region", "day"], suffix="_raw")
    assert check.height == SERIES * H
    assert (check["hi95"] - check["yhat"]).to_list() == pytest.approx(
        ((check["hi95_raw"] - check["yhat_raw"]) * factor).to_list(), rel=1e-9)
    stored = metrics.filter((pl.col("window_no") == ALL_WINDOWS) & pl.col("metric").str.starts_with("band_factor"))
    assert stored.sort("model", "metric")["model"].to_list() == ["Ensemble", "Ensemble", "Selected", "Selected"]


def test_rerun_gives_the_same_numbers_even_after_new_data(loaded: Engine, small_scenario: DemoScenario,
                                                          tmp_path: Path) -> None:
    engine, run_id = loaded, run_backtest(loaded, CONFIG).run_id
    sales = pl.read_csv(small_scenario.sales, try_parse_dates=True)
    last = sales["day"].max()
    corrected = sales.filter(pl.col("day") > last - dt.timedelta(days=30)).with_columns(pl.col("units") * 3 + 1)
    path = tmp_path / "corrected.csv"
    corrected.write_csv(path)
    with session_scope(engine) as session:
        report = ingest_sales(path, session=session, mapping=ColumnMapping())
        assert report.rows_updated == corrected.height  # every row of the last 30 days changed
    again = rerun_backtest(engine, run_id)
    assert again.rerun_of == run_id
    before, after = _metrics(engine, run_id), _metrics(engine, again.run_id)
    assert before.height == after.height > 0
    assert before.equals(after)
    fresh = run_backtest(engine, CONFIG)  # today's data: the corrections show
    changed = _metrics(engine, fresh.run_id).filter(pl.col("window_no") == ALL_WINDOWS, pl.col("metric") == "mae")
    original = before.filter(pl.col("window_no") == ALL_WINDOWS, pl.col("metric") == "mae")
    assert not changed["value"].equals(original["value"])


def test_too_little_history_or_bad_config_writes_nothing(loaded: Engine) -> None:
    with pytest.raises(InvalidInputError, match="too little history for 20 window"):
        run_backtest(loaded, BacktestConfig(windows=20, horizon=28, models=("SeasonalNaive",)))
    for kwargs, message in (({"windows": 0}, "--windows must be between"), ({"models": ("auto",)}, "named models"),
                            ({"ensemble_method": "mean"}, "ensemble method 'mean' is unknown"),
                            ({"models": ("AutoETS", "AutoETS")}, "lists a model twice")):
        with pytest.raises(InvalidInputError, match=message):
            BacktestConfig(**kwargs)
    with session_scope(loaded) as session:
        assert session.scalar(select(func.count()).select_from(BacktestRun)) == 0


def test_backtest_cli_run_show_rerun_compare(loaded: Engine, cli: CliRunner) -> None:
    args = ["backtest", "run", "--windows", "2", "--horizon", "7", "--models", "SeasonalNaive", "--models", "AutoTheta"]
    first = cli.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["status"] == "complete" and {r["model"] for r in report["summary"]} == {
        "SeasonalNaive", "AutoTheta", "Selected", "Ensemble"}
    run_id = str(report["run_id"])
    for by in ("model", "window", "step", "level"):
        shown = cli.invoke(app, ["backtest", "show", run_id, "--by", by, "--json"])
        assert shown.exit_code == 0 and json.loads(shown.stdout)["rows"], (by, shown.output)
    rerun = json.loads(cli.invoke(app, ["backtest", "rerun", run_id, "--json"]).stdout)
    assert rerun["matches_original"] is True and rerun["max_abs_difference"] == 0.0
    compared = json.loads(cli.invoke(app, ["backtest", "compare", run_id, str(rerun["run_id"]), "--json"]).stdout)
    assert all(r["wrmsse_a"] == r["wrmsse_b"] for r in compared["rows"])
    listed = json.loads(cli.invoke(app, ["backtest", "runs", "--json"]).stdout)
    assert [r["rerun_of"] for r in listed] == [int(run_id), None]
    text = cli.invoke(app, ["backtest", "show", run_id])
    assert text.exit_code == 0 and "wrmsse" in text.stdout
    for bad, message in ((["backtest", "run", "--models", "Magic"], "unknown model(s) Magic"),
                         (["backtest", "show", "999"], "no backtest run 999"),
                         (["backtest", "show", run_id, "--by", "colour"], "--by 'colour' is unknown")):
        result = cli.invoke(app, bad)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.output


def test_a_forecast_run_selects_each_series_model_from_the_backtest(loaded: Engine) -> None:
    from forecast.pipeline.run import run_forecast
    from forecast.storage import forecast_repo

    fast = BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive", "AutoTheta", "CrostonOptimized"))
    backtest = run_backtest(loaded, fast)
    scores = _metrics(loaded, backtest.run_id).filter(
        (pl.col("window_no") == ALL_WINDOWS) & (pl.col("metric") == "rmsse") & (pl.col("sku_id") != "*")
        & pl.col("model").is_in(list(fast.models)))
    best = scores.sort("value", "model").group_by("sku_id", "region_id").first().select(
        pl.col("sku_id").alias("sku"), pl.col("region_id").alias("region"), pl.col("model").alias("best"))
    report = run_forecast(loaded, horizon=7, models=["SeasonalNaive"], from_backtest="latest")
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
        run = session.get(ForecastRun, report.run_id)
        assert run.config["from_backtest"] == backtest.run_id and run.config["selection_metric"] == "rmsse"
        factors = backtest_repo.read_metrics(session=session, run_id=backtest.run_id, window=ALL_WINDOWS).filter(
            (pl.col("model") == "Selected") & pl.col("metric").str.starts_with("band_factor_"))
        assert run.config["band_factors"] == {m.removeprefix("band_factor_"): v
                                              for m, v in factors.select("metric", "value").iter_rows()}
    chosen = published.join(best, on=["sku", "region"])
    assert chosen.height == SERIES * 7
    assert (chosen["model"].str.extract(r"^(\w+)") == chosen["best"]).all()

    ensembled = run_forecast(loaded, horizon=7, from_backtest=backtest.run_id, ensemble="median", ensemble_size=2)
    with session_scope(loaded) as session:
        rows = forecast_repo.read_published(session=session)
    assert set(rows["run_id"]) == {ensembled.run_id} and rows.height == SERIES * 7
    assert rows["model"].str.starts_with("Ensemble(median of ").all()
    with pytest.raises(InvalidInputError, match="--ensemble combines the models a backtest ranked"):
        run_forecast(loaded, horizon=7, ensemble="median")
    with pytest.raises(InvalidInputError, match="no backtest run 999"):
        run_forecast(loaded, horizon=7, from_backtest=999)
