"""Accuracy on real M5 data: WRMSSE over the 12 levels and RMSSE at item x store, per model and for our selection.

Run: `make bench-m5` or `.venv/bin/python benchmarks/accuracy_m5.py [--models ...] [--windows 4]`.

Data: ../shared/data/m5_tiny_sales_prices_140series.csv.gz (14 Walmart items x 10 stores, daily,
2011-01-29..2016-04-24) through `demand ingest sales --preset m5`, with m5_calendar.csv as a calendar
signal source (events and each state's SNAP days) and the sell prices as `price_rel`. It is
`demand backtest run`: 4 windows of 28 days, the last one ending on the last day of the file (the
test window), each origin seeing the data and signals as known then. "Selected" (each series' best
model by RMSSE on the windows before) and "Ensemble" (inverse-RMSSE weights over its best 3) are
chosen on earlier windows only, so they exist from the second window on.

The table shows each model's WRMSSE on the test window and averaged over windows 2-4, its ratio to
SeasonalNaive on the test window, and the mean RMSSE of the 140 item x store series on the test
window. For reference, the full M5 (30,490 series, final window): sNaive 0.847, exponential
smoothing bottom-up 0.671, the winner 0.520 (0.61 x sNaive). Writes benchmarks/results/accuracy_m5.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import polars as pl  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from forecast.backtest import BacktestConfig, run_backtest  # noqa: E402
from forecast.ingest import ingest_sales  # noqa: E402
from forecast.ingest.mapping import resolve_mapping  # noqa: E402
from forecast.ingest.signal_config import SourceConfig  # noqa: E402
from forecast.ingest.signals import pull_source  # noqa: E402
from forecast.storage import backtest_repo, migrate  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

DATA = Path(os.environ.get("DEMAND_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).parent / "results" / "accuracy_m5.json"
MODELS = ("SeasonalNaive", "AutoETS", "AutoTheta", "CrostonOptimized", "TSB", "Prophet", "XGBoost")
STATES = {"CA": "CA", "TX": "TX", "WI": "WI"}


def load_m5(url: str) -> None:
    """Migrate, ingest the M5 sales with the m5 preset and pull the M5 calendar (events, SNAP)."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        ingest_sales(DATA / "m5_tiny_sales_prices_140series.csv.gz", session=session, mapping=resolve_mapping("m5", [], None))
    calendar = SourceConfig(name="m5-calendar", kind="calendar", location=str(DATA / "m5_calendar.csv"), preset="m5",
                            region_map=STATES)
    with session_scope(engine) as session:
        pull_source(calendar, session=session)
    engine.dispose()


def table(metrics: pl.DataFrame, test_window: int) -> pl.DataFrame:
    """model, WRMSSE on the test window, its mean over windows 2.., ratio to sNaive, mean RMSSE (item x store)."""
    wrmsse = metrics.filter((pl.col("metric") == "wrmsse") & (pl.col("region_id") == "WRMSSE"))
    test = wrmsse.filter(pl.col("window_no") == test_window).select("model", pl.col("value").alias("wrmsse_test"))
    later = wrmsse.filter(pl.col("window_no") >= 1).group_by("model").agg(pl.col("value").mean().alias("wrmsse_w2_4"))
    rmsse = metrics.filter((pl.col("metric") == "rmsse") & (pl.col("window_no") == test_window)
                           & (pl.col("sku_id") == "*") & (pl.col("step") == 0)).select(
        "model", pl.col("value").alias("rmsse_test"))
    out = test.join(later, on="model").join(rmsse, on="model")
    naive = out.filter(pl.col("model") == "SeasonalNaive")["wrmsse_test"].item()
    return out.with_columns((pl.col("wrmsse_test") / naive).alias("vs_snaive")).sort("wrmsse_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--forecasts", type=Path, help="also write every backtest forecast row (with actuals) to this Parquet file")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; set DEMAND_SHARED_DATA to the folder with the M5 files")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'm5.db'}"
        load_m5(url)
        engine = make_engine(url)
        config = BacktestConfig(windows=args.windows, horizon=28, models=tuple(args.models))
        report = run_backtest(engine, config, n_jobs=args.n_jobs,
                              progress=lambda stage, done, total: print(f"{stage} {done}/{total} "
                                                                        f"({time.perf_counter() - started:.0f}s)",
                                                                        file=sys.stderr))
        with session_scope(engine) as session:
            metrics = backtest_repo.read_metrics(session=session, run_id=report.run_id, pooled_only=True)
        if args.forecasts:
            pl.read_database(f"SELECT * FROM backtest_forecast WHERE run_id = {report.run_id}", engine).write_parquet(
                args.forecasts)
        engine.dispose()
    result = table(metrics, test_window=args.windows - 1)
    best_single = result.filter(~pl.col("model").is_in(["Selected", "Ensemble"]))["wrmsse_test"].min()
    payload = {"machine": machine(),
               "data": "M5 tiny (14 items x 10 stores) + m5_calendar, last day 2016-04-24", "cutoffs": report.cutoffs,
               "config": config.to_dict(), "seconds": round(time.perf_counter() - started, 1),
               "best_single_wrmsse_test": best_single, "rows": result.to_dicts()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"origins {', '.join(report.cutoffs)}; test window = the last 28 days\n")
    print("| model | WRMSSE, test window | WRMSSE, windows 2-4 | vs SeasonalNaive | RMSSE item x store | vs best single |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in result.iter_rows(named=True):
        print(f"| {r['model']} | {r['wrmsse_test']:.3f} | {r['wrmsse_w2_4']:.3f} | {r['vs_snaive']:.3f} | "
              f"{r['rmsse_test']:.3f} | {r['wrmsse_test'] / best_single:.3f} |")
    print(f"\nwrote {RESULTS} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
