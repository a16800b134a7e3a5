"""The Dask engine against the local one, on a LocalCluster of two single-threaded worker processes.

statsforecast through fugue must give the local forecasts (its output is float32: ~6e-8 relative);
XGBoost through mlforecast's distributed forecaster must come close (distributed xgboost sketches
and sums histograms across workers); a forecast run on the engine publishes the local run's values.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import socket
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from distributed import Client, LocalCluster
from sqlalchemy import Engine, select
from typer.testing import CliRunner

import forecast
from forecast.backtest import BacktestConfig, run_backtest
from forecast.cli import app
from forecast.errors import InvalidInputError
from forecast.models import distributed
from forecast.models.base import FORECAST_SCHEMA, ModelSpec
from forecast.models.distributed import DaskEngine
from forecast.models.gradient import GradientBoostingAdapter
from forecast.models.statistical import StatisticalAdapter
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings
from forecast.storage import backtest_repo, forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import BacktestRun, ForecastRun

H = 14
START = dt.date(2023, 1, 2)
STAT_MODELS = ["AutoETS", "AutoTheta", "SeasonalNaive", "CrostonOptimized", "ARIMA"]
VALUES = ["yhat", "lo80", "hi80", "lo95", "hi95"]
XGB = [ModelSpec("XGBoost", {"n_jobs": 1})]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The scheduler address of a LocalCluster whose workers import this checkout's `forecast`."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as local, Client(local) as client:
        files = client.run(lambda: importlib.import_module("forecast").__file__)
        assert set(files.values()) == {forecast.__file__}, files
        yield local.scheduler_address
        distributed.shutdown()


@pytest.fixture(scope="module")
def dask(cluster: str) -> DaskEngine:
    return DaskEngine(cluster)


def _series(uid: str, y: np.ndarray, promo: np.ndarray, start: dt.date = START) -> pl.DataFrame:
    ds = pl.date_range(start, start + dt.timedelta(days=len(y) - 1), eager=True)
    return pl.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(y, dtype=float), "promo": promo})


def _panel(n_series: int = 20, days: int = 200, seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Smooth weekly and intermittent series with a promo flag, a 5-point one (every model falls
    back) and a 10-point one (too short for conformal intervals); history and the H-day future."""
    rng = np.random.default_rng(seed)
    t = np.arange(days + H)
    parts = []
    for i in range(n_series):
        promo = (rng.random(t.size) < 0.1).astype(float)
        level = rng.uniform(5, 40) * (1 + 0.3 * np.sin(2 * np.pi * t / 7)) * (1 + 0.6 * promo)
        y = rng.poisson(level) if i % 4 else rng.poisson(0.3, t.size) * rng.integers(1, 6, t.size)
        parts.append(_series(f"s{i:02d}", y, promo))
    parts.append(_series("tiny", np.full(5 + H, 6.0), np.zeros(5 + H), start=START + dt.timedelta(days=days - 5)))
    parts.append(_series("short", rng.poisson(4, 10 + H), np.zeros(10 + H), start=START + dt.timedelta(days=days - 10)))
    panel = pl.concat(parts)
    cut = START + dt.timedelta(days=days - 1)
    return panel.filter(pl.col("ds") <= cut), panel.filter(pl.col("ds") > cut).drop("y")


def _assert_same(local: pl.DataFrame, other: pl.DataFrame, *, rtol: float) -> None:
    keys = ["unique_id", "ds", "model"]
    assert other.schema == local.schema
    assert other.select(keys).sort(keys).equals(local.select(keys).sort(keys))
    joined = local.join(other, on=keys, suffix="_dask")
    for col in VALUES:
        np.testing.assert_allclose(joined[f"{col}_dask"].to_numpy(), joined[col].to_numpy(), rtol=rtol, atol=1e-9,
                                   err_msg=col)


def _wape(a: pl.Series, b: pl.Series) -> float:
    return float((a - b).abs().sum() / b.abs().sum())


def test_statistical_models_match_the_local_engine(dask: DaskEngine) -> None:
    history, future = _panel()
    specs = [ModelSpec(m) for m in STAT_MODELS]
    local = StatisticalAdapter().forecast(history, future, h=H, freq="D", specs=specs).forecasts
    on_dask = StatisticalAdapter(dask=dask).forecast(history, future, h=H, freq="D", specs=specs).forecasts
    _assert_same(local, on_dask, rtol=1e-6)
    assert local.schema == pl.Schema(FORECAST_SCHEMA)
    tiny = set(on_dask.filter(pl.col("unique_id") == "tiny")["model"])
    assert "HistoricAverage (fallback from SeasonalNaive)" in tiny  # the guarded fallback ran on the cluster too
    short = on_dask.filter((pl.col("unique_id") == "short") & (pl.col("model") == "CrostonOptimized"))
    assert short["lo95"].equals(short["yhat"]) and short.height == H  # too short for conformal: point only
    croston = on_dask.filter(pl.col("unique_id").str.contains(r"^s\d") & (pl.col("model") == "CrostonOptimized"))
    assert (croston["hi95"] > croston["yhat"]).mean() > 0.9  # conformal intervals computed on the workers


def test_frames_keep_each_series_in_one_partition(dask: DaskEngine) -> None:
    history, _ = _panel(n_series=9, days=30)
    frame = dask.frame(history)
    owners = frame.map_partitions(lambda p: p[["unique_id"]].drop_duplicates()).compute()
    assert frame.npartitions == 2 and owners["unique_id"].is_unique
    assert dask.collect(frame).select(history.columns).sort("unique_id", "ds").equals(history.sort("unique_id", "ds"))


