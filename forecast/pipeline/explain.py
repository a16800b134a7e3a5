"""Why a series' forecast changed between two runs: new actuals, a signal, a model switch, an override.

`explain_change` compares run B (default: the run published for the series) with run A (default:
the newest earlier run that forecast the series) over the days both forecast, and names each cause
it can see, with its size where it has one:

- **model**: the model each run used for the series;
- **signals**: the series' signal features as known at each cutoff over the shared days, by group
  (case counts, livestreams, promotions, calendar, price). When XGBoost made both forecasts, each
  feature's change of contribution (xgboost's own, on the log link) gives the units it moved: with
  everything else as in B, the day's forecast times (1 - exp(-change));
- **new actuals**: the days sold between A's and B's cutoffs, against what A forecast for them;
- **override**: planner overrides over B's days and what they change in the adjusted view (when B
  is the published run, the one the adjusted view reads).

They are listed in that order: model, signals (the largest contribution change first), new actuals,
overrides. It does not split the whole change into exact shares: a refit sees the new actuals and
the signals together. Contribution sizes are exact on XGBoost's margin; the rest is evidence.

A run stores XGBoost's contributions of every series XGBoost was fitted on, also where another model
won the series; `series_contributions` keeps only the days the stored forecast was XGBoost's, and
`signal_note` says in words why a forecast has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.features import build_panel_features, load_signals, sales_panel
from forecast.pipeline.forecaster import asked_model
from forecast.storage import override_repo, published_repo, sales_repo

__all__ = ["CONTRIBUTING_MODELS", "SIGNAL_GROUPS", "SIGNAL_READERS", "Explanation", "explain_change",
           "series_contributions", "signal_note"]

SIGNAL_GROUPS: dict[str, tuple[str, ...]] = {
    "case counts": ("cases_7d_per_100k",),
    "livestreams": ("ls_on_air", "ls_expected_viewers", "ls_discount"),
    "promotions": ("promo_on", "promo_discount"),
    "calendar": ("cal_holiday", "cal_event", "cal_snap"),
    "price": ("price_rel",),
}
"""Signal features compared between the two cutoffs, by the source planners know them from."""
MOVED = 0.5
"""Units over the shared days below which a contribution change is not reported."""
CONTRIBUTING_MODELS = frozenset({"XGBoost"})
"""Models whose forecasts come with per-signal contributions (`forecast.models.gradient`)."""
SIGNAL_READERS = CONTRIBUTING_MODELS | {"Prophet", "ARIMA", "AutoARIMA"}
"""Models that read the external signals (as `forecast.backtest.config.SIGNAL_MODELS`)."""


@dataclass
class Explanation:
    """The change of one series' forecast from run `previous_run` to run `run` and its causes."""

    sku: str
    region: str
    run: int
    cutoff: str
    model: str
    previous_run: int | None = None
    previous_cutoff: str | None = None
    previous_model: str | None = None
    days: int = 0
    """Days both runs forecast (the shared days)."""
    before: float = 0.0
    after: float = 0.0
    """Units over the shared days in run `previous_run` and in run `run`."""
    reasons: list[dict[str, Any]] = field(default_factory=list)
    """kind (new actuals, model, signal, override), what (one line), units (its size, when known)."""
    daily: list[dict[str, Any]] = field(default_factory=list)
    """day, before, after over the shared days."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)

    def headline(self) -> str:
        """One line: how much the forecast moved over the shared days."""
        if self.previous_run is None:
            return f"{self.sku} in {self.region}: run {self.run} is the first forecast of this series"
        change = self.after - self.before
        pct = f" ({change / self.before:+.1%})" if self.before else ""
        return (f"{self.sku} in {self.region}: {self.after:,.1f} units over the {self.days} shared days in run "
                f"{self.run} (cutoff {self.cutoff}) against {self.before:,.1f} in run {self.previous_run} "
                f"(cutoff {self.previous_cutoff}): {change:+,.1f}{pct}")


def explain_change(*, session: Session, sku: str, region: str, run_id: int | None = None,
                   against: int | None = None) -> Explanation:
    """Explain how run `run_id`'s forecast of `sku` in `region` differs from run `against`'s.

    Args:
        run_id: default the run published for the series.
        against: default the newest run before `run_id` that forecast the series.

    Raises:
        InvalidInputError: nothing published for the series, or a run without rows for it.
    """
    published = published_repo.published_run_of(session=session, sku=sku, region=region)
    run_id = run_id or published
    if run_id is None:
        raise InvalidInputError(f"nothing is published for {sku} in {region}; check the ids with `demand forecast show`")
    after = _values(session, run_id, sku, region)
    against = against or published_repo.previous_run_of(session=session, sku=sku, region=region, before=run_id)
    run = published_repo.get_run(session=session, run_id=run_id)
    out = Explanation(sku, region, run_id, run.cutoff.isoformat(), _model(after))
    if against is None:
        return out
    before = _values(session, against, sku, region)
    previous = published_repo.get_run(session=session, run_id=against)
    shared = before.join(after, on="day", suffix="_after").sort("day")
    out.previous_run, out.previous_cutoff, out.previous_model = against, previous.cutoff.isoformat(), _model(before)
    out.days, out.before, out.after = shared.height, float(shared["yhat"].sum()), float(shared["yhat_after"].sum())
    out.daily = shared.select("day", pl.col("yhat").alias("before"), pl.col("yhat_after").alias("after")).to_dicts()
    out.reasons = [*_model_switch(out),
                   *_signals(session, sku, region, previous.cutoff, run.cutoff, shared, against, run_id),
                   *_new_actuals(session, sku, region, previous.cutoff, run.cutoff, before),
                   *(_overrides(session, sku, region, shared) if run_id == published else [])]
    return out


def _values(session: Session, run_id: int, sku: str, region: str) -> pl.DataFrame:
    values = published_repo.series_values(session=session, run_id=run_id, sku=sku, region=region)
    if values.is_empty():
        raise InvalidInputError(f"run {run_id} has no forecast for {sku} in {region}; list runs with `demand forecast runs`")
    return values


def _model(values: pl.DataFrame) -> str:
    return values["model"].mode().sort()[0]


def _new_actuals(session: Session, sku: str, region: str, since: dt.date, until: dt.date,
                 before: pl.DataFrame) -> list[dict[str, Any]]:
    """The actuals of the days between the two cutoffs against the earlier run's forecast of them."""
    if until <= since:
        return []
    sold = sales_repo.series_sales(session=session, sku=sku, region=region, since=since, until=until)
    sold = dict(sold.iter_rows())
    days = [since + dt.timedelta(days=i + 1) for i in range((until - since).days)]
    actual = sum(sold.get(d, 0.0) for d in days)
    forecast = float(before.filter(pl.col("day").is_in(days))["yhat"].sum())
    surprise = actual - forecast
    pct = f" ({surprise / forecast:+.0%})" if forecast else ""
    return [{"kind": "new actuals", "units": round(surprise, 2),
             "what": f"{len(days)} new day(s) of actuals ({days[0]}..{days[-1]}): {actual:,.1f} units sold against "
                     f"{forecast:,.1f} forecast, {surprise:+,.1f}{pct}"}]


