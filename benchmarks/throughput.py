"""The nightly cycle end to end against the bare library calls for the same models, stage by stage.

Run: `make bench` or `.venv/bin/python benchmarks/throughput.py [--series 1000]`.

Data: the demo generator's scenario, `--series` SKU x region daily series (SKUs x `--regions`), three
years of history (1,096 days), loaded into a fresh SQLite file; horizon 28.

Ours: one `run_forecast` with `auto` over the candidates of `CANDIDATES` (AutoETS and AutoTheta for
smooth and erratic series, CrostonOptimized and TSB for intermittent and lumpy ones, the global
XGBoost for all) at the day before the last, chosen per series on a 28-day holdout, then written and
published. Its stages: read sales and signals and build the features; fit and forecast each family
(timed inside the adapters, the holdout apart); selection (everything else of the model stage);
write and publish. Like the scheduler's runs it keeps model choices and fits for 7 days
(`reselect_days`, `refit_days`), so the chosen AutoETS and AutoTheta are forwarded from their holdout
fits through the last 28 days rather than refitted. With `--next-night`, also the next night's run,
one day of actuals later: it keeps those choices, forwards the kept AutoETS/AutoTheta fits and
forecasts from the kept XGBoost model, refitting only the cheap intermittent models; timed as a whole.

Bare: the same work on the same frames with the libraries' own calls and nothing of ours around
them; both families train on each series' last 730 days, as ours do. The holdout: one
`StatsForecast.fit_predict` per candidate group on the training part (no levels) and one
`MLForecast.fit` + `predict` without intervals. The final fit: each chosen AutoETS/AutoTheta
holdout fit forwarded through its series (`forward`, levels 80/95, a loop over series), one
`StatsForecast.fit_predict` per intermittent model on the series that chose it (conformal
intervals), and `MLForecast.fit` (5 conformal windows) + `predict` on
every non-zero series (a global model learns from all of them), as ours does. Our ratio is our end-to-end
time over the sum of the bare calls. Peak memory is the peak of the summed proportional set sizes of
the process and its workers, sampled every 0.5 s (`common.TreeMemory`). The bare calls run under the
same sampler: reading the workers' PSS takes a few percent of a core, so timing only ours with it
would count its cost against us (measured: its thread used 9% of a core during our holdout). The JSON also
keeps the sum of the process's and its largest worker's peak RSS, which counts the pages forked
workers share with the parent twice. Prints a table and writes benchmarks/results/throughput_<series>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve the other process

import polars as pl  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from benchmarks.common import TreeMemory, load_demo, machine  # noqa: E402
from forecast.features import signal_features  # noqa: E402
from forecast.models.classify import classify_demand  # noqa: E402
from forecast.models.gradient import XGB_DEFAULTS, GradientBoostingAdapter  # noqa: E402
from forecast.models.gradient_features import features_for  # noqa: E402
from forecast.models.statistical import AUTOETS_DEFAULTS, AUTOTHETA_DEFAULTS, StatisticalAdapter  # noqa: E402
from forecast.models.statistical_fits import FORWARDABLE  # noqa: E402
from forecast.pipeline.frames import DEFAULT_EXOG, TEXT_FEATURES, model_frames  # noqa: E402
from forecast.pipeline.run import run_forecast  # noqa: E402
from forecast.storage import forecast_repo  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402
from forecast.storage.schema import Sales  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HORIZON = 28
MAX_TRAIN = 730
CANDIDATES = {"smooth": ("AutoETS", "AutoTheta"), "erratic": ("AutoETS", "AutoTheta"),
              "intermittent": ("CrostonOptimized", "TSB"), "lumpy": ("CrostonOptimized", "TSB"),
              "zero": ("ZeroForecast",)}
"""The candidates by demand class the issue names; `auto` adds the global XGBoost to every non-zero class."""


def rss_sum_gib() -> float:
    """Peak resident memory so far of this process plus that of its largest finished worker, in GiB
    (an over-count: a forked worker's RSS includes the pages it shares with this process)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + workers) / 2**20, 2)


class AdapterClock:
    """Seconds spent inside each adapter's `forecast`, split by full run and point-only holdout (and
    the stage named to `memory` while it runs)."""

    def __init__(self, memory: TreeMemory) -> None:
        self.seconds: dict[str, float] = {}
        self.memory = memory
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> AdapterClock:
        for adapter in (StatisticalAdapter, GradientBoostingAdapter):
            original = adapter.forecast

            @functools.wraps(original)
            def timed(*args: Any, _original: Callable = original, _family: str = adapter.family, **kwargs: Any) -> Any:
                started = time.perf_counter()
                key = f"{_family} {'holdout' if kwargs.get('point_only') else 'fit and forecast'}"
                self.memory.stage = key
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
                    self.memory.stage = "other"

            adapter.forecast = timed  # type: ignore[method-assign]
            self._undo.append(lambda a=adapter, o=original: setattr(a, "forecast", o))
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in self._undo:
            undo()


def ours(url: str, cutoff: dt.date, *, n_jobs: int) -> dict[str, Any]:
    """One `run_forecast` with `auto` over `CANDIDATES` at `cutoff`; seconds and peak memory per stage."""
    engine = make_engine(url)
    with TreeMemory() as memory, AdapterClock(memory) as clock:
        report = run_forecast(engine, horizon=HORIZON, models=["auto"], n_jobs=n_jobs, by_class=CANDIDATES,
                              cutoff=cutoff, reselect_days=7, refit_days=7)
    engine.dispose()
    stages = {"read and features": report.stage_seconds["features"]}
    stages |= {k: round(v, 2) for k, v in sorted(clock.seconds.items())}
    stages["selection"] = round(report.stage_seconds["models"] - sum(clock.seconds.values()), 2)
    stages["write and publish"] = report.stage_seconds["write and publish"]
    return {"seconds": report.seconds, "stages": stages, "series": report.series, "rows": report.rows,
            "models": report.models, "selection": report.selection, "refits": report.refits,
            "peak_gib": memory.peak_gib, "peak_gib_by_stage": memory.stage_peaks_gib(),
            "peak_rss_sum_gib": rss_sum_gib()}


def _frames(url: str, cutoff: dt.date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """History and future as the run at `cutoff` builds them (read once more, outside any timer), and
    the model the run chose per unique_id."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        panel = signal_features(session=session, cutoff=cutoff, horizon=HORIZON)
        published = forecast_repo.read_published(session=session)
    engine.dispose()
    frames = model_frames(panel, cutoff=cutoff)
    chosen = published.select(pl.col("sku"), pl.col("region"), "model").unique().join(
        frames.series, on=["sku", "region"]).select("unique_id", "model")
    return frames.history, frames.future, chosen


def _days_back() -> pl.Expr:
    """1 for each series' last day, 2 for the day before, ..."""
    return pl.col("ds").rank("ordinal", descending=True).over("unique_id")


def _holdout_split(history: pl.DataFrame) -> pl.DataFrame:
    """Every series but its last `HORIZON` days, as the selection's holdout trains on."""
    return history.filter(_days_back() > HORIZON)


def _statsforecast_model(name: str, *, holdout: bool) -> Any:
    from statsforecast.models import TSB, AutoETS, AutoTheta, CrostonOptimized
    from statsforecast.utils import ConformalIntervals

    conformal = None if holdout else ConformalIntervals(h=HORIZON, n_windows=2)
    return {"AutoETS": lambda: AutoETS(season_length=7, **AUTOETS_DEFAULTS),
            "AutoTheta": lambda: AutoTheta(season_length=7, **AUTOTHETA_DEFAULTS),
            "CrostonOptimized": lambda: CrostonOptimized(prediction_intervals=conformal),
            "TSB": lambda: TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=conformal)}[name]()


def bare_statsforecast(history: pl.DataFrame, groups: dict[tuple[str, ...], list[str]], *, n_jobs: int,
                       holdout: bool) -> tuple[float, dict[tuple[str, str], tuple[Any, Any]]]:
    """One `StatsForecast.fit_predict` per group of models x its series, as the library is called
    without us; seconds, and (unique_id, model) -> (fitted model, first day of its data)."""
    from statsforecast import StatsForecast

    seconds, fitted = 0.0, {}
    for names, ids in groups.items():
        if not ids:
            continue
        models = [_statsforecast_model(name, holdout=holdout) for name in names]
        df = history.filter(pl.col("unique_id").is_in(ids)).select("unique_id", "ds", "y")
        df = df.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).tail(MAX_TRAIN)
        started = time.perf_counter()
        sf = StatsForecast(models=models, freq="1d", n_jobs=n_jobs)
        sf.fit_predict(df=df, h=HORIZON, level=None if holdout else [80, 95])
        seconds += time.perf_counter() - started
        first = dict(df.group_by("unique_id").agg(pl.col("ds").min()).iter_rows())
        fitted |= {(uid, name): (model, first[uid]) for uid, row in zip(sf.uids.to_list(), sf.fitted_, strict=True)
                   for name, model in zip(names, row, strict=True)}
    return seconds, fitted


