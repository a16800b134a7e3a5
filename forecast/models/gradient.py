"""A global XGBoost model over every series, through mlforecast, with per-row signal contributions.

One `xgboost.XGBRegressor` with a count-friendly objective (`count:poisson` by default) learns from
all series at once. Its features are lags, rolling means/stds of recent lags, calendar fields and
the exogenous signal columns of `history` (whose future values come from `future`). mlforecast
predicts recursively, one step at a time; the feature rows of every step are captured with its
`before_predict_callback` and passed to xgboost's own `pred_contribs` to tell how much each signal
moved each forecast. Intervals are mlforecast's conformal intervals. A fitted model is returned as
a `KeptBooster`, which a later night forecasts from on its new history without refitting. With a
`DaskEngine` the same model is fitted with mlforecast's distributed forecaster (see
`GradientBoostingAdapter`). The feature recipe and the checked, encoded frames it reads are in
`forecast.models.gradient_features`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
import xgboost as xgb
from mlforecast import MLForecast
from mlforecast.utils import PredictionIntervals

from forecast.errors import InvalidInputError
from forecast.models.base import (CONTRIBUTION_SCHEMA, FREQUENCIES, LEVELS, BaseAdapter, ModelOutput, ModelSpec,
                                  finalise)
from forecast.models.gradient_features import (KEYS, RECIPES, Features, check_future, features_for, prepare_future,
                                               prepare_history, shorten, split_exogenous)

if TYPE_CHECKING:
    from forecast.models.distributed import DaskEngine

__all__ = ["GradientBoostingAdapter", "KeptBooster", "XGB_DEFAULTS"]

logger = logging.getLogger(__name__)

MODEL = "XGBoost"
XGB_DEFAULTS: dict[str, Any] = {
    "objective": "count:poisson",
    "n_estimators": 150,
    "learning_rate": 0.1,
    "max_depth": 6,
    "tree_method": "hist",
    "random_state": 0,
    "n_jobs": 2,
}
"""XGBRegressor parameters used unless a `ModelSpec("XGBoost", params)` overrides them. 150 trees at
0.1 score as 300 at 0.05 did on the 140 M5 series (WRMSSE over three 28-day windows 0.881 against
0.877) in two thirds of the time (measured with benchmarks/peer_prophet.py's data)."""
_OBJECTIVES = ("count:poisson", "reg:tweedie")
_MAX_THREADS = 2
Contributions = Literal["exact", "approx", "off"]


def _xgb_params(spec: ModelSpec) -> dict[str, Any]:
    """XGB_DEFAULTS overridden by the spec's params; the objective must be count-friendly (log link)."""
    params = {**XGB_DEFAULTS, **spec.params}
    if params["objective"] not in _OBJECTIVES:
        raise InvalidInputError(
            f"XGBoost objective {params['objective']!r} is not supported: use one of {list(_OBJECTIVES)} "
            "(count-friendly, log link, so forecasts stay non-negative)"
        )
    return params


def _check_call(history: pl.DataFrame, *, h: int, freq: str, specs: list[ModelSpec]) -> ModelSpec:
    """Validate the call's arguments and return the one XGBoost spec."""
    if freq not in RECIPES:
        raise InvalidInputError(f"freq {freq!r} is not supported: use one of {list(FREQUENCIES)}")
    if h < 1:
        raise InvalidInputError(f"h must be a positive number of periods, got {h}")
    if len(specs) != 1 or specs[0].name != MODEL:
        raise InvalidInputError(f"GradientBoostingAdapter fits exactly one ModelSpec named {MODEL!r}, got {[s.name for s in specs]}")
    missing = [c for c in (*KEYS, "y") if c not in history.columns]
    if missing or history.is_empty():
        raise InvalidInputError(f"history needs rows with columns unique_id, ds, y (missing: {missing or 'rows'})")
    y = pl.col("y").cast(pl.Float64)
    bad = history.lazy().filter(y.is_null() | y.is_nan() | y.is_infinite() | (y < 0)).collect()["unique_id"]
    if bad.len():
        ids = bad.cast(pl.String).unique(maintain_order=True).to_list()
        raise InvalidInputError(f"history has {bad.len()} row(s) with y missing, not finite or negative (series "
                                f"{shorten(ids)}); XGBoost's count objective needs y >= 0: fix or drop them")
    return specs[0]


@dataclass
class KeptBooster:
    """A fitted XGBoost and its mlforecast state, to forecast later nights from without refitting.

    A later call gives it the whole (bounded) history as mlforecast's `new_df`, so the lags and
    rolling windows come from the actuals as they are now (corrections included); the booster and
    the conformal scores stay those of the fit.
    """

    mlf: MLForecast
    codes: dict[str, dict[str, float]]
    exog: list[str]
    params: dict[str, Any]
    freq: str
    series: frozenset[str]
    trained_through: dt.date

    @property
    def with_intervals(self) -> bool:
        return getattr(self.mlf, "prediction_intervals", None) is not None

    def refusal(self, hist: pl.DataFrame, *, exog: list[str], params: dict[str, Any], freq: str) -> str | None:
        """Why this model should not forecast `hist` (prepared history), or None when it can."""
        if (freq, exog, params) != (self.freq, self.exog, self.params):
            return "the frequency, signal columns or XGBoost parameters changed"
        if frozenset(hist.get_column("unique_id").unique().to_list()) != self.series:
            return "the set of series changed (the conformal scores are per series)"
        return None


class _StepRecorder:
    """`before_predict_callback` that keeps the feature rows of every recursive step, unchanged."""

    def __init__(self) -> None:
        self.steps: list[np.ndarray] = []

    def __call__(self, features: Any) -> Any:
        """Keep a copy of this step's features (a numpy array, polars or pandas frame) and hand them on unchanged."""
        values = features if isinstance(features, np.ndarray) else features.to_numpy()
        self.steps.append(np.array(values, dtype=np.float32))
        return features


class GradientBoostingAdapter(BaseAdapter):
    """Global XGBoost through mlforecast: lags, rolling windows, calendar and signal features.

    Contributions are xgboost's own `pred_contribs` output for each exogenous feature, computed on
    the exact feature row of each recursive step. They are log-scale contributions (the model's
    margin, for `count:poisson` and `reg:tweedie`): a contribution c means the signal multiplies
    the forecast by exp(c); exp(sum of all features' contributions + bias) = yhat. They are
    relative to the training average, so an on/off signal is positive when on and slightly
    negative when off.

    Conformal intervals use as many calibration windows of `h` periods as the shortest series
    allows, from 2 up to `n_windows`. mlforecast takes a quantile of each series' own `n` window
    errors per horizon step, so the coverage of the 95% band is at best about n / (n + 1).

    Args:
        n_windows: Most conformal calibration windows (mlforecast `PredictionIntervals`); at least 2.
        contributions: "exact" Tree SHAP (about 1.8 ms per forecast row with the default 150 trees),
            "approx" (xgboost's `approx_contribs`, Saabas, ~100x faster, also additive), or "off".
        num_threads: Threads for mlforecast's feature engineering (at most 2 on this machine).
        max_train: Most recent rows of each series to train on (None: all). Two years (730 days)
            keep every day of the year twice; on the 140 M5 series they cost 0.011 WRMSSE against
            all 1,913 days and halve the fits (measured, benchmarks/peer_prophet.py).
        dask: Fit and forecast on this Dask cluster with mlforecast's `DistributedMLForecast` and
            `DaskXGBForecast`: the same features, parameters (but `n_jobs`: workers use their own
            threads) and conformal intervals. Distributed xgboost sketches and sums histograms
            across workers, so forecasts may differ slightly from the local fit.
    """

    family = "mlforecast"
    models = (MODEL,)
    is_global = True
    """One model learns from every series (a scenario still fits on all of them)."""
    keeps_models = True
    """`forecast` returns its fitted model (`ModelOutput.kept`) and can forecast from it again (`kept=`)."""

    def __init__(self, *, n_windows: int = 5, contributions: Contributions = "exact",
                 num_threads: int = _MAX_THREADS, max_train: int | None = 730,
                 dask: DaskEngine | None = None) -> None:
        if n_windows < 2:
            raise InvalidInputError(f"n_windows must be at least 2 for conformal intervals, got {n_windows}")
        if contributions not in ("exact", "approx", "off"):
            raise InvalidInputError(f"contributions must be 'exact', 'approx' or 'off', got {contributions!r}")
        if max_train is not None and max_train < 1:
            raise InvalidInputError(f"max_train must be a positive number of rows or None, got {max_train}")
        self.n_windows = n_windows
        self.contributions = contributions
        self.num_threads = max(1, min(num_threads, _MAX_THREADS))
        self.max_train = max_train
        self.dask = dask

    @staticmethod
    def rows_for_intervals(*, h: int, freq: str) -> int:
        """Rows the shortest series needs for conformal intervals with every feature of `freq`: 2
        windows of `h` beyond the longest lookback (91 days for h=28, daily)."""
        return 2 * h + features_for(freq, 2**31).lookback + 1

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: KeptBooster | None = None) -> ModelOutput:
        """Fit one XGBoost on all series of `history` (or update `kept`) and forecast `h` periods recursively.

        Args:
            history: unique_id, ds, y and exogenous columns (numeric ones are features; string ones
                are encoded as category codes when `future` has them too, otherwise ignored).
            future: unique_id, ds and every numeric exogenous column for the `h` periods after
                each series' history; may be None when history has no exogenous columns.
            h: Periods to forecast.
            freq: "D", "W" or "MS".
            specs: Exactly one `ModelSpec("XGBoost", params)`; params override `XGB_DEFAULTS`.
            point_only: one fit, no conformal refits and no contributions (bounds = yhat).
            kept: a model an earlier call returned: when it learned from the same series, signals and
                parameters, it forecasts from the end of `history` (mlforecast's `new_df`) without
                refitting; otherwise a new fit (logged).

        Returns:
            FORECAST_SCHEMA rows (model "XGBoost"), CONTRIBUTION_SCHEMA rows, one per forecast row x
            exogenous feature (log-scale contribution; exp(sum) = multiplier), and the model as `kept`
            (its `trained_through` tells a new fit from an updated one; None for point-only or Dask fits).

        Raises:
            InvalidInputError: bad arguments, a missing exogenous column or horizon row in `future`.
        """
        return self.forecast_variants(history, {"": future}, h=h, freq=freq, specs=specs, point_only=point_only,
                                      kept=kept)[""]

    def forecast_variants(self, history: pl.DataFrame, futures: Mapping[str, pl.DataFrame | None], *, h: int,
                          freq: str, specs: list[ModelSpec], point_only: bool = False,
                          kept: KeptBooster | None = None) -> dict[str, ModelOutput]:
        """Fit once on `history`, then forecast once per future (e.g. with and without a planned event).

        Every future must have the same columns; see `forecast` for the arguments and the output.
        """
        spec = _check_call(history, h=h, freq=freq, specs=specs)
        params = _xgb_params(spec)
        first = next(iter(futures.values()), None)
        numeric, text = split_exogenous(history, first)
        exog = numeric + text
        hist, codes = prepare_history(history, exog, text, self.max_train)
        refusal = None if kept is None else kept.refusal(hist, exog=exog, params=params, freq=freq)
        if kept is not None and refusal is None and self.dask is None and not point_only:
            codes = kept.codes
        elif kept is not None:
            logger.info("XGBoost: refitting instead of updating the kept model: %s",
                        refusal or "point-only or Dask calls always fit")
            kept = None
        prepared: dict[str, pl.DataFrame | None] = {}
        for name, future in futures.items():
            if exog and future is None:
                raise InvalidInputError(f"future {name!r} is missing: the exogenous columns {exog} need their "
                                        "values over the horizon")
            prepared[name] = None if future is None or not exog else prepare_future(future, hist, exog, text, codes)
            if prepared[name] is not None:
                check_future(hist, prepared[name], h=h, freq=freq)
        started = time.perf_counter()
        if self.dask is not None:
            return self._on_dask(hist, prepared, freq=freq, h=h, params=params, exog=exog, point_only=point_only)
        if kept is None:
            kept, how, recent = self._fit(hist, codes, exog, freq=freq, h=h, params=params,
                                          intervals=not point_only), "fitted", None
        else:
            how, recent = f"the kept model fitted through {kept.trained_through}, not refitted", hist
        outputs = {name: self._predict(kept, fut, h=h, point_only=point_only, recent=recent)
                   for name, fut in prepared.items()}
        logger.info("XGBoost on %d series x %d periods x %d variant(s): %.1f s (%s, intervals: %s, signals: %s)",
                    hist.get_column("unique_id").n_unique(), h, len(prepared), time.perf_counter() - started,
                    how, kept.with_intervals, exog)
        return outputs

    def _predict(self, model: KeptBooster, fut: pl.DataFrame | None, *, h: int, point_only: bool,
                 recent: pl.DataFrame | None) -> ModelOutput:
        """Recursive forecast of a fitted model (from the end of `recent` when given, else of its
        training data), with the contributions of its signals and the model to keep unless `point_only`."""
        recorder = _StepRecorder() if not point_only and self.contributions != "off" else None
        if recent is None:
            preds = model.mlf.predict(h, X_df=fut, level=list(LEVELS) if model.with_intervals else None,
                                      before_predict_callback=recorder)
        else:  # mlforecast's new_df intervals re-run a backtest without X_df; the fit's scores are applied here
            preds = model.mlf.predict(h, new_df=recent, X_df=fut, before_predict_callback=recorder)
            if model.with_intervals:
                preds = _with_bands(preds, model.mlf._cs_df, n_windows=model.mlf.prediction_intervals.n_windows, h=h)
        found = None
        if recorder is not None:
            found = _contributions(model.mlf, recorder.steps, preds, model.exog, approx=self.contributions == "approx")
        return ModelOutput(_to_forecasts(preds), found, None if point_only else model)

    def _plan(self, hist: pl.DataFrame, *, freq: str, h: int) -> tuple[Features, int | None]:
        """The features that fit the shortest series, and the conformal windows it allows (None: no intervals)."""
        lengths = hist.lazy().group_by("unique_id").len().collect().get_column("len")
        shortest = int(lengths.min())  # type: ignore[arg-type]
        features = features_for(freq, shortest)
        n_windows = min(self.n_windows, (shortest - features.lookback - 1) // h)
        if n_windows < 2:
            logger.warning("shortest series has %d rows, conformal intervals need more than %d (2 windows x h=%d + "
                           "lookback %d): fitting without intervals, bounds = forecast", shortest,
                           2 * h + features.lookback, h, features.lookback)
            return features, None
        if n_windows < self.n_windows:
            logger.info("shortest series has %d rows: %d conformal windows instead of %d", shortest, n_windows,
                        self.n_windows)
        return features, n_windows

    def _fit(self, hist: pl.DataFrame, codes: dict[str, dict[str, float]], exog: list[str], *, freq: str, h: int,
             params: dict[str, Any], intervals: bool) -> KeptBooster:
        """Fit mlforecast on `hist`, with conformal intervals when asked and every series is long enough."""
        features, n_windows = self._plan(hist, freq=freq, h=h)
        mlf = MLForecast(
            models={MODEL: xgb.XGBRegressor(**params)},
            freq=RECIPES[freq].offset,
            lags=features.lags or None,
            lag_transforms=features.lag_transforms or None,
            date_features=features.date_features,
            num_threads=self.num_threads,
        )
        calibration = PredictionIntervals(n_windows=n_windows, h=h) if n_windows and intervals else None
        # as_numpy: xgboost gets one float32 array (every feature is float32 or a small integer);
        # given the polars frame it took 1.7 GiB more while fitting on 10,000 series x 2 years.
        mlf.fit(hist, static_features=[], prediction_intervals=calibration,
                keep_last_n=features.lookback or None, as_numpy=True)
        return KeptBooster(mlf, codes, exog, params, freq, frozenset(hist.get_column("unique_id").unique().to_list()),
                           hist.get_column("ds").max())  # type: ignore[arg-type]

    def _on_dask(self, hist: pl.DataFrame, futures: Mapping[str, pl.DataFrame | None], *, freq: str, h: int,
                 params: dict[str, Any], exog: list[str], point_only: bool) -> dict[str, ModelOutput]:
        """Fit and forecast with mlforecast's `DistributedMLForecast` and `DaskXGBForecast` on `self.dask`.

        The conformal scores come from a distributed `cross_validation(refit=False)` (what local
        mlforecast fits its intervals on) and mlforecast's own conformal method is applied to the
        collected forecasts. Contributions replay the recursive predict locally (`to_local`) to
        capture each step's feature rows for the booster's `pred_contribs`.
        """
        from mlforecast.distributed import DistributedMLForecast
        from mlforecast.distributed.models.dask.xgb import DaskXGBForecast

        from forecast.models.distributed import pandas_date_features, pandas_freq

        dask = self.dask
        assert dask is not None
        started = time.perf_counter()
        features, n_windows = self._plan(hist, freq=freq, h=h)
        dask_params = {k: v for k, v in params.items() if k != "n_jobs"}  # workers train with their own threads

        def distributed() -> DistributedMLForecast:
            return DistributedMLForecast(
                models={MODEL: DaskXGBForecast(**dask_params)}, freq=pandas_freq(RECIPES[freq].offset),
                lags=features.lags or None, lag_transforms=features.lag_transforms or None,
                date_features=pandas_date_features(features.date_features), num_threads=1, engine=dask.client)

        data, keep = dask.frame(hist), {"static_features": [], "keep_last_n": features.lookback or None}
        with dask.active():
            scores = None if n_windows is None or point_only else dask.collect(
                distributed().cross_validation(data, n_windows=n_windows, h=h, refit=False, **keep))
            mlf = distributed().fit(data, **keep)
            predicted = {name: dask.collect(mlf.predict(h, X_df=None if fut is None else dask.frame(fut))).sort(KEYS)
                         for name, fut in futures.items()}
            local = None if self.contributions == "off" or point_only else mlf.to_local()
        if scores is not None and n_windows is not None:
            predicted = {name: _conformal(p, scores, n_windows=n_windows, h=h) for name, p in predicted.items()}
        outputs = {name: ModelOutput(_to_forecasts(preds), None if local is None else _replayed_contributions(
                       local, futures[name], h=h, exog=exog, approx=self.contributions == "approx"))
                   for name, preds in predicted.items()}
        logger.info("XGBoost on Dask %s: %d series x %d periods x %d variant(s): %.1f s (intervals: %s, signals: %s)",
                    dask.address, hist.get_column("unique_id").n_unique(), h, len(futures),
                    time.perf_counter() - started, scores is not None, exog)
        return outputs


def _conformal(preds: pl.DataFrame, cv: pl.DataFrame, *, n_windows: int, h: int) -> pl.DataFrame:
    """`preds` with mlforecast's conformal bands from cross-validation rows (unique_id, ds, cutoff, y, XGBoost)."""
    from mlforecast.conformal_prediction import compute_conformity_scores

    return _with_bands(preds, compute_conformity_scores(cv.sort("cutoff", *KEYS), [MODEL], "y"), n_windows=n_windows, h=h)


def _with_bands(preds: pl.DataFrame, scores: pl.DataFrame, *, n_windows: int, h: int) -> pl.DataFrame:
    """`preds` with mlforecast's conformal bands at LEVELS from conformity `scores` (cutoff, unique_id, ds, XGBoost)."""
    from mlforecast.conformal_prediction import get_conformal_method

    method = get_conformal_method(PredictionIntervals(n_windows=n_windows, h=h).method)
    return method(preds, scores, model_names=[MODEL], level=sorted(LEVELS), cs_n_windows=n_windows, cs_h=h,
                  n_series=preds.get_column("unique_id").n_unique(), horizon=h)


def _replayed_contributions(local: MLForecast, fut: pl.DataFrame | None, *, h: int, exog: list[str],
                            approx: bool) -> pl.DataFrame:
    """Contributions of a distributed fit: its recursive predict replayed here (`to_local`) with the step recorder."""
    if not exog:
        return pl.DataFrame(schema=CONTRIBUTION_SCHEMA)
    x_df = None if fut is None else fut.to_pandas().assign(ds=lambda d: d["ds"].astype("datetime64[ns]"))
    recorder = _StepRecorder()
    replay = local.predict(h, X_df=x_df, before_predict_callback=recorder)
    keys = pl.from_pandas(replay[list(KEYS)]).with_columns(pl.col("ds").cast(pl.Date))
    return _contributions(local, recorder.steps, keys, exog, approx=approx)


def _to_forecasts(preds: pl.DataFrame) -> pl.DataFrame:
    """mlforecast's wide output (XGBoost, XGBoost-lo-80, ...) as FORECAST_SCHEMA rows."""
    names = {MODEL: "yhat"} | {f"{MODEL}-{side}-{level}": f"{side}{level}" for side in ("lo", "hi") for level in LEVELS}
    present = {old: new for old, new in names.items() if old in preds.columns}
    frame = preds.select(*KEYS, *[pl.col(old).cast(pl.Float64).alias(new) for old, new in present.items()])
    absent = [pl.lit(None, dtype=pl.Float64).alias(new) for new in names.values() if new not in frame.columns]
    return finalise(frame.with_columns(*absent, pl.lit(MODEL).alias("model")))


def _contributions(mlf: MLForecast, steps: list[np.ndarray], preds: pl.DataFrame,
                   exog: list[str], *, approx: bool) -> pl.DataFrame:
    """Margin-scale contribution (Tree SHAP, or Saabas if `approx`) of each exogenous feature per forecast row.

    `steps[k]` holds the features of horizon step k (in `mlf`'s feature order), one row per series
    in mlforecast's series order; `preds` is ordered by series then date, so step k of series j is
    row j * h + k.
    """
    if not exog or not steps:
        return pl.DataFrame(schema=CONTRIBUTION_SCHEMA)
    h, n_series = len(steps), steps[0].shape[0]
    if h * n_series != preds.height:
        raise RuntimeError(f"captured {h} steps x {n_series} series but mlforecast returned {preds.height} rows")
    model, features = mlf.models_[MODEL], list(mlf.ts.features_order_)
    booster = model.get_booster()  # named features when fitted on a frame (Dask, older kept models), else none
    data = xgb.DMatrix(np.vstack(steps), feature_names=booster.feature_names, feature_types=booster.feature_types,
                       nthread=model.n_jobs or 1)
    contribs = booster.predict(data, pred_contribs=True, approx_contribs=approx)
    # (h * n_series, n_features + bias) step-major -> series-major to line up with preds.
    contribs = contribs.reshape(h, n_series, -1).transpose(1, 0, 2).reshape(h * n_series, -1)
    columns = {name: contribs[:, features.index(name)].astype(np.float64) for name in exog}
    wide = preds.select(*KEYS).with_columns(pl.DataFrame(columns))
    return (wide.unpivot(index=list(KEYS), on=exog, variable_name="feature", value_name="contribution")
            .sort(*KEYS, "feature").cast(CONTRIBUTION_SCHEMA))