def _model_switch(out: Explanation) -> list[dict[str, Any]]:
    if out.model == out.previous_model:
        return []
    same = pl.DataFrame({"model": [out.model, out.previous_model]}).select(asked_model())["model"]
    detail = " (a fallback of the same model)" if same[0] == same[1] else ""
    return [{"kind": "model", "units": None, "what": f"model switched from {out.previous_model} to {out.model}{detail}"}]


def _signals(session: Session, sku: str, region: str, since: dt.date, until: dt.date, shared: pl.DataFrame,
             before_run: int, after_run: int) -> list[dict[str, Any]]:
    """Signal features that differ between the two cutoffs over the shared days, and, where XGBoost
    made both forecasts, how many units each feature's contribution change moved."""
    if shared.is_empty():
        return []
    first, last = shared["day"].min(), shared["day"].max()
    known = [_features(session, sku, region, cutoff, last).filter(pl.col("day").is_between(first, last))
             for cutoff in (since, until)]
    wide = known[0].join(known[1], on="day", suffix="_after")
    reasons = []
    for group, columns in SIGNAL_GROUPS.items():
        changes = [_describe(wide, column) for column in columns]
        changes = [c for c in changes if c]
        if changes:
            reasons.append({"kind": "signal", "units": None, "what": f"{group}: " + "; ".join(changes)})
    return _contribution_sizes(session, sku, region, before_run, after_run, shared) + reasons


def _features(session: Session, sku: str, region: str, cutoff: dt.date, last: dt.date) -> pl.DataFrame:
    """The series' signal features as known at the end of `cutoff`, through `last`."""
    panel = sales_panel(session=session, cutoff=cutoff, horizon=(last - cutoff).days, skus=[sku])
    panel = panel.filter(pl.col("region") == region)
    columns = [c for cols in SIGNAL_GROUPS.values() for c in cols]
    return build_panel_features(panel, load_signals(session=session, cutoff=cutoff)).select("day", *columns)


