"""The one small interface every model family implements, and the output contract they share.

Frames are polars in the Nixtla layout. `history` has `unique_id`, `ds` (Date), `y` (Float64) and
any exogenous columns; `future` has `unique_id`, `ds` and the same exogenous columns for the
horizon (signals known ahead as they are, case counts as a projection). Every adapter returns
`FORECAST_SCHEMA`: non-negative, with `lo95 <= lo80 <= yhat <= hi80 <= hi95`, naming the model
of every row. Adapters may also return per-row signal contributions (`CONTRIBUTION_SCHEMA`).

`ModelAdapter` declares everything a caller (`forecast.pipeline.Forecaster`) may ask of a family;
`BaseAdapter` gives the defaults of a family that has none of the optional capabilities, and every
family derives from it, overriding what it does differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import polars as pl

if TYPE_CHECKING:
    from forecast.models.distributed import DaskEngine

__all__ = [
    "FORECAST_SCHEMA",
    "CONTRIBUTION_SCHEMA",
    "LEVELS",
    "ModelSpec",
    "ModelOutput",
    "ModelAdapter",
    "BaseAdapter",
    "PerSeriesFits",
    "FREQUENCIES",
    "finalise",
    "last_rows",
]

LEVELS = (80, 95)
FREQUENCIES = {"D": 7, "W": 52, "MS": 12}
"""Supported frequencies (polars/pandas aliases: daily, weekly, month start) and their season length."""

FORECAST_SCHEMA = {
    "unique_id": pl.String,
    "ds": pl.Date,
    "model": pl.String,
    "yhat": pl.Float64,
    "lo80": pl.Float64,
    "hi80": pl.Float64,
    "lo95": pl.Float64,
    "hi95": pl.Float64,
}
CONTRIBUTION_SCHEMA = {"unique_id": pl.String, "ds": pl.Date, "feature": pl.String, "contribution": pl.Float64}


@dataclass(frozen=True)
class ModelSpec:
    """A model by name with its parameters, e.g. `ModelSpec("AutoETS")` or `ModelSpec("XGBoost", {"n_estimators": 300})`."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelOutput:
    """What an adapter returns: forecasts (FORECAST_SCHEMA) and optional contributions (CONTRIBUTION_SCHEMA)."""

    forecasts: pl.DataFrame
    contributions: pl.DataFrame | None = None
    kept: Any | None = None
    """A fitted model the family can forecast from again on later data without refitting (passed
    back as `forecast(..., kept=...)`); None for families that refit every time."""


@runtime_checkable
class PerSeriesFits(Protocol):
    """A `ModelOutput.kept` that holds one fit per (unique_id, model) pair (statsforecast's): fits of
    several calls and runs merge, and the holdout's fits of the chosen pairs forecast the final run."""

    fits: dict[tuple[str, str], Any]

    def merged(self, newer: Any) -> Any:
        """These fits overlaid with `newer`'s."""
        ...

    def only(self, pairs: Any) -> Any:
        """The fits of the (unique_id, model) `pairs` only."""
        ...

    def renamed(self, ids: Any) -> Any:
        """The fits of the series in `ids` (old unique_id -> new), under their new ids."""
        ...


@runtime_checkable
class ModelAdapter(Protocol):
    """A model family: many models behind one call, like statsforecast's `StatsForecast`."""

    family: str
    models: tuple[str, ...]
    """Model names this family knows."""
    is_global: bool
    """One model learns from every series it is given (XGBoost), so a caller passes it all of them, not
    only the series it is chosen for; False: each series is fitted on its own."""
    keeps_models: bool
    """`forecast` returns its fitted model as `ModelOutput.kept` and forecasts from it again when given
    it back (`kept=`); False: the family refits every time and is never given one."""
    fits_missing_y: bool
    """Fits on irregular days: rows whose y is unknown are dropped for it, where the other families
    get y interpolated within the series."""
    max_train: int | None
    """The most recent rows of a series it fits on (None: all of them)."""
    dask: DaskEngine | None
    """The Dask cluster it fits on, or None: in this process."""

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: Any | None = None) -> ModelOutput:
        """Fit `specs` on `history` and forecast `h` steps (one row per unique_id x ds x model).

        `point_only` skips what only the intervals and contributions need (bounds = yhat, no
        contributions): a holdout that scores point forecasts does not pay for them. `kept`: a model
        an earlier call returned (`keeps_models` families only)."""
        ...

    def forecast_variants(self, history: pl.DataFrame, futures: Mapping[str, pl.DataFrame | None], *, h: int,
                          freq: str, specs: list[ModelSpec]) -> dict[str, ModelOutput]:
        """`forecast` of `history` once per future of `futures` (name -> future), from the same fit."""
        ...

    def rows_for_intervals(self, *, h: int, freq: str) -> int | None:
        """The rows the shortest series of a call needs for this family to give any series intervals
        (None: no such bound, each series gets what its own history allows)."""
        ...


