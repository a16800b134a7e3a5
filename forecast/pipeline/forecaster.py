"""`Forecaster`: many model families behind one entry point that knows none of them.

Given a panel in the Nixtla layout and a list of models (or `auto`), it picks candidate models per
series (by demand class when `auto`), chooses among several candidates with a one-window holdout
(the last `h` periods of history, point forecasts scored by MAE), fits the chosen one on the whole
history (or, for models with per-series fits that can be forwarded, carries the holdout's fit
through the last `h` periods), and returns one forecast per series, each row naming its model.
Rolling-origin backtests and ensembles build on it.

`execution="dask"` with a scheduler address hands a connected `DaskEngine` to the families that
have a distributed backend (statsforecast, XGBoost through mlforecast); Prophet runs locally.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import polars as pl

from forecast.errors import ForecastError, InvalidInputError
from forecast.models.base import FORECAST_SCHEMA, FREQUENCIES, ModelAdapter, ModelOutput, ModelSpec, PerSeriesFits
from forecast.models.distributed import DaskEngine, Execution, dask_engine

__all__ = ["Forecaster", "ForecastResult", "RaggedEnds", "available_models", "known_target"]

logger = logging.getLogger(__name__)
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

AUTO = "auto"
FALLBACK = "SeasonalNaive"
"""The model that replaces a family whose call failed (it needs nothing but the series' own history)."""
MAE_TIE = 1e-5
"""Relative gap under which two holdout MAEs of a series count as equal (see `_choose`)."""


def _adapters(n_jobs: int, dask: DaskEngine | None = None, max_train: int | None = None) -> list[ModelAdapter]:
    from forecast.models.gradient import GradientBoostingAdapter
    from forecast.models.prophet_adapter import ProphetAdapter
    from forecast.models.statistical import StatisticalAdapter

    bounded = {} if max_train is None else {"max_train": max_train}
    return [StatisticalAdapter(n_jobs=n_jobs, dask=dask, **bounded), ProphetAdapter(n_jobs=n_jobs, **bounded),
            GradientBoostingAdapter(contributions="approx", dask=dask, **bounded)]


def available_models() -> tuple[str, ...]:
    """Every model name a spec may use, plus `auto`."""
    return (AUTO, *(m for a in _adapters(1) for m in a.models))


@dataclass(frozen=True)
class ForecastResult:
    """Forecasts (FORECAST_SCHEMA, one model per series), contributions, and how each series was chosen."""

    forecasts: pl.DataFrame
    contributions: pl.DataFrame | None
    selection: pl.DataFrame
    """unique_id, demand_class, model, holdout_mae (null when there was one candidate or the choice was
    reused), reused (the choice came from an earlier run)."""
    kept: dict[str, Any] = field(default_factory=dict)
    """Family -> the fitted model it can forecast later data from (`forecast(..., kept=...)`): a new
    fit, or the kept model it was given when that one still fitted the data. Per-series fits
    (`PerSeriesFits`) hold only this run's new fits: the holdout's of the chosen pairs and the final ones."""
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    """Family calls that failed: family, models, series, fallback (the model that replaced them), reason."""


class Forecaster:
    """Forecast a panel with the given models, one chosen model per series.

    Args:
        models: model names or specs, or `auto` (candidates by demand class, plus the global XGBoost).
        freq: `D`, `W` or `MS`.
        n_jobs: worker processes for the libraries that use them.
        exog: model family -> exogenous columns it may use (default: every numeric non-target column).
        by_class: demand class -> candidate models of `auto` (default: `classify.CANDIDATES`).
        execution: `local` (this process) or `dask` (a Dask cluster; connects here).
        dask_address: the Dask scheduler for `dask`: `tcp://HOST:PORT`, or `local` for a LocalCluster.
        max_train: the most recent observations per series every family fits on (default: each
            family's own bound, two or three years of days).

    Raises:
        InvalidInputError: bad frequency or model names, `dask` without an address, or an unreachable cluster.
    """

    def __init__(self, models: Sequence[str | ModelSpec] = (AUTO,), *, freq: str = "D", n_jobs: int = 1,
                 exog: dict[str, list[str]] | None = None,
                 by_class: Mapping[str, tuple[str, ...]] | None = None, execution: Execution = "local",
                 dask_address: str | None = None, max_train: int | None = None) -> None:
        if freq not in FREQUENCIES:
            raise InvalidInputError(f"frequency {freq!r} is not supported; use one of {', '.join(FREQUENCIES)}")
        from forecast.models.classify import CANDIDATES

        self.freq, self.exog, self.by_class = freq, exog or {}, dict(by_class or CANDIDATES)
        self.execution, self.dask_address = execution, dask_address
        self.dask = dask_engine(execution, dask_address)
        self.n_jobs = n_jobs
        self.adapters = _adapters(n_jobs, self.dask, max_train)
        self._fallbacks: list[dict[str, Any]] = []
        self.specs = [m if isinstance(m, ModelSpec) else ModelSpec(m) for m in models]
        known = {m for a in self.adapters for m in a.models}
        asked = [s.name for s in self.specs] + [m for names in self.by_class.values() for m in names]
        unknown = sorted({m for m in asked if m != AUTO and m not in known})
        if unknown:
            raise InvalidInputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))} or auto")

    def with_memory(self, max_train: int) -> Forecaster:
        """The same models and settings, fitting only the last `max_train` observations of each series."""
        return Forecaster(self.specs, freq=self.freq, n_jobs=self.n_jobs, exog=self.exog, by_class=self.by_class,
                          execution=self.execution, dask_address=self.dask_address, max_train=max_train)

    def keeping_families(self) -> tuple[str, ...]:
        """The families that return their fitted models and can forecast from them again."""
        return tuple(a.family for a in self.adapters if a.keeps_models)

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int,
                 chosen_before: pl.DataFrame | None = None, kept: Mapping[str, Any] | None = None,
                 refit: bool = False, cutoff: dt.date | None = None) -> ForecastResult:
        """Forecast `h` periods for every series of `history` (future exogenous values in `future`).

        Every series is forecast for the same `h` periods after `cutoff`: a series whose history ends
        earlier (late) is forecast from its own last period over the periods it lacks, and `future`
        must hold its rows from then on.

        Args:
            chosen_before: unique_id, model pairs chosen by an earlier run: a series whose earlier
                choice is still one of its candidates keeps it without a holdout (`reused` in the
                selection); the others are chosen on the holdout.
            kept: family -> a model an earlier run fitted (a `ForecastResult.kept` value): families that
                keep models (`keeps_models`) forecast from it without refitting when it still fits the
                data, and refit otherwise. The holdout always fits.
            refit: fit the chosen models on the whole history even where the holdout's fit of the
                same model could be carried forward through the last `h` periods (`PerSeriesFits`).
            cutoff: the last period of the run (default: the newest period of `history`).
        """
        from forecast.models.classify import classify_demand

        if h <= 0:
            raise InvalidInputError(f"horizon must be positive, got {h}")
        classes = classify_demand(history).select("unique_id", "demand_class")
        candidates = _without_bandless(self._candidates(classes, self.by_class), history, self.adapters, h=h,
                                       freq=self.freq)
        reused = (pl.DataFrame(schema={"unique_id": pl.String, "model": pl.String}) if chosen_before is None
                  else candidates.join(chosen_before.select("unique_id", "model"), on=["unique_id", "model"]))
        fresh = candidates.join(reused, on="unique_id", how="anti")
        scores, trial_fits = self._holdout_scores(history, h=h, candidates=fresh)
        chosen = pl.concat([_choose(fresh, scores).with_columns(pl.lit(False).alias("reused")),
                            reused.with_columns(pl.lit(None, dtype=pl.Float64).alias("holdout_mae"),
                                                pl.lit(True).alias("reused"))])
        # Only the chosen model of a series is fitted on all of it; a global model still learns from
        # every series it was a candidate for, as in the holdout.
        global_models = [m for a in self.adapters if a.is_global for m in a.models]
        final = pl.concat([chosen.select("unique_id", "model").filter(~pl.col("model").is_in(global_models)),
                           candidates.filter(pl.col("model").is_in(global_models))])
        # The holdout's per-series fits of the chosen pairs are newer than any kept from earlier runs.
        pairs = chosen.select("unique_id", "model").rows()
        carried = {} if refit else {f: k.only(pairs) for f, k in trial_fits.items() if isinstance(k, PerSeriesFits)}
        given = _merge_kept(kept or {}, carried)
        ends = RaggedEnds.of(history, cutoff=cutoff, freq=self.freq)
        all_fc, contributions, fitted = self._run_all(history, ends.future(future, h=h), h=h + ends.late,
                                                      candidates=final, kept=given)
        all_fc, contributions = ends.window(all_fc, h=h), ends.window(contributions, h=h)
        fitted = _merge_kept(carried, fitted)
        forecasts = all_fc.join(chosen.select("unique_id", pl.col("model").alias("chosen")), on="unique_id")
        forecasts = forecasts.filter(asked_model() == pl.col("chosen")).select(list(FORECAST_SCHEMA))
        selection = classes.join(chosen, on="unique_id", how="left")
        return ForecastResult(forecasts.sort("unique_id", "ds"), contributions, selection, fitted,
                              self._take_fallbacks())

    def forecast_each(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int,
                      candidates: pl.DataFrame | None = None,
                      cutoff: dt.date | None = None) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """Every model of this Forecaster on every series (or the `candidates` pairs), no selection.

        Args:
            candidates: unique_id, model pairs to forecast (default: every model x every series).
            cutoff: the last period of the run; late series are forecast as in `forecast`.

        Returns:
            FORECAST_SCHEMA rows plus `asked` (the model asked for; `model` may name a fallback),
            and the contributions of the models that give them.

        Raises:
            InvalidInputError: `auto` among the models, or a bad horizon.
        """
        if any(s.name == AUTO for s in self.specs):
            raise InvalidInputError("forecast_each runs named models only; list them instead of auto")
        if h <= 0:
            raise InvalidInputError(f"horizon must be positive, got {h}")
        if candidates is None:
            ids = history.select(pl.col("unique_id").unique().sort())
            candidates = ids.join(pl.DataFrame({"model": [s.name for s in self.specs]}), how="cross")
        ends = RaggedEnds.of(history, cutoff=cutoff, freq=self.freq)
        forecasts, contributions, _ = self._run_all(history, ends.future(future, h=h), h=h + ends.late,
                                                    candidates=candidates)
        forecasts, contributions = ends.window(forecasts, h=h), ends.window(contributions, h=h)
        return forecasts.with_columns(asked_model().alias("asked")), contributions

    def forecast_variants(self, history: pl.DataFrame, futures: Mapping[str, pl.DataFrame], *, h: int,
                          ids: Collection[str] | None = None, cutoff: dt.date | None = None) -> dict[str, ModelOutput]:
        """Forecast the series `ids` (default: all) once per future variant with this Forecaster's one model.

        For scenarios: the same fit answers "with" and "without". A global model (XGBoost) still learns
        from every series of `history`, so each future must cover every series; local models fit only
        `ids`. The adapter's `forecast_variants` fits once and predicts every future where the family
        can (XGBoost); the others fit once per variant, which gives the same fit (their fits are
        deterministic). Late series and holes are handled as in `forecast` (`cutoff`: the run's last day).

        Raises:
            InvalidInputError: not exactly one model, `auto`, or a bad horizon.
        """
        if len(self.specs) != 1 or self.specs[0].name == AUTO:
            raise InvalidInputError(f"a scenario needs exactly one model, got {[s.name for s in self.specs]}")
        if h <= 0:
            raise InvalidInputError(f"horizon must be positive, got {h}")
        spec = self.specs[0]
        adapter = next(a for a in self.adapters if spec.name in a.models)
        wanted = pl.Series(list(ids)) if ids is not None else history["unique_id"].unique()
        local = not adapter.is_global

        def subset(frame: pl.DataFrame) -> pl.DataFrame:
            frame = self.columns_for(adapter.family, frame)
            return frame.filter(pl.col("unique_id").is_in(wanted.implode())) if local else frame

        hist = known_target(subset(history), keep_missing=adapter.fits_missing_y)
        ends = RaggedEnds.of(hist, cutoff=cutoff, freq=self.freq)
        futs, steps = {name: ends.future(subset(f), h=h) for name, f in futures.items()}, h + ends.late
        outputs = adapter.forecast_variants(hist, futs, h=steps, freq=self.freq, specs=[spec])
        keep = pl.col("unique_id").is_in(wanted.implode())
        return {name: ModelOutput(ends.window(out.forecasts.filter(keep), h=h),
                                  None if out.contributions is None else ends.window(out.contributions.filter(keep), h=h))
                for name, out in outputs.items()}

    def _candidates(self, classes: pl.DataFrame, by_class: dict[str, tuple[str, ...]]) -> pl.DataFrame:
        """unique_id x candidate model name."""
        explicit = [s.name for s in self.specs if s.name != AUTO]
        rows = []
        for uid, demand_class in classes.iter_rows():
            names = list(explicit)
            if any(s.name == AUTO for s in self.specs):
                names += [*by_class.get(demand_class, ("SeasonalNaive",)), *(["XGBoost"] if demand_class != "zero" else [])]
            rows += [(uid, n) for n in dict.fromkeys(names)]
        return pl.DataFrame(rows, schema={"unique_id": pl.String, "model": pl.String}, orient="row")

    def _run_all(self, history: pl.DataFrame | pl.LazyFrame, future: pl.DataFrame | None, *, h: int,
                 candidates: pl.DataFrame,
                 point_only: bool = False, kept: Mapping[str, Any] | None = None,
                 ) -> tuple[pl.DataFrame, pl.DataFrame | None, dict[str, Any]]:
        """Forecast every candidate model for the series that have it (one call per family and set of
        models); also the fitted models the families keep."""
        parts, contributions, fitted = [], [], {}
        for adapter in self.adapters:
            for output in self._family_outputs(adapter, history, future, h=h, candidates=candidates,
                                               point_only=point_only, kept=(kept or {}).get(adapter.family)):
                parts.append(output.forecasts)
                if output.contributions is not None:
                    contributions.append(output.contributions)
                if output.kept is not None:
                    fitted = _merge_kept(fitted, {adapter.family: output.kept})
        if not parts:
            raise InvalidInputError("no model produced a forecast; check the model names")
        return pl.concat(parts), (pl.concat(contributions) if contributions else None), fitted

    def _family_outputs(self, adapter: ModelAdapter, history: pl.DataFrame | pl.LazyFrame,
                        future: pl.DataFrame | None, *, h: int, candidates: pl.DataFrame, point_only: bool,
                        kept: Any | None = None) -> list[ModelOutput]:
        """One adapter call per set of this family's models that series share (e.g. AutoETS and AutoTheta
        for the smooth ones): a call per model instead cost a third more (statsforecast's pool and its
        split of the series, measured). A lazy `history` is collected per call, with only what it uses."""
        mine = candidates.filter(pl.col("model").is_in(list(adapter.models)))
        sets = (mine.group_by("unique_id", maintain_order=True).agg(pl.col("model").unique().sort())
                .group_by("model", maintain_order=True).agg("unique_id"))
        lazy = isinstance(history, pl.LazyFrame)
        outputs, every = [], set() if lazy else set(history.get_column("unique_id").unique().to_list())
        for models, ids in sets.iter_rows():
            specs = [next((s for s in self.specs if s.name == m), ModelSpec(m)) for m in models]
            # The family's columns first, then its series (a copy; none when it has them all): at
            # 10,000 series a filtered copy of every column cost 2 GiB.
            hist = self.columns_for(adapter.family, history)
            if lazy:
                hist = hist.filter(pl.col("unique_id").is_in(ids)).collect()
            elif set(ids) != every:
                hist = hist.filter(pl.col("unique_id").is_in(ids))
            fut = None if future is None else self.columns_for(adapter.family, future).filter(
                pl.col("unique_id").is_in(ids))
            logger.info("%s: %s on %d series", adapter.family, ", ".join(models), len(ids))
            if self.dask is not None and adapter.dask is None:
                logger.info("%s has no Dask backend here; %s runs in this process", adapter.family, ", ".join(models))
            hist = known_target(hist, keep_missing=adapter.fits_missing_y)
            extra = {"kept": kept} if kept is not None and adapter.keeps_models else {}
            try:
                outputs.append(adapter.forecast(hist, fut, h=h, freq=self.freq, specs=specs, point_only=point_only,
                                                **extra))
            except Exception as exc:  # noqa: BLE001 - any library error: these series fall back, the run goes on
                outputs.append(self._fallback(adapter, models, hist, exc, h=h, point_only=point_only))
        return outputs

    def _fallback(self, adapter: ModelAdapter, models: list[str], hist: pl.DataFrame, exc: Exception, *, h: int,
                  point_only: bool) -> ModelOutput:
        """`FALLBACK` forecasts of `hist`'s series, named `FALLBACK (fallback from M)` for each model M of a
        family call that failed; the failure is recorded (`ForecastResult.fallbacks`).

        Raises:
            ForecastError: the fallback model itself failed.
        """
        reason = _one_line(exc)
        series = hist.get_column("unique_id").n_unique()
        backup = next(a for a in self.adapters if FALLBACK in a.models)
        if adapter is backup and FALLBACK in models:
            raise ForecastError(f"{FALLBACK}, the last fallback, failed on {series} series: {reason}") from exc
        logger.warning("%s failed on %d series (%s); they fall back to %s: %s", adapter.family, series,
                       ", ".join(models), FALLBACK, reason)
        regular = known_target(hist.select("unique_id", "ds", "y"), keep_missing=False)
        out = backup.forecast(regular, None, h=h, freq=self.freq, specs=[ModelSpec(FALLBACK)], point_only=point_only)
        self._fallbacks.append({"family": adapter.family, "models": list(models), "series": series,
                                "fallback": FALLBACK, "reason": reason})
        rows = pl.concat([out.forecasts.with_columns(pl.lit(f"{FALLBACK} (fallback from {m})").alias("model"))
                          for m in models])
        return ModelOutput(rows, None)

    def _take_fallbacks(self) -> list[dict[str, Any]]:
        """The family failures recorded since the last call (and forget them)."""
        taken, self._fallbacks = self._fallbacks, []
        return taken

    def columns_for(self, family: str, frame: FrameT) -> FrameT:
        """`frame` with only the keys and the exogenous columns `family` may use."""
        if family not in self.exog:
            return frame
        keep = [c for c in frame.collect_schema().names() if c in ("unique_id", "ds", "y") or c in self.exog[family]]
        return frame.select(keep)

    def _rows_fitted(self, candidates: pl.DataFrame) -> int | None:
        """The most recent rows of a series that the families of `candidates` fit on (None: all of them)."""
        limits = [a.max_train for a in self.adapters
                  if candidates.get_column("model").is_in(list(a.models)).any()]
        return None if not limits or None in limits else max(limits)

    def _holdout_scores(self, history: pl.DataFrame, *, h: int,
                        candidates: pl.DataFrame) -> tuple[pl.DataFrame | None, dict[str, Any]]:
        """MAE of each candidate on the last `h` periods, for series with more than one candidate (point
        forecasts only: the holdout does not pay for intervals or contributions), and the fitted models
        the families kept."""
        multi = candidates.group_by("unique_id").len().filter(pl.col("len") > 1)["unique_id"]
        if multi.is_empty():
            return None, {}
        # Series with a training part of at least 2h, and of it only the rows some family fits on (the
        # families bound their inputs alike). The training part stays lazy: each family collects only
        # its columns and series, and the whole of it (0.9 GiB at 10,000 series) is never held.
        rows = self._rows_fitted(candidates)
        ranked = (history.lazy().filter(pl.col("unique_id").is_in(multi.implode()) &
                                        (pl.len().over("unique_id") >= 3 * h))
                  .with_columns(pl.col("ds").rank("ordinal", descending=True).over("unique_id").alias("_back")))
        fitted_rows = pl.col("_back") > h if rows is None else pl.col("_back").is_between(h + 1, h + rows)
        test = ranked.filter(pl.col("_back") <= h).drop("_back").collect()
        if test.is_empty():
            return None, {}
        long_enough = test.get_column("unique_id").unique()  # every series with 3h rows has test and train rows
        train = ranked.filter(fitted_rows).drop("_back")
        predicted, _, fitted = self._run_all(train, test.drop("y"), h=h, candidates=candidates.filter(
            pl.col("unique_id").is_in(long_enough.implode())), point_only=True)
        joined = predicted.join(test.select("unique_id", "ds", "y"), on=["unique_id", "ds"])
        return joined.group_by("unique_id", asked_model().alias("model")).agg(
            (pl.col("yhat") - pl.col("y")).abs().mean().alias("holdout_mae")), fitted


