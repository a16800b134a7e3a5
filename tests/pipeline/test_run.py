"""A forecast run end to end on both engines: published rows, failures, a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, select

from forecast.errors import ForecastError
from forecast.models.gradient import GradientBoostingAdapter
from forecast.models.statistical import StatisticalAdapter
from forecast.pipeline.run import run_forecast
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun

FAST = ["SeasonalNaive", "AutoTheta"]


def _published(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session)


def _chosen(engine: Engine, run_id: int) -> pl.DataFrame:
    """sku and region ids with the model `run_id` chose for them."""
    from forecast.pipeline.forecaster import asked_model
    from forecast.storage.schema import ForecastValue

    with session_scope(engine) as session:
        rows = session.execute(select(ForecastValue.sku_id, ForecastValue.region_id, ForecastValue.model)
                               .where(ForecastValue.run_id == run_id).distinct()).all()
    return (pl.DataFrame(rows, schema=["sku", "region", "model"], orient="row")
            .select("sku", "region", asked_model().alias("model")).unique().sort("sku", "region"))


def test_run_publishes_one_complete_run_with_ordered_non_negative_rows(loaded: Engine) -> None:
    report = run_forecast(loaded, horizon=14, models=FAST)
    view = _published(loaded)
    assert report.status == "published" and report.series == 18
    assert view.height == 18 * 14 == report.rows
    assert set(view["run_id"]) == {report.run_id}
    assert view.select((pl.col("lo95") >= 0) & (pl.col("lo95") <= pl.col("lo80")) & (pl.col("lo80") <= pl.col("yhat"))
                       & (pl.col("yhat") <= pl.col("hi80")) & (pl.col("hi80") <= pl.col("hi95"))).to_series().all()
    assert set(view["model"]) <= {"SeasonalNaive", "AutoTheta"} and view["model"].null_count() == 0
    assert sum(report.models.values()) == 18
    assert view.group_by("sku", "region").len()["len"].to_list() == [14] * 18


def test_a_failed_run_leaves_the_published_run_in_place(loaded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    before = _published(loaded)

    def broken(self, *args, **kwargs):
        raise RuntimeError("model library crashed")

    monkeypatch.setattr(StatisticalAdapter, "forecast", broken)
    with pytest.raises(ForecastError, match="SeasonalNaive, the last fallback, failed on 18 series: RuntimeError: "
                       "model library crashed"):
        run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    assert _published(loaded).equals(before)
    with session_scope(loaded) as session:
        runs = dict(session.execute(select(ForecastRun.id, ForecastRun.status)).all())
        failed = session.scalars(select(ForecastRun).where(ForecastRun.status == "failed")).one()
    assert runs[first.run_id] == "published"
    assert failed.error == ("ForecastError: SeasonalNaive, the last fallback, failed on 18 series: RuntimeError: "
                            "model library crashed")


def test_a_family_that_fails_falls_back_to_seasonal_naive_and_the_run_publishes(
        loaded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self, history, *args, **kwargs):
        ids = ", ".join(history["unique_id"].unique().sort().head(2))
        raise ValueError(f"Series contain missing or duplicate timestamps for series {ids}")

    monkeypatch.setattr(GradientBoostingAdapter, "forecast", broken)
    report = run_forecast(loaded, horizon=7, models=["XGBoost"])
    assert report.status == "published" and report.models == {"SeasonalNaive (fallback from XGBoost)": 18}
    assert [(f.family, f.models, f.series, f.fallback) for f in report.fallbacks] == [
        ("mlforecast", ["XGBoost"], 18, "SeasonalNaive")]
    assert report.fallbacks[0].reason == ("ValueError: Series contain missing or duplicate timestamps for series "
                                             "ELE-008 × R01, ELE-008 × R02")
    with session_scope(loaded) as session:
        assert session.get(ForecastRun, report.run_id).config["fallbacks"] == [f.to_dict() for f in report.fallbacks]
    assert _published(loaded).height == 18 * 7


def test_killing_the_process_mid_run_leaves_the_previous_run_readable(loaded: Engine, db_url: str) -> None:
    first = run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    before = _published(loaded)
    env = {**os.environ, "DEMAND_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "forecast.cli.main", "forecast", "run", "--horizon", "7",
                             "--models", "AutoETS", "--models", "AutoTheta"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    blocker = loaded.connect()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the new run exists as a draft
            with session_scope(loaded) as session:
                if session.scalar(select(ForecastRun.id).where(ForecastRun.status == "draft")):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the run never started")
        # a write lock on forecast_value holds the run before its publish, so the kill lands mid-run
        if loaded.dialect.name == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.begin()
            blocker.exec_driver_sql("LOCK TABLE forecast_value IN SHARE MODE")
        time.sleep(0.5)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        blocker.close()  # ends the lock's transaction
    assert _published(loaded).equals(before)
    with session_scope(loaded) as session:
        statuses = dict(session.execute(select(ForecastRun.id, ForecastRun.status)).all())
    assert statuses[first.run_id] == "published"
    assert sorted(statuses.values()) == ["draft", "published"]


def test_xgboost_run_stores_signal_contributions(loaded: Engine) -> None:
    from sqlalchemy import func

    from forecast.storage.schema import ForecastContribution

    report = run_forecast(loaded, horizon=7, models=["XGBoost"])
    view = _published(loaded)
    assert set(view["model"]) == {"XGBoost"} and view.height == 18 * 7
    with session_scope(loaded) as session:
        features = set(session.scalars(select(ForecastContribution.feature).distinct()))
        rows = session.scalar(select(func.count()).select_from(ForecastContribution)
                              .where(ForecastContribution.run_id == report.run_id))
    assert {"promo_on", "ls_on_air", "cases_7d_per_100k"} <= features
    assert rows == 18 * 7 * len(features)


def test_a_nightly_run_keeps_recent_model_choices_and_refits_only_those(loaded: Engine,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from sqlalchemy import func

    from forecast.pipeline.forecaster import Forecaster
    from forecast.pipeline.reuse import choice_slice
    from forecast.storage.schema import Sales

    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    models = ["SeasonalNaive", "TSB"]
    before = last - dt.timedelta(days=1)
    first = run_forecast(loaded, horizon=7, models=models, cutoff=before, reselect_days=7)
    assert first.selection.to_dict() == {"made_on": str(before), "reused_from": None, "series_reused": 0,
                                         "series_selected": 18, "slices_made_on": {str(k): str(before) for k in range(7)}}
    chosen_first = _chosen(loaded, first.run_id)
    turn = chosen_first.select(choice_slice(7) == last.toordinal() % 7).to_series()
    assert 0 < turn.sum() < 18  # the slice whose turn it is tonight

    scored: list[int] = []
    holdout = Forecaster._holdout_scores
    monkeypatch.setattr(Forecaster, "_holdout_scores", lambda self, history, *, h, candidates: (
        scored.append(candidates.height), holdout(self, history, h=h, candidates=candidates))[1])
    second = run_forecast(loaded, horizon=7, models=models, cutoff=last, reselect_days=7)
    assert second.selection.to_dict() == {
        "made_on": str(before), "reused_from": first.run_id, "series_reused": 18 - turn.sum(),
        "series_selected": turn.sum(),
        "slices_made_on": {str(k): str(last if k == last.toordinal() % 7 else before) for k in range(7)}}
    assert scored == [2 * turn.sum()]  # only tonight's slice went through a holdout, with its 2 candidates
    published = _published(loaded)
    assert published["day"].min() == last + dt.timedelta(days=1)  # refitted on the new day
    assert _chosen(loaded, second.run_id).filter(~turn).equals(chosen_first.filter(~turn))
    with session_scope(loaded) as session:
        assert session.get(ForecastRun, second.run_id).config["selection"]["reused_from"] == first.run_id

    # every slice takes its turn: a week of nights chooses each series again once
    for night in range(1, 7):
        report = run_forecast(loaded, horizon=7, models=models, cutoff=last + dt.timedelta(days=night),
                              reselect_days=7)
        assert report.selection.made_on == str(before if night < 6 else last)
    assert set(report.selection.slices_made_on.values()) == {str(last + dt.timedelta(days=n)) for n in range(7)}

    # too old (no run within the week), asked not to, or other models: chosen again on a holdout
    eight_days = run_forecast(loaded, horizon=7, models=models, cutoff=last + dt.timedelta(days=14), reselect_days=7)
    again = run_forecast(loaded, horizon=7, models=models, cutoff=last, reselect_days=0)
    other = run_forecast(loaded, horizon=7, models=["SeasonalNaive", "CrostonOptimized"], cutoff=last, reselect_days=7)
    for report in (eight_days, again, other):
        assert report.selection.reused_from is None and report.selection.series_selected == 18


def test_a_nightly_run_forecasts_xgboost_from_the_kept_model_without_refitting(
        loaded: Engine, caplog: pytest.LogCaptureFixture) -> None:
    import datetime as dt

    from sqlalchemy import func, update

    from forecast.storage.schema import ModelState, Sales

    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    first = run_forecast(loaded, horizon=7, models=["XGBoost"], cutoff=last - dt.timedelta(days=1), refit_days=7)
    assert first.to_dict()["refits"] == {"mlforecast": {"refitted": True, "series": 18}}
    before = _published(loaded)

    second = run_forecast(loaded, horizon=7, models=["XGBoost"], cutoff=last, refit_days=7)
    assert second.to_dict()["refits"] == {"mlforecast": {"refitted": False, "series": 18, "model_of_run": first.run_id,
                                            "trained_through": str(last - dt.timedelta(days=1))}}
    nightly = _published(loaded)
    assert nightly["day"].min() == last + dt.timedelta(days=1) and nightly.height == 18 * 7
    assert not nightly.filter(pl.col("day") == last + dt.timedelta(days=1))["yhat"].equals(
        before.filter(pl.col("day") == last + dt.timedelta(days=1))["yhat"])  # the new day's actuals are used
    with session_scope(loaded) as session:
        kept = session.execute(select(ModelState.run_id, ModelState.trained_through)).all()
        assert session.get(ForecastRun, second.run_id).config["refits"] == second.to_dict()["refits"]
    assert kept == [(first.run_id, last - dt.timedelta(days=1))]  # stored once, by the run that fitted it

    refitted = run_forecast(loaded, horizon=7, models=["XGBoost"], cutoff=last, refit_days=0)
    assert refitted.refits["mlforecast"].refitted is True
    refit_values = _published(loaded).sort("sku", "region", "day")["yhat"]
    assert (refit_values - nightly.sort("sku", "region", "day")["yhat"]).abs().max() > 0  # a different fit

    with session_scope(loaded) as session:  # an altered payload is never unpickled: the run refits
        session.execute(update(ModelState).values(payload=b"\x80\x05not the model"))
    later = run_forecast(loaded, horizon=7, models=["XGBoost"], cutoff=last, refit_days=7)
    assert later.refits["mlforecast"].refitted is True and later.status == "published"
    assert "does not match its SHA-256; it was not loaded" in caplog.text

    import hashlib

    garbled = b"\x80\x05not the model"  # its digest matches, but it does not unpickle (other library versions)
    with session_scope(loaded) as session:
        session.execute(update(ModelState).values(payload=garbled, sha256=hashlib.sha256(garbled).hexdigest()))
    again = run_forecast(loaded, horizon=7, models=["XGBoost"], cutoff=last, refit_days=7)
    assert again.refits["mlforecast"].refitted is True and again.status == "published"
    assert "does not unpickle here" in caplog.text


def test_a_nightly_run_forwards_the_kept_statistical_fits_through_the_new_day(loaded: Engine) -> None:
    import datetime as dt

    from sqlalchemy import func

    from forecast.pipeline.reuse import choice_slice, kept_models
    from forecast.storage.schema import ModelState, Sales

    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    nights = {"models": FAST, "horizon": 7, "reselect_days": 7, "refit_days": 7}
    first = run_forecast(loaded, cutoff=last - dt.timedelta(days=1), **nights)
    assert first.to_dict()["refits"] == {"statsforecast": {"refitted": True, "series": 18}}
    chosen = _chosen(loaded, first.run_id)
    turn = chosen.select(choice_slice(7) == last.toordinal() % 7).to_series()  # chosen again tonight
    forwarded = chosen.filter(~turn & (pl.col("model") == "AutoTheta")).height
    assert 0 < forwarded < 18

    second = run_forecast(loaded, cutoff=last, **nights)
    assert second.to_dict()["refits"] == {"statsforecast": {
        "refitted": True, "series": 18, "series_refitted": 18 - forwarded, "series_forwarded": forwarded,
        "model_of_run": first.run_id, "trained_through": str(last - dt.timedelta(days=1))}}
    nightly = _published(loaded)
    assert nightly["day"].min() == last + dt.timedelta(days=1) and nightly.height == 18 * 7
    with session_scope(loaded) as session:
        stored = session.execute(select(ModelState.run_id, ModelState.family)).all()
    new_theta = _chosen(loaded, second.run_id).filter(turn & (pl.col("model") == "AutoTheta")).height
    # the second run stores only the fits it made: those of tonight's slice that chose AutoTheta
    assert stored == [(first.run_id, "statsforecast")] + [(second.run_id, "statsforecast")] * (new_theta > 0)
    assert new_theta > 0

    # the night after merges both runs' stored fits; for a pair in both, the second run's (newer) fit wins
    with session_scope(loaded) as session:
        config = session.get(ForecastRun, second.run_id).config
        merged = kept_models(session=session, config=config, cutoff=last + dt.timedelta(days=1), days=7,
                             families=("statsforecast",))["statsforecast"]
    theta = lambda frame: {f"{sku}\x1f{region}" for sku, region, _ in frame.filter(model="AutoTheta").rows()}  # noqa: E731
    from_second = theta(_chosen(loaded, second.run_id).filter(turn))
    assert merged.run_id == second.run_id
    assert {uid for uid, _ in merged.model.fits} == theta(chosen) | from_second
    for (uid, _), fit in merged.model.fits.items():  # holdout fits: trained through cutoff - horizon
        assert fit.trained_through == (last if uid in from_second else last - dt.timedelta(days=1)) - dt.timedelta(days=7)

    refitted = run_forecast(loaded, cutoff=last, **{**nights, "refit_days": 0})
    assert refitted.to_dict()["refits"] == {"statsforecast": {"refitted": True, "series": 18}}
    gap = (_published(loaded).sort("sku", "region", "day")["yhat"] - nightly.sort("sku", "region", "day")["yhat"]).abs()
    assert gap.max() > 0  # the forwarded fits are not refits


def test_kept_statistical_fits_follow_their_sku_and_region_when_a_new_series_shifts_the_ids(
        loaded: Engine, small_scenario, tmp_path) -> None:  # noqa: ANN001
    import datetime as dt

    from sqlalchemy import func

    from forecast.ingest import ColumnMapping, ingest_sales, ingest_skus
    from forecast.storage.schema import Sales

    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    nights = {"models": FAST, "horizon": 7, "reselect_days": 7, "refit_days": 7}
    run_forecast(loaded, cutoff=last - dt.timedelta(days=1), **nights)
    before = run_forecast(loaded, cutoff=last, **nights)
    assert before.refits["statsforecast"].series_forwarded > 0
    expected = _published(loaded).drop("run_id", "published_at").sort("sku", "region", "day")

    # a SKU whose id sorts first: every unique_id (a row number) of the old series moves by two
    sales = pl.read_csv(small_scenario.sales, infer_schema=False)
    first_sku = sales["sku"].min()
    sales.filter(pl.col("sku") == first_sku).with_columns(pl.lit("AAA-000").alias("sku")).write_csv(
        tmp_path / "sales.csv")
    (tmp_path / "skus.csv").write_text("sku,name,category\nAAA-000,New item,Electronics\n")
    with session_scope(loaded) as session:
        ingest_skus(tmp_path / "skus.csv", session=session)
        ingest_sales(tmp_path / "sales.csv", session=session, mapping=ColumnMapping())
    after = run_forecast(loaded, cutoff=last, **nights)
    assert after.series == 20 and after.refits["statsforecast"].series_forwarded == (
        before.refits["statsforecast"].series_forwarded)
    published = _published(loaded).drop("run_id", "published_at").filter(pl.col("sku") != "AAA-000")
    for col in ("yhat", "lo95", "hi95"):  # the same fits forwarded for the same series
        np.testing.assert_allclose(published.sort("sku", "region", "day")[col].to_numpy(), expected[col].to_numpy(),
                                   err_msg=col)
