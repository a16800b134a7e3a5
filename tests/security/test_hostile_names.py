"""Hostile SKU and region names are data: ingested, forecast, shown and queried verbatim, and
nothing they spell runs (every query binds its values)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import Sales, Sku

HOSTILE_SKUS = {"STA-001": "'; DROP TABLE sales; --", "STA-002": 'Robert"); DELETE FROM sku; --',
                "STA-003": "<script>alert('x')</script>", "STA-004": "semi;colon,comma \"quoted\""}
HOSTILE_REGION = ("R01", "R01' OR '1'='1")
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def _hostile_files(scenario: DemoScenario, folder: Path) -> dict[str, Path]:
    """The scenario's master data and sales with four SKU ids and one region id replaced."""
    regions = pl.read_csv(scenario.regions).with_columns(pl.col("region").replace(*HOSTILE_REGION))
    skus = pl.read_csv(scenario.skus).with_columns(pl.col("sku").replace(HOSTILE_SKUS))
    sales = pl.read_csv(scenario.sales).with_columns(pl.col("sku").replace(HOSTILE_SKUS),
                                                     pl.col("region").replace(*HOSTILE_REGION))
    paths = {"regions": folder / "regions.csv", "skus": folder / "skus.csv", "sales": folder / "sales.csv"}
    regions.write_csv(paths["regions"])
    skus.write_csv(paths["skus"])
    sales.write_csv(paths["sales"])
    return paths


def test_hostile_names_pass_through_ingest_forecast_cli_and_dashboard(
        cli: CliRunner, engine: Engine, small_scenario: DemoScenario, tmp_path: Path, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _hostile_files(small_scenario, tmp_path)
    for kind in ("regions", "skus", "sales"):
        result = cli.invoke(app, ["ingest", kind, str(paths[kind])])
        assert result.exit_code == 0, result.output
    tables = set(inspect(engine).get_table_names())
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Sales)) == small_scenario.n_sales_rows
        assert set(HOSTILE_SKUS.values()) <= set(session.scalars(select(Sku.id)))
    assert cli.invoke(app, ["forecast", "run", "--models", "SeasonalNaive", "--horizon", "7"]).exit_code == 0

    sku, region = HOSTILE_SKUS["STA-001"], HOSTILE_REGION[1]
    shown = cli.invoke(app, ["forecast", "show", sku, region, "--json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert len(rows) == 7 and {(r["sku"], r["region"]) for r in rows} == {(sku, region)}
    missing = cli.invoke(app, ["forecast", "show", "x' OR 1=1 --", region])  # a near miss finds nothing
    assert missing.exit_code == 2 and "no published forecast for SKU" in missing.output
    assert set(inspect(engine).get_table_names()) == tables
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Sales)) == small_scenario.n_sales_rows

    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password="correct horse battery", role="planner")
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        page = AppTest.from_file(APP, default_timeout=60).run()
        page.text_input[0].input("pia")
        page.text_input[1].input("correct horse battery")
        page.button[0].click().run()
        page.switch_page("views/explorer.py").run()
        script = HOSTILE_SKUS["STA-003"]
        page.selectbox[0].select(script).run()
        page.selectbox[1].select(region).run()
        assert not page.exception, page.exception
        assert (page.query_params["sku"], page.query_params["region"]) == (script, region)
        table = page.dataframe[0].value
        assert len(table) == 7
        assert not any("<script>" in m.value and m.proto.allow_html for m in page.markdown)
    finally:
        get_settings.cache_clear()
    assert set(inspect(engine).get_table_names()) == tables
