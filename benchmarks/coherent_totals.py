"""Coherent totals: accuracy at every level before and after reconciliation, on the demo and on M5.

Run: `make bench-totals` or `.venv/bin/python benchmarks/coherent_totals.py [--data demo m5] [--windows 4]`.

For each data set it runs `demand backtest run` (4 windows of 28 days, the default models,
`Selected` chosen per series on the windows before) and then `demand backtest reconcile` on the
`Selected` forecasts: every category, region, category x region and total node gets an AutoETS base
forecast on its summed history as known at each origin, and each method (bottom-up, MinTrace OLS,
MinTrace WLS with structural weights) reconciles them with the SKU x region forecasts. The table shows
per level and method the RMSSE, MASE and WAPE averaged over the level's nodes and windows 2-4, and the
coverage of the 80% and 95% intervals; `base` is before reconciliation (the SKU x region forecasts
as chosen, each aggregate's own AutoETS). "Calibrated" is the coverage of an aggregate level's
reconciled bands once rescaled by the split-conformal factor of the windows before (windows 3-4).

Data: the demo scenario (seed 11, 25 SKUs x 8 regions, 3 years, 5 categories) and the 140 M5
series of ../shared/data (14 items x 10 stores, 3 categories). Writes benchmarks/results/coherent_totals.json.
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

from benchmarks.accuracy_m5 import DATA, load_m5  # noqa: E402
from benchmarks.common import load_demo, machine  # noqa: E402
from forecast.backtest import BacktestConfig, run_backtest  # noqa: E402
from forecast.backtest.reconcile import reconcile_backtest  # noqa: E402
from forecast.storage.engine import make_engine  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "coherent_totals.json"


def _database(name: str, workdir: Path) -> str:
    if name == "demo":
        return load_demo(workdir, seed=11, n_skus=25, n_regions=8)[0]
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; set DEMAND_SHARED_DATA to the folder with the M5 files")
    url = f"sqlite:///{workdir / 'm5.db'}"
    load_m5(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=["demo", "m5"], choices=["demo", "m5"])
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    payload = {"machine": machine(), "windows": args.windows, "horizon": 28, "results": {}}
    for name in args.data:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(_database(name, Path(tmp)))
            backtest = run_backtest(engine, BacktestConfig(windows=args.windows, horizon=28), n_jobs=args.n_jobs)
            backtest_seconds = time.perf_counter() - started
            report = reconcile_backtest(engine, backtest.run_id, n_jobs=args.n_jobs)
            engine.dispose()
        payload["results"][name] = {"series": backtest.series, "cutoffs": backtest.cutoffs,
                                    "backtest_seconds": round(backtest_seconds, 1),
                                    "reconcile_seconds": round(time.perf_counter() - started - backtest_seconds, 1),
                                    "best": report.best, "rows": report.table}
        print(f"\n{name}: {backtest.series} series, origins {', '.join(backtest.cutoffs)}; windows {report.windows} "
              f"scored; best {report.best}")
        print("| level | method | RMSSE | MASE | WAPE | coverage 80% | coverage 95% | calibrated 80% | calibrated 95% |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in report.table:
            calibrated = " | ".join(f"{r[c]:.3f}" if r.get(c) is not None else "" for c in
                                    ("calibrated_coverage_80", "calibrated_coverage_95"))
            print(f"| {r['level']} | {r['method']} | {r['rmsse']:.3f} | {r['mase']:.3f} | {r['wape']:.3f} | "
                  f"{r['coverage_80']:.3f} | {r['coverage_95']:.3f} | {calibrated} |")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
