"""Cold start: SKUs launched mid-history, forecast k days after launch with and without their analogues.

Run: `make bench-cold-start` or `.venv/bin/python benchmarks/cold_start.py [--days 7 14 21]`.

The demo scenario (seed 11, 25 SKUs x 8 regions) launches some fashion SKUs mid-history; they ramp
up over about two weeks (the generator's `ramp`). For each launched SKU and each k in `--days`, a
run at the cutoff k days after its launch forecasts 28 days with `--models` (default AutoETS)
twice: with cold start (its series have under 28 days since their first sale: blended with the
analogues' forecasts, weight those days/28 on their own) and without (the model on its days alone). The table gives the WAPE and bias
of the launched SKUs' series over the 28 days, and the 80%/95% coverage, pooled over SKUs and regions.
Writes benchmarks/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from sqlalchemy import select  # noqa: E402

from benchmarks.common import accuracy_and_coverage, load_demo, machine  # noqa: E402
from forecast.pipeline.run import run_forecast  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402
from forecast.storage.schema import ForecastValue, Sales  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "cold_start.json"
HORIZON = 28


def _scores(engine, run_id: int, skus: list[str]) -> pl.DataFrame:
    """The run's rows of `skus` with their actuals: sku, region, day, y, yhat and the bounds."""
    with session_scope(engine) as session:
        rows = session.execute(select(ForecastValue.sku_id, ForecastValue.region_id, ForecastValue.day, ForecastValue.yhat,
                                      ForecastValue.lo80, ForecastValue.hi80, ForecastValue.lo95, ForecastValue.hi95,
                                      ForecastValue.model).where(ForecastValue.run_id == run_id,
                                                                 ForecastValue.sku_id.in_(skus))).all()
        sold = session.execute(select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units).where(
            Sales.sku_id.in_(skus))).all()
    frame = pl.DataFrame(rows, schema=["sku", "region", "day", "yhat", "lo80", "hi80", "lo95", "hi95", "model"],
                         orient="row")
    actual = pl.DataFrame(sold, schema=["sku", "region", "day", "y"], orient="row")
    return frame.join(actual, on=["sku", "region", "day"], how="left").with_columns(pl.col("y").fill_null(0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="*", default=[7, 14, 21], help="days since launch at the cutoff")
    parser.add_argument("--models", nargs="*", default=["AutoETS"])
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        url, scenario = load_demo(Path(tmp), seed=11, n_skus=25, n_regions=8)
        engine = make_engine(url)
        skus = pl.read_csv(scenario.skus, try_parse_dates=True)
        launched = skus.filter(pl.col("launch_day") > pl.col("launch_day").min()).select("sku", "launch_day").rows()
        print(f"launched mid-history: {', '.join(f'{s} ({d})' for s, d in launched)}", file=sys.stderr)
        for days in args.days:
            for cold in (False, True):
                scored = []
                for sku, launch in launched:
                    cutoff = launch + dt.timedelta(days=days - 1)
                    report = run_forecast(engine, horizon=HORIZON, models=args.models, cutoff=cutoff, n_jobs=args.n_jobs,
                                          cold_start=cold, publish=False)
                    scored.append(_scores(engine, report.run_id, [sku]))
                frame = pl.concat(scored)
                results.append({"days_of_history": days, "cold_start": cold, "series": frame.select("sku", "region")
                                .unique().height, "models": sorted(set(frame["model"].str.replace(r" \(.*", ""))),
                                **accuracy_and_coverage(frame)})
                print(results[-1], file=sys.stderr)
        engine.dispose()
    payload = {"machine": machine(), "data": "demo scenario seed 11, 25 SKUs x 8 regions", "horizon": HORIZON,
               "models": args.models, "launched": [{"sku": s, "launch_day": d.isoformat()} for s, d in launched],
               "seconds": round(time.perf_counter() - started, 1), "rows": results}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print("| days of history | cold start | series | WAPE | bias | coverage 80% | coverage 95% |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['days_of_history']} | {'on' if r['cold_start'] else 'off'} | {r['series']} | {r['wape']:.3f} | "
              f"{r['bias']:+.3f} | {r['coverage_80']:.3f} | {r['coverage_95']:.3f} |")
    print(f"\nwrote {RESULTS} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
