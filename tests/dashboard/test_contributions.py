"""Signal contributions are shown only for forecasts a contributing model (XGBoost) made; other
forecasts say in words why they have none. Read side: whatever contribution rows a run stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard import queries
from forecast.cli import app as cli_app
from forecast.pipeline.explain import CONTRIBUTING_MODELS, SIGNAL_READERS, explain_change, signal_note
from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings
from forecast.storage import forecast_repo, user_repo
from forecast.storage.engine import session_scope

PASSWORD = "correct horse battery"
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _stray_contributions(engine: Engine, run_id: int) -> pl.DataFrame:
    """Contribution rows for every published series of `run_id`, as a run that stored XGBoost's
    contributions of series another model won would leave them; returns the published rows."""
    with session_scope(engine) as session:
        published = forecast_repo.read_published(session=session)
        stray = published.select(pl.col("sku").alias("sku_id"), pl.col("region").alias("region_id"), "day",
                                 pl.lit("promo_on").alias("feature"), pl.lit(0.25).alias("contribution"))
        forecast_repo.write_contributions(session=session, run_id=run_id, contributions=stray)
    return published


def test_contributions_stored_for_a_series_another_model_won_are_not_shown(loaded: Engine) -> None:
    run_id = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    published = _stray_contributions(loaded, run_id)
    sku, region = published.row(0, named=True)["sku"], published.row(0, named=True)["region"]
    assert queries.series_contributions(loaded, run_id, sku, region).is_empty()


def test_a_mixed_run_shows_contributions_exactly_where_xgboost_made_the_forecast(loaded: Engine) -> None:
    run_id = run_forecast(loaded, horizon=7, models=["SeasonalNaive", "XGBoost"]).run_id
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
    models = published.group_by("sku", "region").agg(pl.col("model").first()).sort("sku", "region")
    assert set(models["model"]) >= {"XGBoost"}
    for sku, region, model in models.iter_rows():
        shown = queries.series_contributions(loaded, run_id, sku, region)
        assert shown.is_empty() == (model != "XGBoost"), (sku, region, model)


def test_signal_note_names_the_model_in_plain_words() -> None:
    assert signal_note("AutoETS") == ("AutoETS forecasts this series from its own sales history; "
                                      "it reads no external signals.")
    assert signal_note("CrostonOptimized (fallback from XGBoost)").startswith("CrostonOptimized forecasts this series")
    assert "reads the external signals as regressors" in signal_note("Prophet")
    assert CONTRIBUTING_MODELS <= SIGNAL_READERS


def test_the_models_lists_agree_with_the_model_code() -> None:
    from forecast.backtest.config import SIGNAL_MODELS
    from forecast.models.gradient import MODEL

    assert SIGNAL_READERS == SIGNAL_MODELS and CONTRIBUTING_MODELS == {MODEL}


@pytest.fixture
def dashboard_on(loaded: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    with session_scope(loaded) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield loaded
    get_settings.cache_clear()


def test_explorer_says_why_an_autoets_forecast_shows_no_contributions(dashboard_on: Engine) -> None:
    run_id = run_forecast(dashboard_on, horizon=7, models=["AutoETS"]).run_id
    _stray_contributions(dashboard_on, run_id)
    page = AppTest.from_file(APP, default_timeout=60).run()
    page.text_input[0].input("pia")
    page.text_input[1].input(PASSWORD)
    page.button[0].click().run()
    page.switch_page("views/explorer.py").run()
    assert not page.exception, page.exception
    captions = [c.value for c in page.caption]
    assert "AutoETS forecasts this series from its own sales history; it reads no external signals." in captions
    assert not page.select_slider  # no contribution days to pick
    assert all("feature" not in frame.value.columns for frame in page.dataframe)


def test_cli_explain_reports_no_contribution_change_for_a_series_xgboost_did_not_make(
        cli: CliRunner, loaded: Engine) -> None:
    first = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    second = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    published = _stray_contributions(loaded, first)
    with session_scope(loaded) as session:  # the later run's stray rows differ: a change XGBoost did not make
        forecast_repo.write_contributions(session=session, run_id=second, contributions=published.select(
            pl.col("sku").alias("sku_id"), pl.col("region").alias("region_id"), "day",
            pl.lit("promo_on").alias("feature"), pl.lit(2.0).alias("contribution")))
    sku, region = published["sku"][0], published["region"][0]
    result = cli.invoke(cli_app, ["forecast", "explain", sku, region, "--run", str(second), "--against", str(first)])
    assert result.exit_code == 0, result.output
    assert "contribution" not in result.output
    with session_scope(loaded) as session:
        out = explain_change(session=session, sku=sku, region=region, run_id=second, against=first)
    assert not any("contribution" in r["what"] for r in out.reasons)
