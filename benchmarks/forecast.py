"""Forecast throughput: series per second for each model family, and the share of time outside the libraries.

Run: `make bench-forecast` or `.venv/bin/python benchmarks/forecast.py [--series 1000] [--sample 100]`.

Data: the demo generator's scenario with 1,000 SKU x region series (125 SKUs x 8 regions) and three
years of daily history (1,096 days), loaded into a fresh SQLite file, featured from storage as the
nightly run does (`signal_features` + `model_frames`), horizon 28.

Each model runs through its adapter, as the pipeline calls it, with every library entry point that
does model work wrapped in a timer: `StatsForecast.forecast`, `Prophet.fit/predict/predictive_samples`,
`MLForecast.fit/predict` and `xgboost.Booster.predict` (the contributions). Nested calls count once.
Prophet fits in worker processes, where the timers do not reach: its library time is the adapter's
own per-series fit + predict time divided by the number of workers.
"Outside" is the adapter's wall time minus the time inside those calls: our validation, frame
conversion, fallbacks and interval post-processing. Slow models (AutoARIMA, Prophet) run on a
`--sample` of the series. The last row times a whole `run_forecast` (features, holdout selection,
writing and publishing) with the demo's models, and its share outside the libraries.
Prints a table and writes benchmarks/results/forecast.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package, not this script
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve the other process

import polars as pl  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from forecast.features import signal_features  # noqa: E402
from benchmarks.common import load_demo, machine  # noqa: E402
from forecast.models.base import ModelSpec  # noqa: E402
from forecast.pipeline.forecaster import Forecaster  # noqa: E402
from forecast.pipeline.frames import DEFAULT_EXOG, model_frames  # noqa: E402
from forecast.pipeline.run import run_forecast  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402
from forecast.storage.schema import Sales  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "forecast.json"
HORIZON = 28
DEMO_MODELS = ["SeasonalNaive", "AutoTheta", "CrostonOptimized", "XGBoost"]
CASES: list[tuple[str, str, bool]] = [  # model, family, on the sample only
    ("SeasonalNaive", "statsforecast", False),
    ("AutoETS", "statsforecast", False),
    ("AutoTheta", "statsforecast", False),
    ("CrostonOptimized", "statsforecast", False),
    ("TSB", "statsforecast", False),
    ("AutoARIMA", "statsforecast", True),
    ("Prophet", "prophet", True),
    ("XGBoost", "mlforecast", False),
]


class LibraryClock:
    """Accumulates wall time spent inside the wrapped library calls (outermost call only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, owner: Any, name: str) -> Callable[[], None]:
        """Time `owner.name`; returns a function that restores the original."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - started

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


@contextmanager
def library_clock() -> Iterator[LibraryClock]:
    """Wrap every library entry point that does model work; unwrap on exit."""
    import xgboost
    from mlforecast import MLForecast
    from prophet import Prophet
    from statsforecast import StatsForecast

    clock = LibraryClock()
    targets = [(StatsForecast, "forecast"), (Prophet, "fit"), (Prophet, "predict"), (Prophet, "predictive_samples"),
               (MLForecast, "fit"), (MLForecast, "predict"), (xgboost.Booster, "predict")]
    restore = [clock.wrap(owner, name) for owner, name in targets]
    try:
        yield clock
    finally:
        for undo in restore:
            undo()


def time_family(model: str, history: pl.DataFrame, future: pl.DataFrame, *, n_jobs: int) -> dict[str, Any]:
    """One model on every series of `history` through `Forecaster`'s adapter call, timed."""
    forecaster = Forecaster([model], n_jobs=n_jobs, exog=DEFAULT_EXOG)
    adapter = next(a for a in forecaster.adapters if model in a.models)
    hist, fut = forecaster.columns_for(adapter.family, history), forecaster.columns_for(adapter.family, future)
    with library_clock() as clock:
        started = time.perf_counter()
        output = adapter.forecast(hist, fut, h=HORIZON, freq="D", specs=[ModelSpec(model)])
        seconds = time.perf_counter() - started
    if adapter.family == "prophet":  # fits run in worker processes: use the adapter's own per-series timings
        workers = max(1, min(n_jobs, os.cpu_count() or 1))
        clock.seconds = (adapter.fit_seconds + adapter.predict_seconds) / workers
    series = history["unique_id"].n_unique()
    assert output.forecasts.height == series * HORIZON, "every series gets a full horizon"
    return {"series": series, "seconds": round(seconds, 2), "series_per_second": round(series / seconds, 2),
            "library_seconds": round(clock.seconds, 2), "outside_share": round(1 - clock.seconds / seconds, 4)}


