"""Livestream uplift: does the forecast with the schedule recover the uplift the demo generator planted?

Run: `make bench-uplift` or `.venv/bin/python benchmarks/livestream_uplift.py [--windows 6]`.

Data: `make demo`'s scenario (seed 7: 50 SKUs x 8 regions, 2023-01-01..2025-12-31, 110 livestreams with
four hosts), loaded into a fresh SQLite file. For each of `--windows` back-to-back 28-day windows
ending at the last day, the XGBoost model is fitted once on the history up to the window's cutoff
and forecasts the window twice (`Forecaster.forecast_variants`, the scenario engine): with the
schedule as known at the cutoff, and with the window's livestreams removed from it. On every
SKU x region x day that a known event features, the measured uplift is forecast with / forecast
without; the planted uplift is the multiplier `ground_truth.json` records for that event
(host uplift x (1 + discount) x noise); the last rows split the cells by the event's discount. Cells whose forecast without is below 0.5 units are left out
(ratios of near-zero numbers). Means are geometric (ratios). `recovered` is
log(measured) / log(planted): 100% means the model found the whole effect.
Prints a table per host and writes benchmarks/results/livestream_uplift.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package, not this script
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import polars as pl  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks.common import load_demo, machine  # noqa: E402
from forecast.features import build_panel_features, load_signals, sales_panel  # noqa: E402
from forecast.models.base import ModelSpec  # noqa: E402
from forecast.pipeline.forecaster import Forecaster  # noqa: E402
from forecast.pipeline.frames import DEFAULT_EXOG, model_frames  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402
from forecast.storage.schema import Sales  # noqa: E402
from signals.features_livestreams import applied_events  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "livestream_uplift.json"
HORIZON = 28
MIN_BASELINE = 0.5


def window_cells(engine: Any, cutoff: dt.date, planted: dict[str, dict[str, Any]], params: dict[str, Any],
                 drop: list[str]) -> pl.DataFrame:
    """Forecasts with and without the window's livestreams on every featured cell of one window."""
    with session_scope(engine) as session:
        panel = sales_panel(session=session, cutoff=cutoff, horizon=HORIZON)
        signals = load_signals(session=session, cutoff=cutoff)
    without_window = replace(signals, livestreams=signals.livestreams.filter(pl.col("local_day") <= cutoff))
    with_frames = model_frames(build_panel_features(panel, signals), cutoff=cutoff)
    without_frames = model_frames(build_panel_features(panel, without_window), cutoff=cutoff, series=with_frames.series)
    exog = {family: [c for c in columns if c not in drop] for family, columns in DEFAULT_EXOG.items()}
    forecaster = Forecaster([ModelSpec("XGBoost", params)], exog=exog)
    out = forecaster.forecast_variants(with_frames.history, {"with": with_frames.future,
                                                             "without": without_frames.future}, h=HORIZON)
    series = with_frames.series
    cells = applied_events(series.select("sku", "region").lazy(), signals.livestreams.lazy(), cutoff,
                           signals.sku_categories).collect()
    cells = cells.filter(pl.col("day") > cutoff).join(series, on=["sku", "region"]).with_columns(
        pl.col("event_id").replace_strict({k: v["multiplier"] for k, v in planted.items()}, return_dtype=pl.Float64)
        .alias("planted"))
    per_cell = cells.group_by("unique_id", pl.col("day").alias("ds")).agg(
        pl.col("planted").product(), pl.col("host").first(), pl.col("event_id").first(), pl.col("discount").max(),
        pl.len().alias("events"))
    yhat = {name: o.forecasts.select("unique_id", "ds", pl.col("yhat").alias(name)) for name, o in out.items()}
    return (per_cell.join(yhat["with"], on=["unique_id", "ds"]).join(yhat["without"], on=["unique_id", "ds"])
            .with_columns(pl.lit(cutoff).alias("cutoff")))


def summarise(cells: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Cells, events, geometric-mean measured and planted uplift, and the share recovered (log scale)."""
    usable = cells.filter(pl.col("without") >= MIN_BASELINE)
    return usable.group_by(by).agg(
        pl.len().alias("cells"), pl.col("event_id").n_unique().alias("events"),
        (pl.col("with") / pl.col("without")).log().mean().exp().alias("measured"),
        pl.col("planted").log().mean().exp().alias("planted"),
    ).with_columns((pl.col("measured").log() / pl.col("planted").log()).alias("recovered")).sort("planted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=6, help="28-day windows back from the last day")
    parser.add_argument("--params", type=json.loads, default={}, help="XGBoost parameters as JSON")
    parser.add_argument("--drop", nargs="*", default=[], help="signal features to leave out of the model")
    parser.add_argument("--cells", type=Path, help="also write every featured cell (with, without, planted) to this Parquet file")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url, scenario = load_demo(Path(tmp))
        planted = json.loads(Path(scenario.ground_truth).read_text())["livestreams"]["applied"]
        engine = make_engine(url)
        with session_scope(engine) as session:
            last = session.scalar(select(func.max(Sales.day)))
        parts = []
        for k in range(args.windows, 0, -1):
            cutoff = last - dt.timedelta(days=HORIZON * k)
            parts.append(window_cells(engine, cutoff, planted, args.params, args.drop))
            print(f"window after {cutoff}: {parts[-1].height} featured cells ({time.perf_counter() - started:.0f}s)",
                  file=sys.stderr)
        engine.dispose()
    cells = pl.concat(parts)
    if args.cells:
        cells.write_parquet(args.cells)
    hosts = summarise(cells, ["host"])
    overall = summarise(cells.with_columns(pl.lit("all").alias("host")), ["host"])
    band = pl.when(pl.col("discount") >= 0.2).then(pl.lit("all, discount >= 20%")).otherwise(pl.lit("all, discount < 20%"))
    by_discount = summarise(cells.with_columns(band.alias("host")), ["host"])
    table = pl.concat([hosts, overall, by_discount])
    payload = {"machine": machine(),
               "data": "demo scenario seed 7 (50 SKUs x 8 regions, 2023-01-01..2025-12-31)", "horizon": HORIZON,
               "windows": args.windows, "xgboost_params": args.params, "dropped_features": args.drop, "seconds": round(time.perf_counter() - started, 1),
               "hosts": table.to_dicts()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print("| host | events | cells | measured uplift | planted uplift | recovered |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in table.iter_rows(named=True):
        print(f"| {r['host']} | {r['events']} | {r['cells']} | x{r['measured']:.2f} | x{r['planted']:.2f} | "
              f"{r['recovered']:.0%} |")
    print(f"\nwrote {RESULTS} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
