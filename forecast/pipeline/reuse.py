"""What an incremental nightly run may keep from an earlier run: model choices and fitted models.

A run's holdout fits every candidate of every series a second time, most of a run's cost. When
the models asked for are the same and the choice is recent (`days`), a nightly run that only got
a day of new actuals keeps each series' earlier choice and refits just that model on the new
data. The series are chosen again in turn, not all on one night: each sku/region belongs to one
of `days` slices (`choice_slice`), and a night chooses again the slice whose turn it is (its
cutoff's day number modulo `days`) and any slice whose choices are older than `days` (after a
missed night), so no choice is older than `days` and each night pays about 1/`days` of the
holdout. The run records which run's choices it kept and when each slice was chosen
(`config.selection`).

Families that keep their fitted models go further: a run within `refit_days` of the fit forecasts
from the stored model with the new days appended, without refitting (`kept_models`; what was
refitted is in `config.refits`): the global XGBoost from the newest stored booster, AutoETS and
AutoTheta from each series' newest stored fit, forwarded through the new days.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.models.base import PerSeriesFits
from forecast.pipeline.forecaster import asked_model
from forecast.storage.model_state_repo import CorruptModelStateError, KeptModel, load_kept
from forecast.storage import published_repo
from forecast.storage.schema import ForecastRun

__all__ = ["EarlierChoice", "SAME_MODELS_KEYS", "choice_slice", "earlier_choice", "kept_models", "slices_chosen"]

logger = logging.getLogger(__name__)

SAME_MODELS_KEYS = ("models", "by_class", "exog")
"""Config entries that must be equal for an earlier run's choices to be kept."""


def choice_slice(days: int) -> pl.Expr:
    """The slice (0 .. days-1) of each row's `sku` and `region`: which night it is chosen again (CRC-32,
    stable across processes and versions, unlike polars' hash)."""
    return pl.concat_str("sku", "region", separator="\x1f").map_elements(
        lambda key: zlib.crc32(key.encode()) % days, return_dtype=pl.Int64)


@dataclass(frozen=True)
class EarlierChoice:
    """The models an earlier run chose that this run keeps: its id, slice -> cutoff of the holdout that
    chose the slice's models (the slices kept), and their sku/region/model."""

    run_id: int
    made_on: dict[int, dt.date]
    pairs: pl.DataFrame


def earlier_choice(*, session: Session, config: dict[str, Any], cutoff: dt.date, days: int) -> EarlierChoice | None:
    """The choices to keep of the newest published (or superseded) run before `cutoff` with the same
    models and candidates: those of the slices whose turn it is not and that were chosen on a holdout
    at most `days` before `cutoff`. None when there is no such run or slice."""
    if days <= 0:
        return None
    oldest = cutoff - dt.timedelta(days=days)
    runs = _same_model_runs(session=session, config=config, cutoff=cutoff, oldest=oldest)
    if not runs:
        return None
    run, turn = runs[0], cutoff.toordinal() % days
    made_on = {k: day for k, day in _slices_made_on(run, days).items() if k != turn and day >= oldest}
    if not made_on:
        return None
    pairs = (published_repo.run_series_models(session=session, run_id=run.id)
             .select("sku", "region", asked_model().alias("model")).unique()
             .filter(choice_slice(days).is_in(list(made_on))))
    return EarlierChoice(run.id, made_on, pairs)


def slices_chosen(earlier: EarlierChoice | None, *, cutoff: dt.date, days: int) -> dict[int, dt.date]:
    """Slice -> cutoff of the holdout that chose it, after a run at `cutoff` that kept `earlier`."""
    return {k: (earlier.made_on.get(k, cutoff) if earlier else cutoff) for k in range(days)}


def _slices_made_on(run: ForecastRun, days: int) -> dict[int, dt.date]:
    """When `run`'s choices of each of `days` slices were made: from its config, or, for a run that
    recorded no slices (or another number of them), its oldest choice for every slice."""
    selection = run.config.get("selection") or {}
    slices = {int(k): dt.date.fromisoformat(v) for k, v in (selection.get("slices_made_on") or {}).items()}
    if set(slices) == set(range(days)):
        return slices
    made = selection.get("made_on")
    return dict.fromkeys(range(days), dt.date.fromisoformat(made) if made else run.cutoff)


def kept_models(*, session: Session, config: dict[str, Any], cutoff: dt.date, days: int,
                families: tuple[str, ...]) -> dict[str, KeptModel]:
    """Family -> the newest model of `families` kept by a run with the same models, fitted through a
    day at most `days` before `cutoff` (and before it); for per-series fits, those of every such run
    merged (newest wins). Empty when `days` is 0. A stored model that fails its digest check is
    logged and skipped (that family refits)."""
    if days <= 0:
        return {}
    oldest = cutoff - dt.timedelta(days=days)
    ids = [run.id for run in _same_model_runs(session=session, config=config, cutoff=cutoff, oldest=oldest)]
    found = {}
    for family in families:
        try:
            newest = load_kept(session=session, run_ids=ids, family=family, oldest=oldest, before=cutoff)
            if newest and isinstance(newest[0].model, PerSeriesFits):
                found[family] = _merged([*newest, *load_kept(session=session, run_ids=ids, family=family,
                                                             oldest=oldest, before=cutoff, limit=None, skip=1)])
            elif newest:
                found[family] = newest[0]
        except CorruptModelStateError as exc:
            logger.warning("%s; refitting %s", exc, family)
    return found


def _merged(kept: list[KeptModel]) -> KeptModel:
    """Per-series fits of several runs (newest first) as one: a run stores only the fits it made, so
    the newest fit of each pair wins; the run and day are the newest run's."""
    merged = kept[-1].model
    for newer in reversed(kept[:-1]):
        merged = merged.merged(newer.model)
    return KeptModel(kept[0].run_id, kept[0].trained_through, merged)


def _same_model_runs(*, session: Session, config: dict[str, Any], cutoff: dt.date, oldest: dt.date) -> list[ForecastRun]:
    """Published (or superseded) forecast runs with cutoffs in [oldest, cutoff), newest first, with the same
    models and candidates as `config` and not chosen from a backtest."""
    runs = published_repo.forecast_runs_between(session=session, oldest=oldest, before=cutoff)
    return [run for run in runs if "from_backtest" not in run.config
            and all(run.config.get(k) == config.get(k) for k in SAME_MODELS_KEYS)]