def bare_forward(history: pl.DataFrame, fitted: dict[tuple[str, str], tuple[Any, Any]],
                 chosen: pl.DataFrame) -> float:
    """Each chosen AutoETS/AutoTheta's holdout fit forwarded through its series' last days (statsforecast
    has no panel-level `forward`, so this loop over series is what a caller writes)."""
    pairs = [(uid, m) for uid, m in chosen.iter_rows() if m in FORWARDABLE and (uid, m) in fitted]
    series = history.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("ds").partition_by(
        "unique_id", as_dict=True)
    inputs = []
    for uid, model in pairs:
        fit, first = fitted[(uid, model)]
        inputs.append((fit, series[(uid,)].filter(pl.col("ds") >= first)["y"].to_numpy()))
    started = time.perf_counter()
    for fit, y in inputs:
        fit.forward(y=y, h=HORIZON, level=[80, 95])
    return time.perf_counter() - started


def bare_mlforecast(history: pl.DataFrame, future: pl.DataFrame, *, holdout: bool) -> float:
    """`MLForecast.fit` + `predict` of the same XGBoost and features on every non-zero series (float32
    features handed to xgboost as one array, as ours are)."""
    import xgboost as xgb
    from mlforecast import MLForecast
    from mlforecast.utils import PredictionIntervals

    columns = [c for c in DEFAULT_EXOG["mlforecast"] if c not in TEXT_FEATURES]
    hist = history.select("unique_id", "ds", "y", *columns).with_columns(pl.col("y", *columns).cast(pl.Float32))
    if holdout:  # the holdout's "future" is its last HORIZON days of features
        fut, hist = hist.filter(_days_back() <= HORIZON).drop("y"), _holdout_split(hist)
    else:
        fut = future.select("unique_id", "ds", *columns).with_columns(pl.col(columns).cast(pl.Float32))
    hist = hist.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).tail(MAX_TRAIN)
    shortest = int(hist.group_by("unique_id").len()["len"].min())
    features = features_for("D", shortest)
    started = time.perf_counter()
    mlf = MLForecast(models={"XGBoost": xgb.XGBRegressor(**XGB_DEFAULTS)}, freq="1d", lags=features.lags,
                     lag_transforms=features.lag_transforms, date_features=features.date_features, num_threads=2)
    mlf.fit(hist, static_features=[], keep_last_n=features.lookback, as_numpy=True,
            prediction_intervals=None if holdout else PredictionIntervals(n_windows=5, h=HORIZON))
    mlf.predict(HORIZON, X_df=fut.sort("unique_id", "ds"), level=None if holdout else [80, 95])
    return time.perf_counter() - started