def _describe(wide: pl.DataFrame, column: str) -> str | None:
    """`column` before -> after on the days it differs (None when it does not)."""
    after = f"{column}_after"
    differ = wide.filter((pl.col(column) - pl.col(after)).abs() > 1e-9)
    if differ.is_empty():
        return None
    days = differ["day"]
    span = f"{days.min()}" if days.len() == 1 else f"{days.len()} days, {days.min()}..{days.max()}"
    return f"{column} {differ[column].mean():.3g} -> {differ[after].mean():.3g} ({span})"


def _contribution_sizes(session: Session, sku: str, region: str, before_run: int, after_run: int,
                        shared: pl.DataFrame) -> list[dict[str, Any]]:
    """Per feature, the units its contribution change moved over the shared days (XGBoost in both runs)."""
    frame = series_contributions(session=session, run_ids=[before_run, after_run], sku=sku, region=region,
                                 days=(shared["day"].min(), shared["day"].max())).rename({"run_id": "run"})
    both = frame.group_by("day").agg(pl.col("run").n_unique()).filter(pl.col("run") == 2)
    frame = frame.join(both, on="day", how="semi")
    if frame.is_empty():
        return []
    delta = frame.pivot(on="run", index=["day", "feature"], values="contribution").fill_null(0.0).select(
        "day", "feature", (pl.col(str(after_run)) - pl.col(str(before_run))).alias("delta"))
    moved = delta.join(shared.select("day", pl.col("yhat_after")), on="day").group_by("feature").agg(
        (pl.col("yhat_after") * (1 - (-pl.col("delta")).exp())).sum().alias("units")).filter(
        pl.col("units").abs() >= MOVED).sort(pl.col("units").abs(), descending=True)
    return [{"kind": "signal", "units": round(units, 2),
             "what": f"{feature}: XGBoost's contribution moved the forecast {units:+,.1f} units over the shared days"}
            for feature, units in moved.iter_rows()]


def series_contributions(*, session: Session, run_ids: list[int], sku: str, region: str,
                         days: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    """run_id, day, feature, contribution of one series in `run_ids` (optionally over `days`, both ends
    in), on the days whose stored forecast a model of `CONTRIBUTING_MODELS` made (itself or as a fallback)."""
    rows = published_repo.contribution_rows(session=session, run_ids=run_ids, sku=sku, region=region, days=days)
    return rows.filter(_producer(pl.col("model")).is_in(list(CONTRIBUTING_MODELS))).drop("model")


def signal_note(model: str) -> str:
    """In plain words, why a forecast by `model` (as stored, e.g. `AutoETS (fallback from XGBoost)`)
    shows no signal contributions."""
    model = pl.select(_producer(pl.lit(model))).item()
    if model in CONTRIBUTING_MODELS:
        return f"{model} stored no signal contributions for this forecast."
    if model in SIGNAL_READERS:
        return (f"{model} reads the external signals as regressors, but only "
                f"{', '.join(sorted(CONTRIBUTING_MODELS))} stores how much each one contributed.")
    return f"{model} forecasts this series from its own sales history; it reads no external signals."


def _producer(model: pl.Expr) -> pl.Expr:
    """The model that made a row: `Y` for `Y` and for `Y (fallback from X)`."""
    return model.str.replace(r" \(fallback from .*\)$", "")


def _overrides(session: Session, sku: str, region: str, shared: pl.DataFrame) -> list[dict[str, Any]]:
    """Active overrides of the series over the shared days and their effect in the adjusted view."""
    if shared.is_empty():
        return []
    adjusted = override_repo.read_adjusted(session=session, sku=sku, region=region).filter(
        pl.col("override_id").is_not_null() & pl.col("day").is_between(shared["day"].min(), shared["day"].max()))
    return [{"kind": "override", "units": round(float((group["yhat_adjusted"] - group["yhat"]).sum()), 2),
             "what": f"override {override_id} by {group['override_by'][0]} ({group['override_reason'][0]}): "
                     f"{(group['yhat_adjusted'] - group['yhat']).sum():+,.1f} units on {group.height} day(s) of the "
                     "published forecast"}
            for (override_id,), group in adjusted.group_by("override_id", maintain_order=True)]