def test_xgboost_on_dask_is_close_to_local(dask: DaskEngine) -> None:
    history, future = _panel()
    history, future = (f.filter(pl.col("unique_id").str.contains(r"^s\d")) for f in (history, future))
    local = GradientBoostingAdapter(contributions="approx").forecast(history, future, h=H, freq="D", specs=XGB)
    on_dask = GradientBoostingAdapter(contributions="approx", dask=dask).forecast(history, future, h=H, freq="D",
                                                                                   specs=XGB)
    keys = ["unique_id", "ds"]
    a, b = on_dask.forecasts.sort(keys), local.forecasts.sort(keys)
    assert a.schema == b.schema and a.select(keys).equals(b.select(keys))
    # measured: WAPE 2.2% (yhat), 1.6-2.8% (bounds); 0 with one partition, so it is the merged sketch
    for col in VALUES:
        assert _wape(a[col], b[col]) < 0.04, col
    assert (a["hi95"] > a["yhat"]).all() and (a["lo80"] < a["yhat"]).mean() > 0.9  # conformal bands
    assert on_dask.contributions is not None and local.contributions is not None
    ca, cb = (c.sort(*keys, "feature") for c in (on_dask.contributions, local.contributions))
    assert ca.select(*keys, "feature").equals(cb.select(*keys, "feature"))
    gap = (ca["contribution"] - cb["contribution"]).abs().mean()  # measured 0.0026, against a mean |c| of 0.069
    assert gap < 0.1 * cb["contribution"].abs().mean()


def _published(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session).drop("run_id", "published_at")


def test_forecast_run_on_dask_publishes_the_local_values(loaded: Engine, cluster: str) -> None:
    models = ["AutoTheta", "SeasonalNaive", "CrostonOptimized"]  # a holdout choice among three, on the cluster too
    run_forecast(loaded, horizon=7, models=models)
    local = _published(loaded)
    report = run_forecast(loaded, horizon=7, models=models, execution="dask", dask_address=cluster)
    on_dask = _published(loaded)
    assert report.status == "published" and report.series == 18
    keys = ["sku", "region", "day"]
    assert on_dask.select(*keys, "model").equals(local.select(*keys, "model"))
    for col in VALUES:
        np.testing.assert_allclose(on_dask[col].to_numpy(), local[col].to_numpy(), rtol=1e-6, atol=1e-9, err_msg=col)
    with session_scope(loaded) as session:
        config = session.get(ForecastRun, report.run_id).config  # type: ignore[union-attr]
    assert (config["engine"], config["dask_address"]) == ("dask", cluster)


def test_backtest_on_dask_scores_like_the_local_engine(loaded: Engine, cluster: str) -> None:
    config = BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive", "CrostonOptimized"), select=False)
    runs = [run_backtest(loaded, config).run_id,
            run_backtest(loaded, config, execution="dask", dask_address=cluster).run_id]
    with session_scope(loaded) as session:
        local, on_dask = (backtest_repo.read_metrics(session=session, run_id=r) for r in runs)
    keys = [c for c in local.columns if c != "value"]
    assert on_dask.select(keys).equals(local.select(keys))
    np.testing.assert_allclose(on_dask["value"].to_numpy(), local["value"].to_numpy(), rtol=1e-5, atol=1e-7)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_or_missing_address_is_one_clear_error() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(InvalidInputError, match=rf"cannot reach the Dask scheduler at {address} .*--dask-address"):
        DaskEngine(address, timeout=1)
    with LocalCluster(n_workers=0, dashboard_address=":0", silence_logs=logging.ERROR) as idle:
        with pytest.raises(InvalidInputError, match=rf"scheduler at {idle.scheduler_address} has no worker after 1 s"):
            DaskEngine(idle.scheduler_address, timeout=1)
    with pytest.raises(InvalidInputError, match=r"--dask-address is empty"):
        DaskEngine(" ")
    with pytest.raises(InvalidInputError, match=r"--engine dask needs --dask-address tcp://HOST:PORT"):
        Forecaster(["AutoETS"], execution="dask")
    with pytest.raises(InvalidInputError, match=r"engine 'spark' is unknown"):
        Forecaster(["AutoETS"], execution="spark")  # type: ignore[arg-type]


def test_cli_engine_options(loaded: Engine, cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_DASK_CONNECT_TIMEOUT", "1")
    get_settings.cache_clear()
    address = f"tcp://127.0.0.1:{_free_port()}"
    unreachable = f"cannot reach the Dask scheduler at {address}"
    for args, message in (
        (["forecast", "run", "--engine", "dask"], "--engine dask needs --dask-address"),
        (["forecast", "run", "--engine", "ray"], "--engine 'ray' is unknown"),
        (["forecast", "run", "--dask-address", address], "--dask-address is for --engine dask"),
        (["forecast", "run", "--engine", "dask", "--dask-address", address], unreachable),
        (["backtest", "run", "--engine", "dask", "--dask-address", address], unreachable),
    ):
        result = cli.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    with session_scope(loaded) as session:
        assert session.scalars(select(ForecastRun)).all() == []  # nothing was written
        assert session.scalars(select(BacktestRun)).all() == []


def test_cli_runs_on_a_local_cluster_named_in_settings(loaded: Engine, cli: CliRunner,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_DASK_ADDRESS", "local")  # a LocalCluster of this process, closed with the module
    get_settings.cache_clear()
    result = cli.invoke(app, ["forecast", "run", "--horizon", "7", "--models", "SeasonalNaive", "--engine", "dask",
                              "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["status"], report["rows"]) == ("published", 18 * 7)
    local = distributed.connect("local")
    assert len(local.nthreads()) == (os.cpu_count() or 1) and set(local.nthreads().values()) == {1}