def _without_bandless(candidates: pl.DataFrame, history: pl.DataFrame, adapters: Sequence[ModelAdapter], *, h: int,
                      freq: str) -> pl.DataFrame:
    """`candidates` without a global model for the series too short for its intervals (within the rows
    it trains on), where they have another candidate: one such series would leave every series of the
    global model without bands."""
    for adapter in adapters:
        needs, limit = adapter.rows_for_intervals(h=h, freq=freq), adapter.max_train
        if needs is None:
            continue
        mine = pl.col("model").is_in(list(adapter.models))
        rows = history.lazy().group_by("unique_id").len().with_columns(pl.col("len").clip(upper_bound=limit)).collect()
        drop = rows.filter(pl.col("len") < needs).join(candidates.filter(~mine), on="unique_id", how="semi")["unique_id"]
        if len(drop):
            logger.info("%d series are too short for %s's intervals (%d rows): chosen among the other candidates",
                        len(drop), "/".join(adapter.models), needs)
            candidates = candidates.filter(~(mine & pl.col("unique_id").is_in(drop.implode())))
    return candidates


@dataclass(frozen=True)
class RaggedEnds:
    """Where each series' history ends against the run's cutoff: late series are forecast from their
    own last period over `late` more periods, and every series is cut to the same window after."""

    cutoff: dt.date
    late: int
    """The most periods a series' history ends before `cutoff` (0: every series is on time)."""

    @staticmethod
    def of(history: pl.DataFrame, *, cutoff: dt.date | None, freq: str) -> RaggedEnds:
        """The ends of `history`'s series against `cutoff` (default: its newest period)."""
        last = history.lazy().group_by("unique_id").agg(pl.col("ds").max()).collect().get_column("ds")
        end = cutoff or last.max()
        if end is None:
            return RaggedEnds(dt.date.min, 0)
        return RaggedEnds(end, _periods_between(last.min(), end, freq))

    def future(self, future: pl.DataFrame | None, *, h: int) -> pl.DataFrame | None:
        """`future` cut to each series' first `h + late` periods (a late series' start before the cutoff)."""
        if future is None or self.late == 0:
            return future
        return future.filter(pl.int_range(pl.len()).over("unique_id") < h + self.late)

    def window(self, frame: pl.DataFrame | None, *, h: int) -> pl.DataFrame | None:
        """Each series' rows of `frame` in the `h` periods after the cutoff."""
        if frame is None or self.late == 0:
            return frame
        after = frame.filter(pl.col("ds") > self.cutoff)
        step = pl.col("ds").rank("dense").over("unique_id", *(["model"] if "model" in frame.columns else []))
        return after.filter(step <= h)


