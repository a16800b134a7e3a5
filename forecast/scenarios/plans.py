"""What a planner asks of a scenario: a planned livestream or a case-count trajectory.

A plan is checked against what the service knows (SKUs, categories, regions, the forecast window)
and turned into the signal change it stands for: a `LIVESTREAM_SCHEMA` row visible at the cutoff, or
a case projection for some regions. `affected_series` says which SKU x region series it can move.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from forecast.errors import InvalidInputError
from forecast.features import StoredSignals
from signals.features_common import ancestor_chain
from signals.frames import LIVESTREAM_SCHEMA, as_of_instant
from signals.livestreams import parse_livestreams

__all__ = ["CasePlan", "LivestreamPlan", "Plan", "affected_series", "planned_event"]

PLANNED_EVENT_ID = "planned-scenario-event"
TRAJECTORIES = ("rising", "falling")


@dataclass(frozen=True)
class LivestreamPlan:
    """A planned livestream: who hosts it, what it features, where, when and how big.

    Attributes:
        host: the host's name (a host seen in the history lets the model use what it learned of them).
        start: ISO 8601 time with offset, e.g. `2026-01-10T19:00:00+08:00`; its local day is the event day.
        skus: featured SKUs; empty when a whole `category` is featured.
        regions: region ids (leaf regions or their parents); empty = every region.
        expected_viewers: expected audience.
        hours: length of the stream.
        discount: discount offered on air, 0..1.
        category: featured category: the whole category when `skus` is empty, else only a label.
        platform: optional platform name.
    """

    host: str
    start: str
    skus: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    expected_viewers: int = 0
    hours: float = 2.0
    discount: float = 0.0
    category: str | None = None
    platform: str | None = None
    kind: str = field(default="livestream", init=False)

    def __post_init__(self) -> None:
        if not self.skus and not self.category:
            raise InvalidInputError("a planned livestream needs what it features: give --sku (repeatable) or --category")

    def to_config(self) -> dict[str, Any]:
        """The plan as stored with the scenario (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class CasePlan:
    """A case-count trajectory after the last known day: rising or falling by `weekly_rate` a week.

    Attributes:
        trajectory: `rising` or `falling` (the baseline holds the last known 7-day level).
        weekly_rate: growth or decline per week, in (0, 1].
        regions: region ids (leaf regions or their parents) it applies to; empty = every region.
    """

    trajectory: str
    weekly_rate: float = 0.3
    regions: tuple[str, ...] = ()
    kind: str = field(default="cases", init=False)

    def __post_init__(self) -> None:
        if self.trajectory not in TRAJECTORIES:
            raise InvalidInputError(f"case trajectory {self.trajectory!r} is unknown; use {' or '.join(TRAJECTORIES)}")
        if not 0.0 < self.weekly_rate <= 1.0:
            raise InvalidInputError(f"weekly rate {self.weekly_rate} is outside (0, 1]; give a weekly fraction such "
                                    "as 0.3 for 30% a week")

    def to_config(self) -> dict[str, Any]:
        """The plan as stored with the scenario (JSON-ready)."""
        return asdict(self)


Plan = LivestreamPlan | CasePlan


def _leaf_regions(asked: tuple[str, ...], series: pl.DataFrame, parents: dict[str, str | None]) -> set[str]:
    """The regions of `series` that are in `asked` or below one of them (all of them when `asked` is empty).

    Raises:
        InvalidInputError: a region is unknown.
    """
    unknown = sorted(set(asked) - set(parents))
    if unknown:
        raise InvalidInputError(f"unknown region(s) {', '.join(unknown[:5])}; use the ids of `demand ingest regions`")
    regions = set(series["region"].unique().to_list())
    if not asked:
        return regions
    return {r for r in regions if set(ancestor_chain(r, parents)) & set(asked)}


def affected_series(plan: Plan, series: pl.DataFrame, signals: StoredSignals) -> pl.DataFrame:
    """The rows of `series` (unique_id, sku, region) that `plan` can move.

    Raises:
        InvalidInputError: the plan names unknown SKUs, categories or regions, or no stored series.
    """
    regions = _leaf_regions(plan.regions, series, signals.region_parents)
    picked = series.filter(pl.col("region").is_in(list(regions)))
    if isinstance(plan, LivestreamPlan):
        categories = sorted(set(signals.sku_categories.values()))
        if plan.category is not None and plan.category not in categories:
            raise InvalidInputError(f"unknown category {plan.category!r}; known: {', '.join(categories[:10])}")
        skus = set(plan.skus) or {s for s, c in signals.sku_categories.items() if c == plan.category}
        missing = sorted(set(plan.skus) - set(series["sku"].to_list()))
        if missing:
            raise InvalidInputError(f"no sales history up to the cutoff for SKU(s) {', '.join(missing[:5])}; a "
                                    "scenario moves stored series only")
        picked = picked.filter(pl.col("sku").is_in(list(skus)))
    if picked.is_empty():
        raise InvalidInputError("the plan matches no stored SKU x region series; check its SKUs, category and regions")
    return picked


def planned_event(plan: LivestreamPlan, *, signals: StoredSignals, horizon: int,
                  leaf_regions: list[str]) -> pl.DataFrame:
    """The plan as one livestream row (LIVESTREAM_SCHEMA), announced at the end of the cutoff day.

    The row goes through the schedule parser, so a plan is held to the rules of a real schedule.

    Raises:
        InvalidInputError: a field the parser rejects, or an event day outside the forecast window.
    """
    try:
        start = dt.datetime.fromisoformat(plan.start)
    except ValueError:
        raise InvalidInputError(f"--start {plan.start!r} is not an ISO 8601 time; use e.g. 2026-01-10T19:00:00+08:00") from None
    if start.tzinfo is None:
        raise InvalidInputError(f"--start {plan.start!r} has no time zone; add an offset like +08:00 or Z")
    if not 0 < plan.hours <= 24:
        raise InvalidInputError(f"--hours {plan.hours} is outside (0, 24]; give the stream's length in hours")
    announced = as_of_instant(signals.cutoff) - dt.timedelta(seconds=1)
    raw = pl.DataFrame({
        "line": [1], "event_id": [PLANNED_EVENT_ID], "host": [plan.host], "platform": [plan.platform],
        "start": [plan.start], "end": [(start + dt.timedelta(hours=plan.hours)).isoformat()],
        "skus": [";".join(plan.skus)], "category": [plan.category], "regions": [";".join(sorted(leaf_regions))],
        "expected_viewers": [str(plan.expected_viewers)], "discount": [str(plan.discount)], "status": ["scheduled"],
        "announced_at": [announced.isoformat()],
    }, schema_overrides={"line": pl.Int64})
    events, rejected = parse_livestreams(raw, known_skus=set(signals.sku_categories) | set(plan.skus),
                                         known_categories=set(signals.sku_categories.values()),
                                         known_regions=set(signals.region_parents))
    if rejected.height:
        raise InvalidInputError(f"planned livestream rejected: {rejected['reason'][0]}")
    day = events["local_day"][0]
    last = signals.cutoff + dt.timedelta(days=horizon)
    if not signals.cutoff < day <= last:
        raise InvalidInputError(f"the livestream's day {day} is outside the forecast window {signals.cutoff + dt.timedelta(days=1)}"
                                f"..{last}; pick a start in it or change --horizon/--cutoff")
    return events.select(list(LIVESTREAM_SCHEMA))