class BaseAdapter:
    """What a family declares (`ModelAdapter`), with the defaults of one that has no optional
    capability: local fits of every row in this process, y known on every day, no kept models, one
    fit per future variant, and no shortest series that costs the others their intervals."""

    family: str
    models: tuple[str, ...]
    is_global: bool = False
    keeps_models: bool = False
    fits_missing_y: bool = False
    max_train: int | None = None
    dask: DaskEngine | None = None

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: Any | None = None) -> ModelOutput:
        """See `ModelAdapter.forecast`; every family implements it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forecast")

    def forecast_variants(self, history: pl.DataFrame, futures: Mapping[str, pl.DataFrame | None], *, h: int,
                          freq: str, specs: list[ModelSpec]) -> dict[str, ModelOutput]:
        """One `forecast` per variant: the same fit each time when the family's fits are deterministic.
        A family that can fit once and predict several futures overrides it."""
        return {name: self.forecast(history, future, h=h, freq=freq, specs=specs) for name, future in futures.items()}

    def rows_for_intervals(self, *, h: int, freq: str) -> int | None:
        """None: a short series does not take the intervals of the others."""
        return None


def finalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Clip to non-negative and order the interval bounds: lo95 <= lo80 <= yhat <= hi80 <= hi95.

    Crossing bounds (possible when separately fitted quantiles or conformal scores disagree) are
    sorted rather than dropped; a missing interval becomes the point forecast.
    """
    yhat = pl.col("yhat").fill_nan(None).fill_null(0.0).clip(lower_bound=0.0)
    bounds = [pl.col(c).fill_nan(None).fill_null(yhat).clip(lower_bound=0.0) for c in ("lo95", "lo80", "hi80", "hi95")]
    ordered = frame.with_columns(yhat.alias("yhat"), *[b.alias(c) for b, c in zip(bounds, ("lo95", "lo80", "hi80", "hi95"), strict=True)])
    return ordered.with_columns(
        pl.min_horizontal("lo95", "lo80", "yhat").alias("lo95"),
        pl.min_horizontal("lo80", "yhat").alias("lo80"),
        pl.max_horizontal("hi80", "yhat").alias("hi80"),
        pl.max_horizontal("hi95", "hi80", "yhat").alias("hi95"),
    ).select(list(FORECAST_SCHEMA)).cast(FORECAST_SCHEMA)


def last_rows(frame: pl.DataFrame | pl.LazyFrame, max_train: int | None) -> pl.DataFrame:
    """`frame` sorted by unique_id, ds with only the last `max_train` rows of each series (all with
    None). It copies only what it must: a frame already in that order is filtered, not sorted, and one
    with no series longer than `max_train` is returned as it is (each copy of a 10,000-series,
    two-year training frame is 0.8 GiB). Otherwise the rows are dropped before the sort.

    Pass a typed selection as a LazyFrame: on a frame of many chunks (what a lazy collect returns)
    polars' eager select, filter and group_by first copy it into one chunk.
    """
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    ordered = is_sorted_by_series(frame)
    longest = frame.lazy().group_by("unique_id").len().select(pl.col("len").max()).collect().item()
    if max_train is None or longest is None or longest <= max_train:
        return frame if ordered else frame.sort("unique_id", "ds")
    kept = frame.lazy().filter(pl.col("ds").rank("ordinal", descending=True).over("unique_id") <= max_train)
    return (kept if ordered else kept.sort("unique_id", "ds")).collect()


def is_sorted_by_series(frame: pl.DataFrame) -> bool:
    """Whether `frame`'s rows are in unique_id order and, within a series, in strictly increasing ds."""
    uid, ds = pl.col("unique_id"), pl.col("ds")
    in_order = (uid > uid.shift(1)) | ((uid == uid.shift(1)) & (ds > ds.shift(1)))
    return bool(frame.lazy().select(in_order.slice(1).all()).collect().item())
