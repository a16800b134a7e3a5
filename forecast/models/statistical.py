"""The statsforecast family: AutoETS, AutoTheta, (Auto)ARIMA with regressors, SeasonalNaive, intermittent models.

`StatisticalAdapter.forecast` fits every spec on every series with one `StatsForecast.forecast`
call per group of models (plain models on `unique_id, ds, y`; ARIMA/AutoARIMA with the exogenous
columns, one call per set of non-constant regressors) and returns `FORECAST_SCHEMA` rows.

Choices:

- Only the last `max_train` observations of a series are used (default 730: two years of days).
- AutoETS fits additive error, no trend, season or none by AICc (`AUTOETS_DEFAULTS`, model "ANZ");
  AutoTheta fits the dynamic optimised theta model only (`AUTOTHETA_DEFAULTS`, "DOTM"), whose drift
  carries the trend. Against "AZZ" and all four theta models, MASE over 3 origins, 730 days of
  training: demo smooth/erratic (200 series) ETS 0.9174 vs 0.9168, Theta 0.9218 vs 0.9224, at 5.8 s
  vs 37.4 s and 14.8 s vs 42.8 s; 36 M5 series ETS 0.8052 vs 0.8055, Theta 0.8092 vs 0.8124; Iowa
  liquor monthly (887 series, h=6) ETS 1.031 vs 1.039, Theta 1.048 vs 1.065. Spec params override
  (`{"model": "ZZZ"}`, `{"model": None}` for the full searches).
- AutoARIMA gets a small stepwise search (`AUTOARIMA_DEFAULTS`): p, q <= 2, P, Q <= 1, 30 models,
  CSS approximation. On 730 daily points with weekly season that is ~0.6 s a series (~2 s with a
  regressor) against ~7 s for the library defaults. Spec params override these.
- Intervals at `LEVELS`: native for AutoETS, AutoTheta, (Auto)ARIMA and SeasonalNaive; conformal
  (`ConformalIntervals(h, conformal_windows)`) for CrostonOptimized, ADIDA, IMAPA and TSB. Series
  shorter than `2 * h + 1` get their point forecast only (bounds = yhat via `finalise`).
- Every model runs inside `_Guarded`: an exception or a non-finite forecast for one series turns
  into NaN for that series only (statsforecast's own `fallback_model=` would hide which series fell
  back). Those series are then refitted alone with SeasonalNaive, or HistoricAverage (the mean) when
  that fails too, and the row's `model` says so: "SeasonalNaive (fallback from AutoARIMA)".
- With a `DaskEngine` every `StatsForecast.forecast` call (fallback refits included) gets Dask
  frames and runs through statsforecast's fugue backend, one task per group of series, with the
  same guarded models, regressors and intervals; only the float32 output rounding differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import (
    ADIDA,
    ARIMA,
    IMAPA,
    TSB,
    AutoARIMA,
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    HistoricAverage,
    SeasonalNaive,
)
from statsforecast.utils import ConformalIntervals
from utilsforecast.processing import make_future_dataframe

from forecast.errors import InvalidInputError
from forecast.models.base import (FORECAST_SCHEMA, FREQUENCIES, LEVELS, BaseAdapter, ModelOutput, ModelSpec,
                                  finalise, last_rows)
from forecast.models.statistical_fits import (
    BOUNDS,
    FORWARDABLE,
    Fit,
    StatFits,
    forward_rows,
    guarded_result,
    slim,
)

if TYPE_CHECKING:
    from forecast.models.distributed import DaskEngine

__all__ = ["AUTOARIMA_DEFAULTS", "AUTOETS_DEFAULTS", "AUTOTHETA_DEFAULTS", "StatisticalAdapter"]

logger = logging.getLogger(__name__)

KEYS = ("unique_id", "ds", "y")
ZERO = "ZeroForecast"
POLARS_OFFSETS = {"D": "1d", "W": "1w", "MS": "1mo"}
"""statsforecast wants polars offsets with polars frames; FREQUENCIES keys are pandas aliases."""
EXOG_MODELS = frozenset({"ARIMA", "AutoARIMA"})
CONFORMAL_MODELS = frozenset({"CrostonOptimized", "ADIDA", "IMAPA", "TSB"})
FALLBACKS = ("SeasonalNaive", "HistoricAverage")
AUTOETS_DEFAULTS: dict[str, Any] = {"model": "ANZ"}
AUTOTHETA_DEFAULTS: dict[str, Any] = {"model": "DOTM"}
AUTOARIMA_DEFAULTS: dict[str, Any] = {
    "max_p": 2, "max_q": 2, "max_P": 1, "max_Q": 1, "max_order": 4,
    "stepwise": True, "nmodels": 30, "approximation": True,
}

_FACTORIES: dict[str, Callable[[int, dict[str, Any]], Any]] = {
    "AutoETS": lambda m, p: AutoETS(**{"season_length": m, **AUTOETS_DEFAULTS, **p}),
    "AutoTheta": lambda m, p: AutoTheta(**{"season_length": m, **AUTOTHETA_DEFAULTS, **p}),
    "AutoARIMA": lambda m, p: AutoARIMA(**{"season_length": m, **AUTOARIMA_DEFAULTS, **p}),
    "ARIMA": lambda m, p: ARIMA(**{"season_length": m, **p}),
    "SeasonalNaive": lambda m, p: SeasonalNaive(**{"season_length": m, **p}),
    "CrostonOptimized": lambda m, p: CrostonOptimized(**p),
    "ADIDA": lambda m, p: ADIDA(**p),
    "IMAPA": lambda m, p: IMAPA(**p),
    "TSB": lambda m, p: TSB(**{"alpha_d": 0.1, "alpha_p": 0.1, **p}),
    "HistoricAverage": lambda m, p: HistoricAverage(**p),
}
"""Model name -> constructor(season_length, params); the statsforecast alias is set to the name."""


class _Guarded:
    """A statsforecast model that never raises: a failed or non-finite forecast becomes all-NaN.

    It also returns its keys in one fixed order (`OUT_KEYS`): statsforecast names the output
    columns after the keys of the last series, and models disagree on the order of `lo-*`/`hi-*`.
    Besides `forecast` it offers statsforecast's `new`/`fit`/`predict`, for models whose fits are
    kept (`statistical_fits`): `fit` also forecasts the `h` steps at `level`, then slims the fit to
    what `forward` needs, and `predict` returns that forecast. (`StatsForecast.fit_predict` fits every
    series before it predicts any: whole fits, 65 KB an AutoETS fit on 700 days and 14 KB an
    AutoTheta one, would pile up meanwhile: by estimate 0.7 GB for the 10,000-series benchmark.)
    """

    def __init__(self, model: Any, *, conformal: bool, h: int = 1, level: list[int] | None = None) -> None:
        self.model = model
        self.alias = model.alias
        self.uses_exog = model.uses_exog
        self.conformal = conformal
        self.prediction_intervals = None
        self.h, self.level = h, level
        self.failed = False
        self._predicted: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> _Guarded:
        """An unfitted copy (statsforecast calls this once per series before `fit`)."""
        return _Guarded(self.model.new(), conformal=self.conformal, h=self.h, level=self.level)

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> _Guarded:
        """Fit the wrapped model on one series and forecast it; a failure is remembered (as NaN), not raised."""
        self._predicted = guarded_result(lambda: self.model.fit(y=y, X=X).predict(h=self.h, level=self.level),
                                         h=self.h, level=self.level, label=self.alias, size=y.size)
        self.failed = bool(np.isnan(self._predicted["mean"]).any())
        if not self.failed:
            slim(self.model)
        return self

    def predict(self, h: int, X: np.ndarray | None = None, level: list[int] | None = None) -> dict[str, np.ndarray]:
        """The forecast `fit` made (the adapter asks for the same `h` and levels)."""
        if self._predicted is None or h != self.h:
            raise RuntimeError(f"{self.alias}: predict({h}) after fit for {self.h} steps")
        predicted, self._predicted = self._predicted, None
        return predicted

    def forecast(self, y: np.ndarray, h: int, X: np.ndarray | None = None, X_future: np.ndarray | None = None,
                 level: list[int] | None = None, fitted: bool = False) -> dict[str, np.ndarray]:
        """Forecast one series like the wrapped model; NaN everywhere if it fails (NaN bounds when it
        is too short for conformal intervals)."""
        fit_level = level
        if self.conformal and level and y.size < 2 * h + 1:
            logger.debug("%s: series of %d points is too short for conformal intervals; point forecast only",
                         self.alias, y.size)
            fit_level = None
        return guarded_result(lambda: self.model.forecast(y=y, h=h, X=X, X_future=X_future, level=fit_level),
                              h=h, level=level, label=self.alias, size=y.size)


class StatisticalAdapter(BaseAdapter):
    """statsforecast models behind the `ModelAdapter` interface.

    Args:
        n_jobs: Processes for statsforecast (1 avoids process start-up; -1 uses every core).
        max_train: Observations per series used for fitting (the most recent ones); None for all.
        conformal_windows: Cross-validation windows for the conformal intervals of intermittent models.
        dask: Run on this Dask cluster (statsforecast's fugue backend) instead of in this process.
    """

    family = "statsforecast"
    models = ("AutoETS", "AutoTheta", "AutoARIMA", "ARIMA", "SeasonalNaive",
              "CrostonOptimized", "ADIDA", "IMAPA", "TSB", ZERO)
    keeps_models = True
    """`forecast` returns the AutoETS/AutoTheta fits it made (`StatFits`) and forwards them when given back."""

    def __init__(self, *, n_jobs: int = 1, max_train: int | None = 730, conformal_windows: int = 2,
                 dask: DaskEngine | None = None) -> None:
        if max_train is not None and max_train < 1:
            raise InvalidInputError(f"max_train must be a positive number of observations or None, got {max_train}")
        if conformal_windows < 2:
            raise InvalidInputError(f"conformal_windows must be at least 2, got {conformal_windows}")
        self.n_jobs = n_jobs
        self.max_train = max_train
        self.conformal_windows = conformal_windows
        self.dask = dask

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: StatFits | None = None) -> ModelOutput:
        """Fit `specs` on the last `max_train` points of every series and forecast `h` steps
        (`point_only`: no intervals, so no conformal refits either).

        AutoETS and AutoTheta (`FORWARDABLE`) are fitted with their models kept, and where `kept`
        has a fit of the same model and parameters for a series, that fit is forwarded through the
        series' newer days instead of refitting (in this process; on Dask every model is refitted).

        Returns:
            FORECAST_SCHEMA rows, and as `kept` the fits this call made (a `StatFits`; None when it
            made none).

        Raises:
            InvalidInputError: unknown `freq` or model, bad `h`, or `future` lacking exogenous values.
        """
        season_length, offset = _frequency(freq)
        self._check_specs(specs, h)
        _check_history(history)
        if not specs:
            return ModelOutput(forecasts=pl.DataFrame(schema=FORECAST_SCHEMA))
        hist = self._bounded(history)
        exog = _exog_columns(hist)
        hist = hist.with_columns(pl.col(exog).cast(pl.Float64))
        plain = [s for s in specs if s.name not in EXOG_MODELS and s.name != ZERO]
        keeping = [s for s in plain if s.name in FORWARDABLE] if self.dask is None else []
        plain = [s for s in plain if s not in keeping]
        with_exog = [s for s in specs if s.name in EXOG_MODELS]
        x_future = _future_exog(hist, future, exog, h=h, offset=offset, needed=bool(with_exog))
        levels = None if point_only else list(LEVELS)
        parts = [_zero_rows(hist, s.name, h=h, offset=offset) for s in specs if s.name == ZERO]
        if plain:
            models = [self._model(s, season_length, h, levels) for s in plain]
            parts.append(self._run(hist.select(KEYS), models, h=h, offset=offset, levels=levels))
        fitted = None
        if keeping:
            part, fitted = self._forward_or_fit(history, hist, keeping, kept, season_length, freq=freq, h=h,
                                                levels=levels)
            parts.append(part)
        if with_exog:
            parts.extend(self._run_exog(hist, x_future, with_exog, exog, season_length, h=h, offset=offset,
                                        levels=levels))
        long = pl.concat(parts, how="vertical_relaxed")
        long = self._with_fallbacks(long, hist, season_length, h=h, offset=offset, levels=levels)
        out = finalise(long.with_columns(pl.col("ds").cast(pl.Date))).sort("unique_id", "model", "ds")
        logger.debug("statsforecast: %d series x %d models x %d steps", hist["unique_id"].n_unique(), len(specs), h)
        return ModelOutput(forecasts=out, kept=fitted)

    def _forward_or_fit(self, history: pl.DataFrame, hist: pl.DataFrame, specs: list[ModelSpec],
                        kept: StatFits | None, season_length: int, *, freq: str, h: int,
                        levels: list[int] | None) -> tuple[pl.DataFrame, StatFits | None]:
        """Forecasts of `specs` for every series of `hist`: forwarded from `kept` where it has a usable
        fit (through the unbounded `history`), fitted with the models kept elsewhere."""
        offset = POLARS_OFFSETS[freq]
        ids = hist.get_column("unique_id").unique(maintain_order=True).to_list()
        usable = {} if kept is None else kept.usable(specs, freq)
        chosen = {(uid, s.name): usable[(uid, s.name)] for uid in ids for s in specs if (uid, s.name) in usable}
        forwarded, lost = forward_rows(chosen, history, h=h, offset=offset, levels=levels)
        done = set(chosen) - set(lost)
        todo: dict[tuple[str, ...], list[str]] = {}
        for uid in ids:
            names = tuple(s.name for s in specs if (uid, s.name) not in done)
            if names:
                todo.setdefault(names, []).append(uid)
        parts, fits = [forwarded], StatFits(params={s.name: s.params for s in specs}, freq=freq)
        for names, uids in todo.items():
            group = [s for s in specs if s.name in names]
            part, new = self._fit_keeping(hist.filter(pl.col("unique_id").is_in(uids)).select(KEYS), group,
                                          season_length, h=h, freq=freq, levels=levels)
            parts.append(part)
            fits = fits.merged(new)
        logger.info("statsforecast: %d series/model pairs forwarded from kept fits, %d fitted", len(done), len(fits))
        return pl.concat(parts, how="vertical_relaxed"), (fits if len(fits) else None)

    def _fit_keeping(self, df: pl.DataFrame, specs: list[ModelSpec], season_length: int, *, h: int, freq: str,
                     levels: list[int] | None) -> tuple[pl.DataFrame, StatFits]:
        """One `StatsForecast.fit_predict` call that keeps each series' fitted models (slimmed)."""
        models = [self._model(s, season_length, h, levels) for s in specs]
        sf = StatsForecast(models=models, freq=POLARS_OFFSETS[freq], n_jobs=self.n_jobs)
        wide = sf.fit_predict(df=df, h=h, level=levels)
        span = {uid: (start, end) for uid, start, end in
                df.group_by("unique_id").agg(pl.col("ds").min(), pl.col("ds").max().alias("end")).iter_rows()}
        fits = {(uid, model.alias): Fit(model.model, *span[uid])
                for uid, row in zip(sf.uids.to_list(), sf.fitted_, strict=True) for model in row if not model.failed}
        return _to_long(wide, [m.alias for m in models]), StatFits(fits, {s.name: s.params for s in specs}, freq)

    def _check_specs(self, specs: Sequence[ModelSpec], h: int) -> None:
        if h < 1:
            raise InvalidInputError(f"h must be a positive number of steps, got {h}")
        unknown = sorted({s.name for s in specs} - set(self.models))
        if unknown:
            raise InvalidInputError(f"unknown statsforecast model(s) {unknown}; supported: {list(self.models)}")
        names = [s.name for s in specs]
        if len(names) != len(set(names)):
            raise InvalidInputError(f"model specs must have unique names, got {names}")

    def _bounded(self, history: pl.DataFrame) -> pl.DataFrame:
        """History sorted, with only the last `max_train` observations of each series."""
        typed = history.lazy().with_columns(pl.col("ds").cast(pl.Date), pl.col("y").cast(pl.Float64))
        return last_rows(typed, self.max_train)

    def _model(self, spec: ModelSpec, season_length: int, h: int, levels: list[int] | None) -> _Guarded:
        model = _FACTORIES[spec.name](season_length, {**spec.params, "alias": spec.name})
        conformal = spec.name in CONFORMAL_MODELS
        if conformal and levels and getattr(model, "prediction_intervals", None) is None:
            model.prediction_intervals = ConformalIntervals(h=h, n_windows=self.conformal_windows)
        return _Guarded(model, conformal=conformal, h=h, level=levels)

    def _run(self, df: pl.DataFrame, models: list[_Guarded], *, h: int, offset: str, levels: list[int] | None,
             x_df: pl.DataFrame | None = None) -> pl.DataFrame:
        """One `StatsForecast.forecast` call, returned in the long layout (NaN rows mark failures)."""
        if self.dask is None:
            sf = StatsForecast(models=models, freq=offset, n_jobs=self.n_jobs)
            wide = sf.forecast(df=df, h=h, X_df=x_df, level=levels)
        else:
            from forecast.models.distributed import pandas_freq

            sf = StatsForecast(models=models, freq=pandas_freq(offset))
            with self.dask.active():
                wide = self.dask.collect(sf.forecast(df=self.dask.frame(df), h=h, level=levels,
                                                     X_df=None if x_df is None else self.dask.frame(x_df)))
        return _to_long(wide, [m.alias for m in models])

    def _run_exog(self, hist: pl.DataFrame, x_future: pl.DataFrame | None, specs: list[ModelSpec],
                  exog: list[str], season_length: int, *, h: int, offset: str,
                  levels: list[int] | None) -> list[pl.DataFrame]:
        """Run the exogenous models once per set of regressors that vary within the series."""
        parts = []
        for kept, uids in _exog_groups(hist, exog):
            df = hist.filter(pl.col("unique_id").is_in(uids)).select(*KEYS, *kept)
            x_df = None if not kept or x_future is None else x_future.filter(pl.col("unique_id").is_in(uids)).select(
                "unique_id", "ds", *kept)
            models = [self._model(s, season_length, h, levels) for s in specs]
            parts.append(self._run(df, models, h=h, offset=offset, levels=levels, x_df=x_df))
        return parts

    def _with_fallbacks(self, long: pl.DataFrame, hist: pl.DataFrame, season_length: int, *,
                        h: int, offset: str, levels: list[int] | None) -> pl.DataFrame:
        """Replace the rows of failed (series, model) pairs by SeasonalNaive, else HistoricAverage."""
        failed = (long.group_by("unique_id", "model").agg(pl.col("yhat").is_nan().any().alias("bad"))
                  .filter("bad").drop("bad"))
        if failed.is_empty():
            return long
        logger.info("%d series/model pairs failed and fall back: %s", failed.height,
                    failed.head(5).rows())
        uids = failed["unique_id"].unique().to_list()
        models = [self._model(ModelSpec(name), season_length, h, levels) for name in FALLBACKS]
        backup = self._run(hist.filter(pl.col("unique_id").is_in(uids)).select(KEYS), models, h=h, offset=offset,
                           levels=levels)
        choice = _choose_fallback(failed, backup)
        replaced = (choice.join(backup.rename({"model": "fallback"}), on=["unique_id", "fallback"], how="left")
                    .with_columns(pl.format("{} (fallback from {})", "fallback", "model").alias("model"))
                    .select(long.columns))
        lost = failed.join(choice, on=["unique_id", "model"], how="anti")
        if not lost.is_empty():
            logger.warning("no fallback worked for %s; forecasting zero", lost.rows())
            zeros = pl.concat([_zero_rows(hist.filter(pl.col("unique_id") == u), f"{ZERO} (fallback from {m})",
                                          h=h, offset=offset) for u, m in lost.iter_rows()])
            replaced = pl.concat([replaced, zeros], how="vertical_relaxed")
        kept = long.join(failed, on=["unique_id", "model"], how="anti")
        return pl.concat([kept, replaced], how="vertical_relaxed")


def _frequency(freq: str) -> tuple[int, str]:
    """Season length and polars offset of `freq`."""
    if freq not in FREQUENCIES:
        raise InvalidInputError(f"unsupported frequency {freq!r}; supported: {', '.join(FREQUENCIES)}")
    return FREQUENCIES[freq], POLARS_OFFSETS[freq]


def _check_history(history: pl.DataFrame) -> None:
    """Raise unless `history` has the key columns and at least one row."""
    missing = [c for c in KEYS if c not in history.columns]
    if missing:
        raise InvalidInputError(f"history lacks column(s) {missing}; expected the Nixtla layout {list(KEYS)}")
    if history.is_empty():
        raise InvalidInputError("history has no rows; nothing to fit")


def _exog_columns(history: pl.DataFrame) -> list[str]:
    """Numeric (and boolean) columns besides the keys; other columns are ignored with a debug log."""
    extra = {c: t for c, t in history.schema.items() if c not in KEYS}
    exog = [c for c, t in extra.items() if t.is_numeric() or t == pl.Boolean]
    ignored = sorted(set(extra) - set(exog))
    if ignored:
        logger.debug("ignoring non-numeric columns %s (not usable as regressors)", ignored)
    return exog


def _future_exog(hist: pl.DataFrame, future: pl.DataFrame | None, exog: list[str], *, h: int, offset: str,
                 needed: bool) -> pl.DataFrame | None:
    """Future regressor values on the forecast grid (unique_id x next h dates), or None when not needed."""
    if future is not None:
        missing = [c for c in exog if c not in future.columns]
        if missing:
            raise InvalidInputError(
                f"future lacks column(s) {missing} that history has; add their values for the next {h} steps "
                "(known ahead, or a projection/scenario)")
    if not exog or not needed:
        return None
    if future is None:
        raise InvalidInputError(f"ARIMA/AutoARIMA with regressors {exog} need `future` with their next {h} values")
    last = hist.group_by("unique_id", maintain_order=True).agg(pl.col("ds").last())
    grid = make_future_dataframe(last["unique_id"], last["ds"], freq=offset, h=h)
    values = future.select("unique_id", pl.col("ds").cast(pl.Date), *[pl.col(c).cast(pl.Float64) for c in exog])
    x_df = grid.with_columns(pl.col("ds").cast(pl.Date)).join(values, on=["unique_id", "ds"], how="left")
    bad = x_df.filter(pl.any_horizontal(pl.col(exog).is_null() | pl.col(exog).is_nan()))
    if not bad.is_empty():
        ids = bad["unique_id"].unique(maintain_order=True)
        raise InvalidInputError(
            f"future has no value of {exog} for {bad.height} row(s) of the {h}-step horizon, e.g. unique_id "
            f"{ids.head(5).to_list()}{' ...' if ids.len() > 5 else ''}; supply every regressor for every future step")
    return x_df


def _exog_groups(hist: pl.DataFrame, exog: list[str]) -> list[tuple[list[str], list[str]]]:
    """Series grouped by the regressors that are not constant within them (constant ones are singular)."""
    if not exog:
        return [([], hist["unique_id"].unique().to_list())]
    varies = hist.group_by("unique_id").agg([(pl.col(c).n_unique() > 1).alias(c) for c in exog])
    kept = pl.concat_list([pl.when(pl.col(c)).then(pl.lit(c)) for c in exog]).list.drop_nulls()
    groups = (varies.select("unique_id", kept.alias("kept")).group_by("kept").agg("unique_id")
              .sort(pl.col("kept").list.len(), descending=True))
    out = []
    for cols, uids in groups.iter_rows():
        dropped = [c for c in exog if c not in cols]
        if dropped:
            logger.debug("dropping regressor(s) %s, constant in %d series", dropped, len(uids))
        out.append((cols, uids))
    return out


def _to_long(wide: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """statsforecast's wide output (`AutoETS`, `AutoETS-lo-80`, ...) as FORECAST_SCHEMA rows (NaN bounds
    when it ran without levels)."""
    bound = lambda name, suffix: (pl.col(f"{name}-{suffix}") if f"{name}-{suffix}" in wide.columns  # noqa: E731
                                  else pl.lit(float("nan")))
    return pl.concat([
        wide.select("unique_id", pl.col("ds").cast(pl.Date), pl.lit(name).alias("model"), pl.col(name).alias("yhat"),
                    *[bound(name, suffix).alias(col) for col, suffix in BOUNDS.items()])
        for name in names
    ]).select(list(FORECAST_SCHEMA))


def _choose_fallback(failed: pl.DataFrame, backup: pl.DataFrame) -> pl.DataFrame:
    """For each failed (unique_id, model): the first of FALLBACKS that worked for the series and is not the model."""
    worked = backup.group_by("unique_id", "model").agg(pl.col("yhat").is_not_nan().all().alias("ok")).filter("ok")
    order = pl.DataFrame({"fallback": list(FALLBACKS), "rank": list(range(len(FALLBACKS)))})
    return (failed.join(order, how="cross")
            .join(worked.select("unique_id", pl.col("model").alias("fallback")), on=["unique_id", "fallback"])
            .filter(pl.col("fallback") != pl.col("model"))
            .sort("rank").group_by("unique_id", "model", maintain_order=True).first().drop("rank"))


def _zero_rows(hist: pl.DataFrame, name: str, *, h: int, offset: str) -> pl.DataFrame:
    """All-zero forecasts (yhat and bounds) for every series of `hist`."""
    last = hist.group_by("unique_id", maintain_order=True).agg(pl.col("ds").last())
    grid = make_future_dataframe(last["unique_id"], last["ds"], freq=offset, h=h)
    return grid.select("unique_id", pl.col("ds").cast(pl.Date), pl.lit(name).alias("model"),
                       *[pl.lit(0.0).alias(c) for c in ("yhat", "lo80", "hi80", "lo95", "hi95")])
