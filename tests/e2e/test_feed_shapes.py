"""Every shape a real sales feed takes, on the real M5 sample plus generated series, through the CLI.

A day reported for only some series, a 45-day hole of absent rows, a SKU launched 20 days before the
cutoff, a SKU whose last sale was 90 days before, the same file twice under two names, and ids with
`/`, `|`, quotes, spaces and non-ASCII letters: `demand forecast run` exits 0 and publishes one run
in which every live series has exactly `horizon` days over one common window, non-negative and ordered.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from forecast.cli import app
from forecast.storage.engine import make_engine

M5_FILE = "m5_tiny_sales_prices_140series.csv.gz"
DEMO_MODELS = ["SeasonalNaive", "AutoTheta", "CrostonOptimized", "XGBoost"]
HORIZON = 28
LAST = dt.date(2016, 4, 24)  # the M5 sample's last day
HOLED = ("FOODS_3_080", "CA_1")
HOSTILE_SKU = "home/garden 'Ø' \"rake\"|1"
HOSTILE_REGION = "CA/SF Zürich"


def _series(item: str, category: str, store: str, state: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    days = pl.date_range(start, end, eager=True)
    return pl.DataFrame({"item_id": item, "dept_id": f"{category}_1", "cat_id": category, "store_id": store,
                         "state_id": state, "date": days, "value": [3.0 + 2 * (i % 7 == 5) for i in range(len(days))],
                         "sell_price": 2.5})


def _files(shared: Path, folder: Path) -> dict[str, Path]:
    """The M5 sample cut to 3 items x 10 stores from March 2015, with a 45-day hole, plus generated
    series (launched, gone quiet, hostile names), and a one-day file reported early for 3 series."""
    m5 = pl.read_csv(shared / M5_FILE, try_parse_dates=True).filter(
        pl.col("item_id").is_in(["FOODS_3_080", "HOBBIES_1_254", "HOUSEHOLD_1_272"])
        & (pl.col("date") >= dt.date(2015, 3, 1)))
    hole = ((pl.col("item_id") == HOLED[0]) & (pl.col("store_id") == HOLED[1])
            & pl.col("date").is_between(dt.date(2015, 12, 1), dt.date(2016, 1, 14)))
    extra = pl.concat([
        _series("NEW_LAUNCH", "HOBBIES", "CA_1", "CA", LAST - dt.timedelta(days=19), LAST),
        _series("GONE_90", "FOODS", "TX_1", "TX", dt.date(2015, 3, 1), LAST - dt.timedelta(days=90)),
        _series(HOSTILE_SKU, "home/garden", HOSTILE_REGION, "CA", dt.date(2015, 3, 1), LAST),
    ])
    sales = pl.concat([m5.filter(~hole), extra.select(m5.columns)], how="vertical_relaxed")
    early = sales.filter(pl.col("date") == LAST).head(3).with_columns(pl.col("date") + dt.timedelta(days=1),
                                                                      pl.lit(4).alias("value"))
    paths = {name: folder / f"{name}.csv" for name in ("sales", "early", "early_again")}
    sales.write_csv(paths["sales"])
    early.write_csv(paths["early"])
    early.write_csv(paths["early_again"])
    return paths


def _published(db_url: str) -> pl.DataFrame:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sku, region, day, yhat, lo80, hi80, lo95, hi95, model, run_id "
                                 "FROM published_forecast")).all()
    engine.dispose()
    return pl.DataFrame([tuple(r) for r in rows], orient="row", schema=[
        "sku", "region", "day", "yhat", "lo80", "hi80", "lo95", "hi95", "model", "run_id"]).with_columns(
        pl.col("day").map_elements(lambda d: d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10]),
                                   return_dtype=pl.Date))


def _run_config(db_url: str, run_id: int) -> dict:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        config = conn.execute(text("SELECT config FROM forecast_run WHERE id = :id"), {"id": run_id}).scalar_one()
    engine.dispose()
    return json.loads(config) if isinstance(config, str) else config


def _ingest(cli: CliRunner, path: Path) -> dict:
    result = cli.invoke(app, ["ingest", "sales", "--preset", "m5", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("models", [DEMO_MODELS, ["auto"]], ids=["demo-models", "auto"])
def test_every_feed_shape_publishes_one_common_window(cli: CliRunner, db_url: str, shared_data: Path,
                                                      tmp_path: Path, models: list[str]) -> None:
    files = _files(shared_data, tmp_path)
    assert _ingest(cli, files["sales"])["absent"] == "unknown"  # the M5 file writes its zeros
    early = _ingest(cli, files["early"])
    assert early["absent"] == "zero" and early["rows_accepted"] == 3  # no zero rows: only days with a sale
    again = _ingest(cli, files["early_again"])
    assert again["already_ingested"] and again["batch_id"] == early["batch_id"]

    run = cli.invoke(app, ["forecast", "run", "--horizon", str(HORIZON), "--json",
                           *[arg for m in models for arg in ("--models", m)]])
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    cutoff = LAST + dt.timedelta(days=1)
    assert report["cutoff"] == cutoff.isoformat() and report["status"] == "published"

    view = _published(db_url)
    assert view["run_id"].n_unique() == 1
    per_series = view.group_by("sku", "region").agg(pl.len(), pl.col("day").min().alias("first"),
                                                    pl.col("day").max().alias("last"))
    assert per_series.height == 3 * 10 + 3  # every series, the inactive one with zeros
    assert per_series["len"].to_list() == [HORIZON] * per_series.height
    assert set(per_series["first"]) == {cutoff + dt.timedelta(days=1)}
    assert set(per_series["last"]) == {cutoff + dt.timedelta(days=HORIZON)}
    ordered = ((pl.col("lo95") >= 0) & (pl.col("lo95") <= pl.col("lo80")) & (pl.col("lo80") <= pl.col("yhat"))
               & (pl.col("yhat") <= pl.col("hi80")) & (pl.col("hi80") <= pl.col("hi95")))
    assert view.filter(~ordered).is_empty()
    assert view["model"].null_count() == 0

    gone = view.filter(pl.col("sku") == "GONE_90")
    assert set(gone["model"]) == {"Inactive"} and gone["hi95"].sum() == 0
    assert view.filter(pl.col("sku") == HOSTILE_SKU)["region"].unique().to_list() == [HOSTILE_REGION]
    assert view.filter(pl.col("sku") == "NEW_LAUNCH")["yhat"].sum() > 0

    shapes = _run_config(db_url, report["run_id"])["series_shapes"]
    assert shapes == report["series_shapes"]
    assert shapes["series"] == {"inactive": 1, "late": 3 * 10 + 2 - 3, "live": 3}
    assert {(r["sku"], r["region"], r["days_late"]) for r in shapes["late"]} >= {("NEW_LAUNCH", "CA_1", 1),
                                                                                (HOSTILE_SKU, HOSTILE_REGION, 1)}
    assert shapes["inactive"] == [{"sku": "GONE_90", "region": "TX_1", "days_without_sale": 91}]
    assert shapes["with_unknown_days"] == [{"sku": HOLED[0], "region": HOLED[1], "unknown_days": 45}]

    summary = cli.invoke(app, ["summary", "--json"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["series_shapes"]["with_unknown_days"] == shapes["with_unknown_days"]
