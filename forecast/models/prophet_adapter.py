"""Prophet behind the adapter interface: one model per series, extra regressors, regional holidays.

Prophet needs pandas, so frames are converted here and nowhere else; input and output are polars.
Both interval levels come from one fit: Prophet's predictive samples give the 2.5/10/90/97.5
percentiles, while the point forecast is Prophet's own `yhat`. A series whose fit fails falls back to
the mean of its last values, named as such in the `model` column, and the other series are unaffected.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from forecast.errors import InvalidInputError
from forecast.models.base import FORECAST_SCHEMA, FREQUENCIES, LEVELS, BaseAdapter, ModelOutput, ModelSpec, finalise

__all__ = ["ProphetAdapter"]

logger = logging.getLogger(__name__)

MODEL = "Prophet"
FALLBACK_MODEL = "Mean (fallback from Prophet)"
FALLBACK_WINDOW = 28
SEED = 20_240_601
"""Fixed seed; each series draws from `crc32(f"{SEED}:{unique_id}")`, whatever process fits it."""
UNCERTAINTY_SAMPLES = 300
YEARLY_MIN_DAYS = 730
"""Yearly seasonality is on by default when the training window spans at least two years."""
PROPHET_OPTIONS = ("weekly_seasonality", "yearly_seasonality", "seasonality_mode", "changepoint_prior_scale",
                   "holidays_prior_scale", "uncertainty_samples")
SPEC_PARAMS = (*PROPHET_OPTIONS, "holidays", "regressor_mode")
HOLIDAY_OPTIONAL = ("lower_window", "upper_window")
KEYS = ("unique_id", "ds", "y")
UNITS = {"D": "d", "W": "w", "MS": "mo"}
"""polars duration unit of one step at each frequency."""
PERCENTILES = (2.5, 10.0, 90.0, 97.5)
"""lo95, lo80, hi80, hi95 for LEVELS (80, 95)."""
assert LEVELS == (80, 95), "PERCENTILES are written for the 80% and 95% levels"


def _quiet_libraries() -> None:
    """Keep Prophet's and cmdstanpy's INFO chatter (and the plotly notice) out of the service's logs."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed": we never plot
    import cmdstanpy.utils
    import prophet  # noqa: F401 - its import sets the "prophet" logger to INFO; override after it

    cmdstanpy.utils.get_logger()  # installs cmdstanpy's own handler first, so the level below sticks
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class _SeriesTask:
    """Everything one worker needs to fit and forecast one series (picklable)."""

    unique_id: str
    train: pd.DataFrame
    future: pd.DataFrame
    regressors: tuple[str, ...]
    holidays: pd.DataFrame | None
    options: dict[str, Any]
    regressor_mode: str | None
    fallback: float | None


@dataclass
class _SeriesResult:
    """Forecast arrays of one series, or the fallback and the reason the fit failed."""

    unique_id: str
    model: str
    values: dict[str, np.ndarray]
    error: str | None = None
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (Prophet samples from it) and restore the caller's state after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _fit_predict(task: _SeriesTask) -> _SeriesResult:
    """Fit one Prophet and forecast its future with 80% and 95% intervals from predictive samples."""
    _quiet_libraries()
    from prophet import Prophet

    start = time.perf_counter()
    model = Prophet(holidays=task.holidays, **task.options)
    for name in task.regressors:
        model.add_regressor(name, mode=task.regressor_mode)
    seed = zlib.crc32(f"{SEED}:{task.unique_id}".encode())
    model.fit(task.train, seed=seed % 2**31)
    fitted = time.perf_counter()
    samples_wanted, model.uncertainty_samples = model.uncertainty_samples, 0  # yhat only; sampled below
    yhat = model.predict(task.future)["yhat"].to_numpy()
    values = dict.fromkeys(("yhat", "lo80", "hi80", "lo95", "hi95"), yhat)  # no samples asked: bounds = yhat
    if samples_wanted:
        model.uncertainty_samples = samples_wanted
        with _seeded(seed):
            samples = model.predictive_samples(task.future)["yhat"]
        lo95, lo80, hi80, hi95 = np.percentile(samples, PERCENTILES, axis=1)
        values = {"yhat": yhat, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95}
    return _SeriesResult(task.unique_id, MODEL, values, fit_seconds=fitted - start,
                         predict_seconds=time.perf_counter() - fitted)


