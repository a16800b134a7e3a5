"""The M5 preset reads ../shared/data/m5_tiny_sales_prices_140series.csv.gz as is, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.storage.engine import make_engine, session_scope
from forecast.storage.schema import Region, Sales, Sku
from tests.ingest.test_sales_ingest import snapshot

M5_FILE = "m5_tiny_sales_prices_140series.csv.gz"


def test_m5_preset_loads_140_series_and_rerun_changes_nothing(cli: CliRunner, db_url: str, shared_data: Path) -> None:
    path = str(shared_data / M5_FILE)
    first = json.loads(cli.invoke(app, ["ingest", "sales", "--preset", "m5", path, "--json"]).stdout)
    assert (first["rows_accepted"], first["rows_rejected"], first["rows_inserted"]) == (267_820, 0, 267_820)
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        series = session.execute(select(Sales.sku_id, Sales.region_id).distinct()).all()
        assert len(series) == 140
        assert session.scalar(select(func.count()).select_from(Sku)) == 14
        assert session.get(Region, "CA_3").parent_id == "CA"
        assert session.get(Sku, "FOODS_3_080").category == "FOODS"
        assert session.get(Sku, "FOODS_3_080").attributes == {"dept": "FOODS_3"}
        assert session.scalar(select(func.sum(Sales.units))) == 1_542_534
        assert session.scalar(select(func.count()).select_from(Sales).where(Sales.price.is_(None))) > 0
    before = snapshot(engine)
    again = cli.invoke(app, ["ingest", "sales", "--preset", "m5", path])
    assert again.exit_code == 0 and "already ingested as batch 1" in again.stdout
    assert snapshot(engine) == before
    engine.dispose()


def test_a_backtest_of_the_m5_sample_reruns_to_the_same_bits(cli: CliRunner, shared_data: Path) -> None:
    assert cli.invoke(app, ["ingest", "sales", "--preset", "m5", str(shared_data / M5_FILE)]).exit_code == 0
    args = ["--windows", "2", "--horizon", "28", "--models", "SeasonalNaive", "--models", "AutoETS", "--json"]
    first = cli.invoke(app, ["backtest", "run", *args])
    assert first.exit_code == 0, first.output
    run_id = json.loads(first.stdout)["run_id"]
    again = cli.invoke(app, ["backtest", "rerun", str(run_id), "--json"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert (report["rerun_of"], report["matches_original"], report["max_abs_difference"]) == (run_id, True, 0.0)
