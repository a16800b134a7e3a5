"""The dashboard's pages through Streamlit's AppTest, on a database with a published run and job history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def published(loaded: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The small scenario with a published 14-day run, the dashboard pointed at it."""
    run_id = run_forecast(loaded, horizon=14, models=["SeasonalNaive"]).run_id
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield run_id
    get_settings.cache_clear()


def _app() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def test_overview_shows_the_published_run_and_totals(published: int, loaded: Engine) -> None:
    app = _app()
    assert app.title[0].value == "Overview"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Published run"] == f"#{published}" and metrics["Series"] == "18"
    totals = app.dataframe[-1].value
    with session_scope(loaded) as session:
        forecast = forecast_repo.read_published(session=session)["yhat"].sum()
    assert totals["forecast"].sum() == pytest.approx(forecast)
    assert app.info[0].value.startswith("No scheduled job has run yet")


def test_explorer_draws_one_series_with_its_bands(published: int) -> None:
    app = _app()
    app.switch_page("views/explorer.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Explorer"
    chart = app.get("plotly_chart")[0]
    figure = chart.proto.spec
    assert '"95% band"' in figure and '"80% band"' in figure and '"forecast"' in figure
    table = app.dataframe[0].value
    assert len(table) == 14 and (table["lo95"] <= table["yhat"]).all() and (table["yhat"] <= table["hi95"]).all()
    second = app.selectbox[0].options[1]
    app.selectbox[0].select(second).run()
    assert app.query_params["sku"] == second.split(" · ")[0]


def test_runs_page_lists_runs_and_jobs(published: int, loaded: Engine) -> None:
    from scheduler.jobs import accuracy

    assert accuracy() == "succeeded"
    app = _app()
    app.switch_page("views/runs.py").run()
    assert not app.exception, app.exception
    runs, jobs = app.dataframe[0].value, app.dataframe[1].value
    assert runs["run"].tolist() == [published] and runs["status"].tolist() == ["published"]
    assert jobs["job"].tolist() == ["accuracy"] and jobs["status"].tolist() == ["succeeded"]


def test_csv_downloads_escape_formula_cells() -> None:
    from dashboard.export import safe_csv

    frame = pl.DataFrame({"sku": ["=HYPERLINK(1)", "+1", "-2", "@x", "plain"], "units": [-1.0, 2.0, 3.0, 4.0, 5.0]})
    lines = safe_csv(frame).decode().splitlines()
    assert lines == ["sku,units", "'=HYPERLINK(1),-1.0", "'+1,2.0", "'-2,3.0", "'@x,4.0", "plain,5.0"]