def _periods_between(first: dt.date, last: dt.date, freq: str) -> int:
    """Whole periods of `freq` from `first` to `last` (0 when `first` is not earlier)."""
    if first >= last:
        return 0
    if freq == "MS":
        return (last.year - first.year) * 12 + last.month - first.month
    days = (last - first).days
    return days // 7 if freq == "W" else days


def known_target(history: FrameT, *, keep_missing: bool) -> FrameT:
    """`history` for a family: rows whose y is not known (a hole of an `unknown` series) dropped when
    the family fits on irregular days (`keep_missing`: Prophet), else y interpolated linearly within
    its series (statsforecast and XGBoost need every period). A hole is never at a series' end."""
    if isinstance(history, pl.DataFrame) and history.get_column("y").null_count() == 0:
        return history
    if keep_missing:
        return history.filter(pl.col("y").is_not_null())
    return history.with_columns(pl.col("y").interpolate().over("unique_id"))


def _one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}"


def _merge_kept(older: Mapping[str, Any], newer: Mapping[str, Any]) -> dict[str, Any]:
    """Family -> kept model: `newer`'s, merged into `older`'s where both hold per-series fits."""
    out = dict(older)
    for family, model in newer.items():
        both = isinstance(model, PerSeriesFits) and isinstance(out.get(family), PerSeriesFits)
        out[family] = out[family].merged(model) if both else model
    return out


def asked_model() -> pl.Expr:
    """The model a row was asked of: `X` for `X` and for `Y (fallback from X)`."""
    return pl.coalesce(pl.col("model").str.extract(r"\(fallback from (.*)\)$"), pl.col("model"))


def _choose(candidates: pl.DataFrame, scores: pl.DataFrame | None) -> pl.DataFrame:
    """The best candidate per series (lowest holdout MAE; the first candidate when unscored).

    MAEs within `MAE_TIE` (relative) of the lowest are a tie, broken by model name: a model whose
    forecast matches another's up to rounding (the Dask engine's float32 output) must not flip the
    choice between engines or runs.
    """
    first = candidates.group_by("unique_id", maintain_order=True).first().with_columns(
        pl.lit(None, dtype=pl.Float64).alias("holdout_mae"))
    if scores is None or scores.is_empty():
        return first
    lowest = pl.col("holdout_mae").min().over("unique_id")
    best = scores.filter(pl.col("holdout_mae") <= lowest * (1 + MAE_TIE)).sort("model").group_by("unique_id").first()
    return pl.concat([best, first.join(best, on="unique_id", how="anti")], how="diagonal_relaxed").select(
        "unique_id", "model", "holdout_mae")