def bare(url: str, cutoff: dt.date, *, n_jobs: int) -> dict[str, float]:
    """The bare library calls for the models of `ours` at `cutoff`, on the same frames."""
    history, future, chosen = _frames(url, cutoff)
    classes = classify_demand(history)
    by = lambda *names: classes.filter(pl.col("demand_class").is_in(names))["unique_id"].to_list()  # noqa: E731
    candidates = {CANDIDATES["smooth"]: by("smooth", "erratic"), CANDIDATES["intermittent"]: by("intermittent", "lumpy")}
    final = {(m,): chosen.filter(pl.col("model") == m)["unique_id"].to_list() for m in ("CrostonOptimized", "TSB")}
    nonzero = pl.col("unique_id").is_in([i for ids in candidates.values() for i in ids])
    history, future = history.filter(nonzero), future.filter(nonzero)
    holdout, fitted = bare_statsforecast(_holdout_split(history), candidates, n_jobs=n_jobs, holdout=True)
    refitted, _ = bare_statsforecast(history, final, n_jobs=n_jobs, holdout=False)
    seconds = {
        "statsforecast holdout": holdout,
        "statsforecast fit and forecast": refitted + bare_forward(history, fitted, chosen),
        "mlforecast fit and forecast": bare_mlforecast(history, future, holdout=False),
        "mlforecast holdout": bare_mlforecast(history, future, holdout=True),
    }
    return {k: round(v, 2) for k, v in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series to generate (SKUs x --regions)")
    parser.add_argument("--regions", type=int, default=8, help="regions (16 for 10,000 series: at most 999 SKUs)")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes for statsforecast")
    parser.add_argument("--next-night", action="store_true", help="also time the next night's run (choices kept)")
    parser.add_argument("--skip-bare", action="store_true", help="leave out the bare library calls (no ratio)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        url, _ = load_demo(Path(tmp), seed=11, n_skus=max(9, args.series // args.regions), n_regions=args.regions)
        load_seconds = round(time.perf_counter() - started, 1)
        print(f"loaded {args.series} series in {load_seconds} s", file=sys.stderr)
        engine = make_engine(url)
        with session_scope(engine) as session:
            last = session.scalar(select(func.max(Sales.day)))
        engine.dispose()
        mine = ours(url, last - dt.timedelta(days=1), n_jobs=args.n_jobs)
        print(f"ours: {mine}", file=sys.stderr)
        with TreeMemory() as bare_memory:
            library = {} if args.skip_bare else bare(url, last - dt.timedelta(days=1), n_jobs=args.n_jobs)
        print(f"bare: {library}", file=sys.stderr)
        nightly = ours(url, last, n_jobs=args.n_jobs) if args.next_night else None
        print(f"next night: {nightly}", file=sys.stderr)
    series = mine["series"]
    payload = {"machine": machine(), "database": "sqlite",
               "data": f"demo scenario seed 11, {series} series x 1096 days, horizon {HORIZON}",
               "n_jobs": args.n_jobs, "load_seconds": load_seconds, "ours": mine, "bare": library,
               "next_night": nightly, "bare_peak_gib": bare_memory.peak_gib if library else None,
               "bare_seconds": round(sum(library.values()), 2) if library else None,
               "ratio": round(mine["seconds"] / sum(library.values()), 3) if library else None}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"throughput_{series}.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"{series} series, {mine['rows']:,} forecast rows, chosen: {mine['models']}")
    print("| stage | ours (s) | series/s | bare library (s) |")
    print("|---|---:|---:|---:|")
    for stage, seconds in mine["stages"].items():
        rate = f"{series / seconds:.1f}" if seconds > 0 else ""
        print(f"| {stage} | {seconds:.1f} | {rate} | {library.get(stage, '')} |")
    print(f"| **end to end** | **{mine['seconds']:.1f}** | {series / mine['seconds']:.1f} | "
          f"**{payload['bare_seconds'] or '-'}** |")
    if nightly:
        stat = nightly["refits"].get("statsforecast", {})
        print(f"| next night: {nightly['selection']['series_reused']} choices kept, "
              f"{stat.get('series_forwarded', 0)} statistical fits forwarded, XGBoost "
              f"{'refitted' if nightly['refits'].get('mlforecast', {}).get('refitted', True) else 'kept'} | "
              f"{nightly['seconds']:.1f} | {series / nightly['seconds']:.1f} | |")
    peak = max(mine["peak_gib"], nightly["peak_gib"] if nightly else 0)
    print(f"\nours / bare = {payload['ratio']}; peak memory {peak} GiB (bare calls: {payload['bare_peak_gib']} GiB); "
          f"benchmark wall time "
          f"{time.perf_counter() - started:.0f} s\nwrote {out}")


if __name__ == "__main__":
    main()
