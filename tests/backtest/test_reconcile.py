"""Coherent totals in the backtest: every level scored before and after each method; the run uses the best."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from forecast.backtest import BacktestConfig, run_backtest
from forecast.backtest.reconcile import reconcile_backtest
from forecast.cli import app
from forecast.errors import InvalidInputError
from forecast.pipeline.reconcile import (BAND_FACTOR, BASE, DEFAULT_METHOD, LEVEL_METRICS, LEVELS, METHODS,
                                         reconciliation_evidence)
from forecast.pipeline.run import run_forecast
from forecast.storage import backtest_repo
from forecast.storage.engine import session_scope

CONFIG = BacktestConfig(windows=3, horizon=14, models=("SeasonalNaive", "AutoTheta"))


def test_reconciling_a_backtest_scores_every_level_before_and_after_and_the_run_follows_it(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        none = reconciliation_evidence(session=session)
    assert none.run_id is None and none.best_method() == DEFAULT_METHOD and none.band_factors("bottom_up") == {}
    backtest = run_backtest(loaded, CONFIG)
    report = reconcile_backtest(loaded, backtest.run_id)
    assert report.model == "Selected" and report.windows == [1, 2]  # Selected exists from the second window
    table = pl.DataFrame(report.table)
    assert table.height == len(LEVELS) * (1 + len(METHODS))
    assert set(table["method"]) == {BASE, *METHODS} and set(table["level"]) == set(LEVELS)
    assert table.select(pl.col("rmsse").is_finite().all(), pl.col("coverage_95").is_between(0, 1).all()).row(0) == (
        True, True)
    # bottom-up leaves the SKU x region forecasts as they were
    bottom = table.filter(pl.col("level") == "sku x region")
    assert bottom.filter(pl.col("method") == "bottom_up")["rmsse"].item() == pytest.approx(
        bottom.filter(pl.col("method") == BASE)["rmsse"].item())
    means = table.filter(pl.col("method") != BASE).group_by("method").agg(pl.col("rmsse").mean()).sort("rmsse")
    assert report.best == means["method"][0]
    with session_scope(loaded) as session:
        stored = backtest_repo.read_metrics(session=session, run_id=backtest.run_id, pooled_only=True)
        evidence = reconciliation_evidence(session=session)
    assert evidence.run_id == backtest.run_id and evidence.best_method() == report.best
    rows = stored.filter(pl.col("metric").is_in(list(LEVEL_METRICS.values())))
    assert set(rows["window_no"]) == {-1, 1, 2} and set(rows["model"]) == {f"Selected + {m}" for m in (BASE, *METHODS)}
    # band factors: one per aggregate level, method and band, over every window
    factors = stored.filter(pl.col("metric").str.starts_with(BAND_FACTOR))
    assert factors.height == (len(LEVELS) - 1) * (1 + len(METHODS)) * 2 and (factors["value"] > 0).all()
    assert set(evidence.band_factors(report.best)) == set(LEVELS) - {"sku x region"}
    # out of sample: window 2's bands rescaled by window 1's factors, for every aggregate level
    calibrated = stored.filter(pl.col("metric").str.starts_with("level_calibrated_coverage_"))
    assert set(calibrated["window_no"]) == {-1, 2} and calibrated["value"].is_between(0, 1).all()
    assert "calibrated_coverage_95" in table.columns
    reconcile_backtest(loaded, backtest.run_id)  # again: replaces its rows rather than adding to them
    with session_scope(loaded) as session:
        again = backtest_repo.read_metrics(session=session, run_id=backtest.run_id, pooled_only=True)
    assert again.height == stored.height
    run = run_forecast(loaded, horizon=7, models=["SeasonalNaive"], reconcile="auto")
    assert run.reconciliation.method == report.best
    assert run.reconciliation.chosen_by == f"backtest {backtest.run_id}"
    assert run.reconciliation.band_factors == evidence.band_factors(report.best)


def test_a_backtest_without_the_model_is_refused(loaded: Engine) -> None:
    backtest = run_backtest(loaded, BacktestConfig(windows=1, horizon=7, models=("SeasonalNaive",)))
    with pytest.raises(InvalidInputError, match=r"has no forecasts of 'Selected' \(Selected needs two or more windows\)"):
        reconcile_backtest(loaded, backtest.run_id)
    with pytest.raises(InvalidInputError, match=r"unknown reconciliation method\(s\) \['topdown'\]"):
        reconcile_backtest(loaded, backtest.run_id, model="SeasonalNaive", methods=["topdown"])
    report = reconcile_backtest(loaded, backtest.run_id, model="SeasonalNaive", methods=["bottom_up"])
    assert report.best == "bottom_up" and report.windows == [0]


def test_the_cli_prints_the_table_and_the_best_method(cli: CliRunner, loaded: Engine) -> None:
    run_backtest(loaded, BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive",)))
    result = cli.invoke(app, ["backtest", "reconcile", "--methods", "bottom_up", "--methods", "mint_ols"],
                        env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "category x region" in result.output and "mint_ols" in result.output
    assert "best: " in result.output
    bad = cli.invoke(app, ["forecast", "run", "--horizon", "7", "--models", "SeasonalNaive", "--reconcile", "nope"])
    assert bad.exit_code != 0 and "--reconcile 'nope' is unknown" in bad.output
