"""The nightly cycle end to end against the bare library calls for the same models, stage by stage.

Run: `make bench` or `.venv/bin/python benchmarks/throughput.py [--series 1000] [--repeats 5]`.

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
time over the sum of the bare calls.

Interleaved: with `--repeats N` the two alternate, ours, bare, ours, bare, ... N times each, so load
from other work on a shared machine falls on both alike instead of on whichever ran while it lasted.
Every repeat of ours starts from a copy of the freshly loaded database (nothing kept from an earlier
repeat: each is a first night). The bare calls get their frames and the chosen models once, after the
first run of ours, outside any timer. Each repeat gives a ratio per stage and end to end; the table
shows the median seconds and the median ratio with the spread of the per-repeat ratios (min-max, and
the interquartile range in the JSON). The default of 1 repeat keeps `make bench` at its time; a
repeat costs about as much as the first (2 minutes at 1,000 series on two idle cores). Peak memory is the peak of the summed proportional set sizes of
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
import sqlite3
import statistics
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


def _plain(value: Any) -> Any:
    """A report's field as JSON: typed records by their `to_dict()`, dicts and lists item by item."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


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
            "models": _plain(report.models), "selection": _plain(report.selection), "refits": _plain(report.refits),
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


def bare_inputs(url: str, cutoff: dt.date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The frames of the run at `cutoff` and the models it chose (after a run of `ours`)."""
    return _frames(url, cutoff)


def bare(inputs: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], *, n_jobs: int) -> dict[str, float]:
    """The bare library calls for the models of `ours`, on the same frames (`bare_inputs`)."""
    history, future, chosen = inputs
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


def _snapshot(source: Path, target: Path) -> None:
    """Copy one SQLite database onto another with SQLite's backup (consistent, whatever the journal mode)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min, max and quartiles (inclusive method; the median alone for one value)."""
    quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "q1": round(quartiles[0], 3), "q3": round(quartiles[2], 3)}


