"""The peer approach, one Prophet model per series, against our nightly run on the same M5 series.

Run: `make bench-peer` or `.venv/bin/python benchmarks/peer_prophet.py [--models XGBoost]`.

Data: the 140 M5 item x store series of ../shared/data (as `make bench-m5` loads them, with the M5
calendar as a signal source). Both forecast the last 28 days of the file from the day before them:

- peer: what the Prophet-per-series solution accelerators do. Each series' history goes to its own
  `Prophet()` (weekly and yearly seasonality, the library's default 1,000 uncertainty samples for
  the intervals), fitted and predicted 28 days ahead in a pool of two worker processes (started,
  with Prophet imported, before the clock starts); nothing else.
- ours, refitted: `run_forecast` as the nightly job calls it (`--models`, default XGBoost: one global
  model with the signal features and conformal intervals), from reading the stored sales and
  signals to publishing, `n_jobs=2`, with the model libraries already imported (as in the
  scheduler's process), refitting every model (`refit_days=0`).
- ours, nightly with the kept model: the same run the night after a run that fitted the model
  (that run is not timed): it forecasts from the model fitted a day earlier with the new day's
  actuals (`refit_days=7`, the default), as the scheduler does between weekly refits.

Both are scored with WRMSSE (M5's measure over 12 levels) on the same 28 days, and timed in the
same run, since absolute times on this machine vary. Target (issue 8): ours at least as accurate
and at least 5 x faster. Writes benchmarks/results/peer_prophet.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks.accuracy_m5 import DATA, load_m5  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from forecast.backtest.windows import hierarchy  # noqa: E402
from forecast.backtest.wrmsse import wrmsse  # noqa: E402
from forecast.pipeline.run import run_forecast  # noqa: E402
from forecast.storage import forecast_repo  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402
from forecast.storage.schema import Sales  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "peer_prophet.json"
HORIZON = 28
WORKERS = 2


def _warm() -> None:
    """Import Prophet in a worker before the clock starts (a service keeps its workers)."""
    import prophet  # noqa: F401


def _prophet_one(task: tuple[str, str, pd.DataFrame]) -> pd.DataFrame:
    """One series: `Prophet()` fitted on its history, 28 days predicted (the peer's whole job)."""
    import logging

    from prophet import Prophet

    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    sku, region, train = task
    model = Prophet(weekly_seasonality=True, yearly_seasonality=True, daily_seasonality=False)
    model.fit(train)
    future = model.make_future_dataframe(periods=HORIZON, include_history=False)
    out = model.predict(future)[["ds", "yhat", "yhat_lower", "yhat_upper"]]
    return out.assign(sku=sku, region=region)


def peer(sales: pl.DataFrame, cutoff: dt.date) -> tuple[float, pl.DataFrame]:
    """Seconds for one Prophet per series in `WORKERS` processes, and their forecasts (sku, region, ds, yhat)."""
    history = sales.filter(pl.col("day") <= cutoff)
    tasks = [(sku, region, frame.select(pl.col("day").alias("ds"), pl.col("units").alias("y")).to_pandas())
             for (sku, region), frame in history.partition_by("sku", "region", as_dict=True).items()]
    with multiprocessing.get_context("spawn").Pool(WORKERS, initializer=_warm) as pool:
        pool.map(abs, range(WORKERS))  # every worker started and has imported Prophet
        started = time.perf_counter()
        parts = pool.map(_prophet_one, tasks)
        seconds = time.perf_counter() - started
    frame = pl.from_pandas(pd.concat(parts)).select("sku", "region", pl.col("ds").cast(pl.Date), "yhat")
    return seconds, frame


def ours(url: str, cutoff: dt.date, models: list[str], *, refit_days: int) -> tuple[float, pl.DataFrame, dict]:
    """Seconds for our whole run (read, features, fit, publish) and its published forecasts. The model
    libraries are imported first, as in the scheduler's long-running process."""
    import forecast.models.gradient  # noqa: F401
    import forecast.models.prophet_adapter  # noqa: F401
    import forecast.models.statistical  # noqa: F401

    engine = make_engine(url)
    report = run_forecast(engine, horizon=HORIZON, models=models, cutoff=cutoff, n_jobs=WORKERS, refit_days=refit_days)
    with session_scope(engine) as session:
        published = forecast_repo.read_published(session=session)
    engine.dispose()
    return report.seconds, published.select("sku", "region", pl.col("day").alias("ds"), "yhat"), report.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["XGBoost"], help="our nightly run's models")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; set DEMAND_SHARED_DATA to the folder with the M5 files")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'm5.db'}"
        load_m5(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            last = session.scalar(select(func.max(Sales.day)))
            sales = pl.DataFrame(session.execute(select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units,
                                                        Sales.price)).all(),
                                 schema={"sku": pl.String, "region": pl.String, "day": pl.Date, "units": pl.Float64,
                                         "price": pl.Float64}, orient="row")
        tree = hierarchy(engine, sales.select("sku", "region").unique())
        engine.dispose()
        cutoff = last - dt.timedelta(days=HORIZON)
        ours(url, cutoff - dt.timedelta(days=1), args.models, refit_days=0)  # the night before: fits, keeps
        runs = {"ours_refitted": ours(url, cutoff, args.models, refit_days=0),
                "ours_kept_model": ours(url, cutoff, args.models, refit_days=7)}
        print({name: round(run[0], 1) for name, run in runs.items()}, file=sys.stderr)
        peer_seconds, peer_fc = peer(sales, cutoff)
        print(f"peer: {peer_seconds:.1f} s", file=sys.stderr)

    keys = {"sku": "item", "region": "store"}
    actual = sales.filter(pl.col("day") > cutoff).select("sku", "region", pl.col("day").alias("ds"),
                                                         pl.col("units").alias("y"))
    scored = actual.join(peer_fc.rename({"yhat": "peer_prophet"}), on=["sku", "region", "ds"])
    for name, (_, forecasts, _) in runs.items():
        scored = scored.join(forecasts.rename({"yhat": name}), on=["sku", "region", "ds"])
    scored = scored.rename(keys)
    history = sales.filter(pl.col("day") <= cutoff).select(*keys, pl.col("day").alias("ds"), pl.col("units").alias("y"),
                                                           "price").rename(keys)
    result = wrmsse(history, scored, tree, models=["peer_prophet", *runs]).filter(pl.col("level") == "WRMSSE")
    score = dict(result.select("model", "value").iter_rows())
    ours_payload = {name: {"seconds": round(seconds, 2), "wrmsse": round(score[name], 4),
                           "speedup": round(peer_seconds / seconds, 2), "stage_seconds": report["stage_seconds"],
                           "models": report["models"], "refits": report["refits"]}
                    for name, (seconds, _, report) in runs.items()}
    payload = {"machine": machine(), "data": "M5 tiny (14 items x 10 stores) + m5_calendar",
               "cutoff": str(cutoff), "horizon": HORIZON, "workers": WORKERS, "our_models": args.models,
               "peer": {"seconds": round(peer_seconds, 2), "wrmsse": round(score["peer_prophet"], 4)},
               **ours_payload, "rows_scored": scored.height, "series": tree.height}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    labels = {"ours_refitted": "ours: nightly run, every model refitted",
              "ours_kept_model": "ours: nightly run from the model fitted the night before"}
    print(f"{tree.height} series, the 28 days after {cutoff}; our models: {', '.join(args.models)}\n")
    print("| approach | seconds | WRMSSE | peer / ours |\n|---|---:|---:|---:|")
    print(f"| peer: one Prophet per series, {WORKERS} processes | {peer_seconds:.1f} | {score['peer_prophet']:.3f} | |")
    for name, result_ in ours_payload.items():
        print(f"| {labels[name]} | {result_['seconds']:.1f} | {result_['wrmsse']:.3f} | {result_['speedup']:.1f} x |")
    print(f"\ntarget: >= 5 x faster at equal or better WRMSSE\nwrote {RESULTS}")

if __name__ == "__main__":
    main()