def time_run(url: str, *, n_jobs: int) -> dict[str, Any]:
    """A whole `run_forecast` with the demo's models, published to the benchmark database."""
    engine = make_engine(url)
    with library_clock() as clock:
        report = run_forecast(engine, horizon=HORIZON, models=DEMO_MODELS, n_jobs=n_jobs)
    engine.dispose()
    return {"series": report.series, "seconds": report.seconds, "series_per_second": round(report.series / report.seconds, 2),
            "library_seconds": round(clock.seconds, 2), "outside_share": round(1 - clock.seconds / report.seconds, 4),
            "stage_seconds": report.stage_seconds, "models": report.models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series to generate (SKUs x 8 regions)")
    parser.add_argument("--sample", type=int, default=100, help="series for the slow models (AutoARIMA, Prophet)")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes for statsforecast and Prophet")
    parser.add_argument("--models", nargs="*", default=[m for m, _, _ in CASES], help="models to time")
    parser.add_argument("--no-run", action="store_true", help="skip the whole-run row")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        url, _ = load_demo(Path(tmp), seed=11, n_skus=max(9, args.series // 8))
        engine = make_engine(url)
        with session_scope(engine) as session:
            cutoff = session.scalar(select(func.max(Sales.day)))
            panel = signal_features(session=session, cutoff=cutoff, horizon=HORIZON)
        engine.dispose()
        frames = model_frames(panel, cutoff=cutoff)
        sample_ids = frames.series["unique_id"].head(args.sample).implode()
        print(f"data: {frames.series.height} series x {frames.history['ds'].n_unique()} days, loaded and featured "
              f"in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        rows = []
        for model, family, sampled in CASES:
            if model not in args.models:
                continue
            hist, fut = frames.history, frames.future
            if sampled:
                hist, fut = (f.filter(pl.col("unique_id").is_in(sample_ids)) for f in (hist, fut))
            result = time_family(model, hist, fut, n_jobs=args.n_jobs)
            rows.append({"model": model, "family": family, **result})
            print(f"{model}: {result}", file=sys.stderr)
        if not args.no_run:
            rows.append({"model": "run_forecast(" + ", ".join(DEMO_MODELS) + ")", "family": "pipeline",
                         **time_run(url, n_jobs=args.n_jobs)})
    if RESULTS.exists():  # a partial run (--models ...) keeps the other rows of the last full one
        done = {r["model"] for r in rows}
        rows = [r for r in json.loads(RESULTS.read_text())["results"] if r["model"] not in done] + rows
        order = [m for m, _, _ in CASES]
        rows.sort(key=lambda r: order.index(r["model"]) if r["model"] in order else len(order))
    payload = {"machine": machine(),
               "data": f"demo scenario seed 11, {args.series} series x 1096 days, horizon {HORIZON}",
               "n_jobs": args.n_jobs, "results": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print("| model | family | series | seconds | series/s | in libraries (s) | outside libraries |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['family']} | {r['series']} | {r['seconds']:.1f} | {r['series_per_second']:.1f} | "
              f"{r['library_seconds']:.1f} | {r['outside_share']:.1%} |")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
