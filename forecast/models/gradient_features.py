"""The frames the global XGBoost model reads: its feature recipe per frequency, the exogenous
columns it takes from `history` (numeric as they are, strings as category codes), and the checked,
typed and encoded history and future handed to mlforecast (`forecast.models.gradient`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import polars as pl
from mlforecast.lag_transforms import RollingMean, RollingStd

from forecast.errors import InvalidInputError
from forecast.models.base import last_rows

__all__ = ["KEYS", "RECIPES", "Features", "check_future", "features_for", "find_missing_future", "prepare_future",
           "prepare_history", "shorten", "split_exogenous"]

logger = logging.getLogger(__name__)

KEYS = ("unique_id", "ds")


@dataclass(frozen=True)
class _FreqFeatures:
    """Feature recipe of one frequency: polars offset, lags, rolled lags x windows, calendar fields."""

    offset: str
    lags: tuple[int, ...]
    rolled_lags: tuple[int, ...]
    windows: tuple[int, ...]
    date_features: tuple[str, ...]


# Calendar fields are polars `.dt` method names (weekday 1-7, ordinal_day = day of year, ISO week).
RECIPES = {
    "D": _FreqFeatures("1d", (1, 7, 14, 28), (1, 7), (7, 28), ("weekday", "month", "ordinal_day")),
    "W": _FreqFeatures("1w", (1, 2, 4, 52), (1, 4), (4, 13), ("week",)),
    "MS": _FreqFeatures("1mo", (1, 2, 3, 12), (1, 3), (3, 12), ("month",)),
}


@dataclass(frozen=True)
class Features:
    """The features kept for a panel, and how many past rows the longest of them looks at."""

    lags: list[int]
    lag_transforms: dict[int, list[Any]]
    date_features: list[str]
    lookback: int


def features_for(freq: str, shortest: int) -> Features:
    """Lags and rolling windows of `freq` that fit in the shortest series (`shortest` rows)."""
    recipe = RECIPES[freq]
    lags = [lag for lag in recipe.lags if lag < shortest]
    transforms: dict[int, list[Any]] = {}
    lookback = max(lags, default=0)
    for lag in recipe.rolled_lags:
        for window in recipe.windows:
            if lag + window - 1 < shortest:
                transforms.setdefault(lag, []).extend([RollingMean(window), RollingStd(window)])
                lookback = max(lookback, lag + window - 1)
    return Features(lags, transforms, list(recipe.date_features), lookback)


def shorten(ids: list[str], limit: int = 5) -> str:
    """At most `limit` ids, then how many more."""
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def split_exogenous(history: pl.DataFrame, future: pl.DataFrame | None) -> tuple[list[str], list[str]]:
    """Numeric and string exogenous columns of `history`; every numeric one must be in `future`.

    Raises:
        InvalidInputError: a numeric column of `history` is missing from `future`.
    """
    numeric, text = [], []
    for name, dtype in history.schema.items():
        if name in (*KEYS, "y"):
            continue
        if dtype.is_numeric() or dtype == pl.Boolean:
            numeric.append(name)
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            text.append(name)
        else:
            logger.debug("column %r (%s) is not a usable feature type; ignored", name, dtype)
    future_cols = set() if future is None else set(future.columns)
    missing = [c for c in numeric if c not in future_cols]
    if missing:
        raise InvalidInputError(
            f"future is missing exogenous column(s) {missing}: every numeric column of history other than "
            "unique_id/ds/y is a feature and needs its values over the horizon; add them to future or drop them from history"
        )
    for name in [c for c in text if c not in future_cols]:
        logger.debug("string column %r is not in future; ignored", name)
    return numeric, [c for c in text if c in future_cols]


def _text_codes(history: pl.DataFrame, text: list[str]) -> dict[str, dict[str, float]]:
    """Category codes of each string column: the rank of each distinct history value."""
    codes = {}
    for name in text:
        values = history.get_column(name).cast(pl.String).drop_nulls().unique().sort().to_list()
        codes[name] = {value: float(i) for i, value in enumerate(values)}
    return codes


def _encode_text(frame: pl.DataFrame, codes: dict[str, dict[str, float]]) -> pl.DataFrame:
    """Replace string columns by their category codes (Float32, like the numeric features).

    Null (e.g. no livestream that day) is -1 and a value never seen in history is missing (NaN to
    xgboost), so a planned event with a new host still gets a forecast.
    """
    encoded = []
    for name, mapping in codes.items():
        text_value = pl.col(name).cast(pl.String)
        coded = text_value.replace_strict(mapping, default=float("nan"), return_dtype=pl.Float32)
        encoded.append(pl.when(text_value.is_null()).then(-1.0).otherwise(coded).cast(pl.Float32).alias(name))
    return frame.lazy().with_columns(encoded).collect() if encoded else frame


def find_missing_future(history: pl.DataFrame, future: pl.DataFrame, *, h: int, freq: str) -> pl.DataFrame:
    """The (unique_id, ds) rows of the horizon that every series of `history` needs but `future` lacks."""
    offset = RECIPES[freq].offset
    unit = offset.lstrip("0123456789")
    last = history.lazy().group_by("unique_id").agg(pl.col("ds").max()).collect()
    expected = last.select(
        "unique_id",
        pl.date_ranges(pl.col("ds").dt.offset_by(f"1{unit}"), pl.col("ds").dt.offset_by(f"{h}{unit}"), offset).alias("ds"),
    ).explode("ds")
    return expected.join(future.select(KEYS), on=list(KEYS), how="anti").sort(KEYS)


def check_future(history: pl.DataFrame, future: pl.DataFrame, *, h: int, freq: str) -> None:
    """Raise when `future` does not hold every horizon row of every series (mlforecast would reuse values)."""
    duplicated = future.filter(pl.struct(KEYS).is_duplicated()).get_column("unique_id")
    if duplicated.len():
        raise InvalidInputError(f"future has {duplicated.len()} duplicated (unique_id, ds) row(s) for series "
                                f"{shorten(duplicated.unique(maintain_order=True).to_list())}: keep one row per date")
    missing = find_missing_future(history, future, h=h, freq=freq)
    if missing.height:
        ids = missing.get_column("unique_id").unique(maintain_order=True).to_list()
        raise InvalidInputError(
            f"future lacks {missing.height} horizon row(s) (unique_id x ds) for series {shorten(ids)}: "
            f"it needs the {h} {freq} periods after each series' last history date; add them with their signal values"
        )


def prepare_history(history: pl.DataFrame, features: list[str], text: list[str],
                     max_train: int | None) -> tuple[pl.DataFrame, dict[str, dict[str, float]]]:
    """Typed, sorted history (the last `max_train` rows of each series) with only the model's columns,
    string features encoded; and their codes."""
    numeric = [pl.col(c).cast(pl.Float32) for c in features if c not in text]  # what xgboost reads
    typed = history.lazy().select(*_typed_keys(), pl.col("y").cast(pl.Float32), *numeric, *text)
    hist = last_rows(typed, max_train)
    codes = _text_codes(hist, text)
    return _encode_text(hist, codes), codes


def prepare_future(future: pl.DataFrame, hist: pl.DataFrame, features: list[str], text: list[str],
                    codes: dict[str, dict[str, float]]) -> pl.DataFrame:
    """`future` typed and sorted like `prepare_history`'s output, for the series of `hist` only."""
    numeric = [pl.col(c).cast(pl.Float32) for c in features if c not in text]  # what xgboost reads
    ids = hist.get_column("unique_id").unique().implode()
    fut = future.select(*_typed_keys(), *numeric, *text).filter(pl.col("unique_id").is_in(ids)).sort(KEYS)
    return _encode_text(fut, codes)


def _typed_keys() -> list[pl.Expr]:
    return [pl.col("unique_id").cast(pl.String), pl.col("ds").cast(pl.Date)]