def _run_series(task: _SeriesTask) -> _SeriesResult:
    """`_fit_predict`, or the mean of the last `FALLBACK_WINDOW` values when Prophet fails on this series."""
    try:
        return _fit_predict(task)
    except Exception as exc:  # noqa: BLE001 - Prophet raises bare Exception, Stan RuntimeError: all fall back
        flat = np.full(len(task.future), np.nan if task.fallback is None else task.fallback)
        values = dict.fromkeys(("yhat", "lo80", "hi80", "lo95", "hi95"), flat)
        return _SeriesResult(task.unique_id, FALLBACK_MODEL, values, error=f"{type(exc).__name__}: {exc}")


class ProphetAdapter(BaseAdapter):
    """Prophet per series with extra regressors and regional holidays (family "prophet").

    Spec params (all optional): `weekly_seasonality`, `yearly_seasonality`, `seasonality_mode`,
    `changepoint_prior_scale`, `holidays_prior_scale`, `uncertainty_samples` (default 300),
    `regressor_mode` ("additive"/"multiplicative"; Prophet's default is the seasonality mode) and
    `holidays`, a polars frame `unique_id` (null: every series), `ds`, `holiday` (optionally
    `lower_window`, `upper_window`).

    Attributes:
        n_jobs: Worker processes (spawn-started, so a calling script needs the usual
            `if __name__ == "__main__":` guard); 1 fits in this process.
        max_train: Rows of each series' most recent history to fit on (None: all).
        fit_seconds: Fit time of the last call, summed over series (worker time when n_jobs > 1).
        predict_seconds: Predict and sampling time of the last call, summed over series.
    """

    family: str = "prophet"
    models: tuple[str, ...] = (MODEL,)
    fits_missing_y: bool = True
    """Rows with y null (days not reported) are left out of the fit: Prophet needs no regular series."""

    def __init__(self, *, n_jobs: int = 1, max_train: int | None = 1095) -> None:
        if n_jobs < 1:
            raise InvalidInputError(f"n_jobs must be at least 1, got {n_jobs}")
        if max_train is not None and max_train < 2:
            raise InvalidInputError(f"max_train must be None or at least 2 rows, got {max_train}")
        self.n_jobs = n_jobs
        self.max_train = max_train
        self.fit_seconds = 0.0
        self.predict_seconds = 0.0

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: Any | None = None) -> ModelOutput:
        """Fit one Prophet per series and forecast `h` steps at `freq` (FORECAST_SCHEMA, model "Prophet";
        `point_only`: no predictive samples, bounds = yhat). Prophet refits every time (`keeps_models`
        is False), so it is never given a `kept` model.

        Raises:
            InvalidInputError: On an unknown model or parameter, an unsupported `freq`, missing key
                columns, or regressors of `history` that `future` lacks for some horizon rows.
        """
        _check_call(history, h=h, freq=freq, specs=specs)
        history = history.with_columns(pl.col("unique_id").cast(pl.String), pl.col("ds").cast(pl.Date),
                                       pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
        regressors = _regressor_columns(history)
        grid = _future_grid(history, future, h=h, freq=freq, regressors=regressors)
        self.fit_seconds = self.predict_seconds = 0.0
        frames = [_empty()]
        for spec in specs:
            params = {**spec.params, "uncertainty_samples": 0} if point_only else spec.params
            tasks = self._tasks(history, grid, regressors, freq=freq, params=params)
            frames.append(self._collect(grid, self._execute(tasks)))
        return ModelOutput(forecasts=finalise(pl.concat(frames, how="diagonal_relaxed")))

    def _tasks(self, history: pl.DataFrame, grid: pl.DataFrame, regressors: list[str], *, freq: str,
               params: dict[str, Any]) -> list[_SeriesTask]:
        """One picklable task per series: pandas frames of its training window and horizon."""
        holidays = _holiday_frame(params.get("holidays"))
        horizon = grid.partition_by("unique_id", as_dict=True)
        tasks = []
        for (uid,), part in history.partition_by("unique_id", as_dict=True).items():
            train = part.tail(self.max_train) if self.max_train else part
            used = _varying(train, regressors, uid)
            days = (train["ds"].max() - train["ds"].min()).days if train.height else 0
            last = part["y"].drop_nulls().drop_nans().tail(FALLBACK_WINDOW)
            tasks.append(_SeriesTask(
                unique_id=uid,
                train=_to_pandas(train.select("ds", pl.col("y", *used).cast(pl.Float64))),
                future=_to_pandas(horizon[(uid,)].select("ds", *used)),
                regressors=tuple(used),
                holidays=_holidays_for(holidays, uid),
                options=_prophet_options(params, freq=freq, span_days=days),
                regressor_mode=params.get("regressor_mode"),
                fallback=float(last.mean()) if last.len() else None,  # type: ignore[arg-type]  # mean of floats
            ))
        return tasks

    def _execute(self, tasks: list[_SeriesTask]) -> list[_SeriesResult]:
        """Run the tasks here or in a spawn-started process pool (no fork under polars' threads)."""
        workers = min(self.n_jobs, len(tasks), multiprocessing.cpu_count())
        if workers <= 1:
            return [_run_series(task) for task in tasks]
        chunk = max(1, len(tasks) // (workers * 4))
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(_run_series, tasks, chunksize=chunk))

    def _collect(self, grid: pl.DataFrame, results: list[_SeriesResult]) -> pl.DataFrame:
        """Attach the result arrays to the horizon grid, log fallbacks, add up the timings."""
        horizon = grid.partition_by("unique_id", as_dict=True)
        parts = []
        for res in results:
            if res.error is not None:
                logger.warning("Prophet failed on series %r (%s); using the mean of its last %d values",
                               res.unique_id, res.error, FALLBACK_WINDOW)
            self.fit_seconds += res.fit_seconds
            self.predict_seconds += res.predict_seconds
            columns = {name: pl.Series(name, arr, dtype=pl.Float64) for name, arr in res.values.items()}
            parts.append(horizon[(res.unique_id,)].select("unique_id", "ds")
                         .with_columns(pl.lit(res.model).alias("model"), **columns))
        return pl.concat(parts) if parts else _empty()


def _empty() -> pl.DataFrame:
    """A forecast frame with no rows."""
    return pl.DataFrame(schema=FORECAST_SCHEMA)


def _check_call(history: pl.DataFrame, *, h: int, freq: str, specs: list[ModelSpec]) -> None:
    """Raise InvalidInputError on bad arguments before any fitting starts."""
    missing = [c for c in KEYS if c not in history.columns]
    if missing:
        raise InvalidInputError(f"history lacks column(s) {missing}; expected unique_id, ds, y plus exogenous columns")
    if freq not in FREQUENCIES:
        raise InvalidInputError(f"freq {freq!r} is not supported; use one of {sorted(FREQUENCIES)}")
    if h < 1:
        raise InvalidInputError(f"h must be at least 1, got {h}")
    names = [s.name for s in specs]
    unknown = sorted({n for n in names if n != MODEL})
    if unknown or len(names) != len(set(names)):
        raise InvalidInputError(f"ProphetAdapter knows only the model {MODEL!r} (once per call), got {names}")
    for spec in specs:
        bad = sorted(set(spec.params) - set(SPEC_PARAMS))
        if bad:
            raise InvalidInputError(f"unknown Prophet parameter(s) {bad}; allowed: {list(SPEC_PARAMS)}")


def _regressor_columns(history: pl.DataFrame) -> list[str]:
    """Numeric (and boolean) columns of `history` besides the keys: the extra regressors."""
    extra = [c for c in history.columns if c not in KEYS]
    numeric = [c for c in extra if history.schema[c].is_numeric() or history.schema[c] == pl.Boolean]
    ignored = sorted(set(extra) - set(numeric))
    if ignored:
        logger.debug("ignoring non-numeric history column(s) %s", ignored)
    return numeric


def _future_grid(history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 regressors: list[str]) -> pl.DataFrame:
    """The `h` dates after each series' last date, with the regressor values `future` gives for them."""
    unit = UNITS[freq]
    last = pl.col("ds").max()
    grid = (history.group_by("unique_id").agg(last)
            .with_columns(pl.date_ranges(pl.col("ds").dt.offset_by(f"1{unit}"), pl.col("ds").dt.offset_by(f"{h}{unit}"),
                                         interval=f"1{unit}").alias("ds"))
            .explode("ds").sort("unique_id", "ds"))
    if not regressors:
        return grid
    absent = [c for c in regressors if future is None or c not in future.columns]
    if absent:
        raise InvalidInputError(f"future lacks regressor column(s) {absent} that history has; "
                                "give their values for the horizon or drop them from history")
    assert future is not None
    known = future.select(pl.col("unique_id").cast(pl.String), pl.col("ds").cast(pl.Date),
                          *[pl.col(c).cast(pl.Float64) for c in regressors])
    twice = known.filter(pl.struct("unique_id", "ds").is_duplicated())["unique_id"].unique().sort().to_list()
    if twice:
        raise InvalidInputError(f"future has more than one row per unique_id and ds (unique_id {_ids(twice)}); "
                                "keep one row per series and date")
    grid = grid.join(known, on=["unique_id", "ds"], how="left")
    for col in regressors:
        holes = grid.filter(pl.col(col).is_null() | pl.col(col).is_nan())
        if holes.height:
            ids = holes["unique_id"].unique().sort().to_list()
            raise InvalidInputError(f"future has no value of regressor {col!r} for {holes.height} horizon row(s) "
                                    f"(unique_id {_ids(ids)}); "
                                    f"give every date of the {h}-step horizon")
    return grid


def _ids(ids: list[str], limit: int = 5) -> str:
    """Offending ids for a message, truncated."""
    return ", ".join(map(repr, ids[:limit])) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _varying(train: pl.DataFrame, regressors: list[str], uid: str) -> list[str]:
    """Regressors that vary over this series' training rows (Prophet fails on constant ones)."""
    if not regressors:
        return []
    rows = train.filter(pl.col("y").is_not_null())
    counts = rows.select(pl.col(c).cast(pl.Float64).n_unique() for c in regressors).row(0)
    constant = [c for c, k in zip(regressors, counts, strict=True) if k <= 1]
    if constant:
        logger.debug("series %r: skipping constant regressor(s) %s", uid, constant)
    return [c for c in regressors if c not in constant]


def _holiday_frame(holidays: Any) -> pl.DataFrame | None:
    """Check the `holidays` spec parameter and normalise its columns."""
    if holidays is None:
        return None
    if not isinstance(holidays, pl.DataFrame) or not {"ds", "holiday"} <= set(holidays.columns):
        raise InvalidInputError("the 'holidays' parameter must be a polars frame with columns unique_id "
                                "(null: every series), ds, holiday")
    uid = pl.col("unique_id").cast(pl.String) if "unique_id" in holidays.columns else pl.lit(None, pl.String)
    extra = [pl.col(c).fill_null(0).cast(pl.Int64) for c in HOLIDAY_OPTIONAL if c in holidays.columns]
    return holidays.select(uid.alias("unique_id"), pl.col("ds").cast(pl.Date), pl.col("holiday").cast(pl.String),
                           *extra)


def _holidays_for(holidays: pl.DataFrame | None, uid: str) -> pd.DataFrame | None:
    """The holidays of one series (its own rows and those for every series), as Prophet wants them."""
    if holidays is None:
        return None
    rows = holidays.filter(pl.col("unique_id").is_null() | (pl.col("unique_id") == uid)).drop("unique_id")
    return _to_pandas(rows.unique()) if rows.height else None


def _prophet_options(params: dict[str, Any], *, freq: str, span_days: int) -> dict[str, Any]:
    """Prophet constructor arguments: seasonalities by frequency and span, then the spec's overrides."""
    options: dict[str, Any] = {
        "weekly_seasonality": freq == "D",
        "yearly_seasonality": span_days >= YEARLY_MIN_DAYS,
        "daily_seasonality": False,
        "uncertainty_samples": UNCERTAINTY_SAMPLES,
    }
    options.update({k: params[k] for k in PROPHET_OPTIONS if k in params})
    return options


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """A polars frame as pandas with `ds` as datetime64 (the one place this package uses pandas)."""
    out = frame.to_pandas()
    out["ds"] = pd.to_datetime(out["ds"])
    return out