def interleaved(url: str, db: Path, cutoff: dt.date, *, repeats: int, n_jobs: int,
                skip_bare: bool) -> tuple[list[dict[str, Any]], list[dict[str, float]], float | None]:
    """Ours, bare, ours, bare, ... `repeats` times each; every run of ours on a copy of the database as
    loaded. Returns the runs of ours, the bare seconds per stage of each repeat, and the bare calls' peak."""
    pristine = db.with_name("pristine.db")
    _snapshot(db, pristine)
    runs: list[dict[str, Any]] = []
    bares: list[dict[str, float]] = []
    inputs = None
    bare_peak = None
    for repeat in range(repeats):
        if repeat:
            _snapshot(pristine, db)
        runs.append(ours(url, cutoff, n_jobs=n_jobs))
        print(f"repeat {repeat + 1}/{repeats} ours: {runs[-1]['seconds']} s {runs[-1]['stages']}", file=sys.stderr)
        if skip_bare:
            continue
        if inputs is None:
            inputs = bare_inputs(url, cutoff)
        with TreeMemory() as bare_memory:
            bares.append(bare(inputs, n_jobs=n_jobs))
        bare_peak = max(bare_peak or 0.0, bare_memory.peak_gib)
        print(f"repeat {repeat + 1}/{repeats} bare: {sum(bares[-1].values()):.2f} s {bares[-1]}", file=sys.stderr)
    return runs, bares, bare_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series to generate (SKUs x --regions)")
    parser.add_argument("--regions", type=int, default=8, help="regions (16 for 10,000 series: at most 999 SKUs)")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes for statsforecast")
    parser.add_argument("--repeats", type=int, default=1,
                        help="interleaved repeats: ours, bare, ours, bare, ...; medians and spread of the ratios "
                             "(each repeat costs about as much as the whole default run)")
    parser.add_argument("--next-night", action="store_true", help="also time the next night's run (choices kept)")
    parser.add_argument("--skip-bare", action="store_true", help="leave out the bare library calls (no ratio)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        url, _ = load_demo(Path(tmp), seed=11, n_skus=max(9, args.series // args.regions), n_regions=args.regions)
        load_seconds = round(time.perf_counter() - started, 1)
        print(f"loaded {args.series} series in {load_seconds} s", file=sys.stderr)
        engine = make_engine(url)
        with session_scope(engine) as session:
            last = session.scalar(select(func.max(Sales.day)))
        engine.dispose()
        runs, bares, bare_peak = interleaved(url, Path(tmp) / "bench.db", last - dt.timedelta(days=1),
                                             repeats=args.repeats, n_jobs=args.n_jobs, skip_bare=args.skip_bare)
        nightly = ours(url, last, n_jobs=args.n_jobs) if args.next_night else None
        print(f"next night: {nightly}", file=sys.stderr)
    mine = dict(runs[0])  # counts, choices and memory of the first run; the seconds are the repeats' medians
    mine["seconds"] = round(statistics.median(r["seconds"] for r in runs), 2)
    mine["stages"] = {k: round(statistics.median(r["stages"][k] for r in runs), 2) for k in runs[0]["stages"]}
    mine["peak_gib"] = max(r["peak_gib"] for r in runs)
    library = {k: round(statistics.median(b[k] for b in bares), 2) for k in bares[0]} if bares else {}
    ratios = [r["seconds"] / sum(b.values()) for r, b in zip(runs, bares, strict=False)]
    stage_ratios = {k: _spread([r["stages"][k] / b[k] for r, b in zip(runs, bares, strict=False) if b[k] > 0])
                    for k in library if any(b[k] > 0 for b in bares)}
    series = mine["series"]
    payload = {"machine": machine(), "load_average": os.getloadavg(), "database": "sqlite",
               "data": f"demo scenario seed 11, {series} series x 1096 days, horizon {HORIZON}",
               "n_jobs": args.n_jobs, "load_seconds": load_seconds, "repeats": args.repeats,
               "order": "interleaved: ours, bare, ours, bare, ...",
               "ours": mine, "bare": library, "next_night": nightly, "bare_peak_gib": bare_peak,
               "bare_seconds": round(statistics.median(sum(b.values()) for b in bares), 2) if bares else None,
               "ratio": round(statistics.median(ratios), 3) if ratios else None,
               "ratio_spread": _spread(ratios) if ratios else None, "stage_ratios": stage_ratios,
               "per_repeat": [{"ours_seconds": r["seconds"], "ours_stages": r["stages"]} for r in runs]}
    for row, b, ratio in zip(payload["per_repeat"], bares, ratios, strict=False):
        row |= {"bare": b, "bare_seconds": round(sum(b.values()), 2), "ratio": round(ratio, 3)}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"throughput_{series}.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")

    def ratio_cell(spread: dict[str, float] | None) -> str:
        if not spread:
            return ""
        return f"{spread['median']:.3f}" + (f" ({spread['min']:.3f}-{spread['max']:.3f})" if args.repeats > 1 else "")

    print(f"{series} series, {mine['rows']:,} forecast rows, chosen: {mine['models']}; "
          f"{args.repeats} interleaved repeat(s), medians")
    print("| stage | ours (s) | series/s | bare library (s) | ours / bare (min-max) |")
    print("|---|---:|---:|---:|---:|")
    for stage, seconds in mine["stages"].items():
        rate = f"{series / seconds:.1f}" if seconds > 0 else ""
        print(f"| {stage} | {seconds:.1f} | {rate} | {library.get(stage, '')} | {ratio_cell(stage_ratios.get(stage))} |")
    print(f"| **end to end** | **{mine['seconds']:.1f}** | {series / mine['seconds']:.1f} | "
          f"**{payload['bare_seconds'] or '-'}** | **{ratio_cell(payload['ratio_spread']) or '-'}** |")
    if nightly:
        stat = nightly["refits"].get("statsforecast", {})
        print(f"| next night: {nightly['selection']['series_reused']} choices kept, "
              f"{stat.get('series_forwarded', 0)} statistical fits forwarded, XGBoost "
              f"{'refitted' if nightly['refits'].get('mlforecast', {}).get('refitted', True) else 'kept'} | "
              f"{nightly['seconds']:.1f} | {series / nightly['seconds']:.1f} | | |")
    peak = max(mine["peak_gib"], nightly["peak_gib"] if nightly else 0)
    spread = payload["ratio_spread"]
    iqr = f", IQR {spread['q1']}-{spread['q3']}" if spread and args.repeats > 1 else ""
    ratio = f"{payload['ratio']} (median of {len(ratios)}{iqr})" if ratios else "- (--skip-bare)"
    print(f"\nours / bare = {ratio}; peak memory {peak} GiB "
          f"(bare calls: {payload['bare_peak_gib']} GiB); benchmark wall time "
          f"{time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.1f}\nwrote {out}")


if __name__ == "__main__":
    main()
