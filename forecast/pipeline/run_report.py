"""What one forecast run did (`RunReport`), as typed records.

Each record's `to_dict()` is the shape stored in the run's `forecast_run.config` (and printed by
`demand forecast run --json`); the dashboard and the tests read that JSON, so it does not change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from forecast.pipeline.shock import ShockRules

__all__ = ["ColdStartReport", "Fallback", "Reconciliation", "Refit", "RunReport", "SeriesShapes", "Selection",
           "ShockReport", "ShockedRegion"]


def _without_none(record: Any) -> dict[str, Any]:
    """`record` as a dict without the fields it leaves out (None)."""
    return {k: v for k, v in asdict(record).items() if v is not None}


@dataclass(frozen=True)
class Selection:
    """How the models were chosen: made_on (the cutoff of the oldest holdout that chose them), reused_from (the
    run whose choices were kept), series_reused, series_selected (on this run's holdout), and with
    `reselect_days` slices_made_on (slice -> cutoff of the holdout that chose it)."""

    made_on: str
    reused_from: int | None
    series_reused: int
    series_selected: int
    slices_made_on: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        selection = asdict(self)
        if self.slices_made_on is None:
            del selection["slices_made_on"]
        return selection


@dataclass(frozen=True)
class Refit:
    """One model family of the chosen models: refitted, series, and for a kept model the run that fitted it
    (model_of_run) and the day it was fitted through; for per-series fits (statsforecast) also
    series_refitted and series_forwarded (forecast from a kept fit, forwarded through the new days)."""

    refitted: bool
    series: int
    series_refitted: int | None = None
    series_forwarded: int | None = None
    model_of_run: int | None = None
    trained_through: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_none(self)


@dataclass(frozen=True)
class ColdStartReport:
    """What cold start did: new_series (forecast from analogues), blended_series (short histories blended),
    without_analogues, and the analogues of each new series ("SKU in region" -> SKUs)."""

    new_series: int
    blended_series: int
    without_analogues: int
    analogues: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShockedRegion:
    """A flagged region: since when, why, its series and their chosen models (model -> series)."""

    raised_on: str
    reason: str
    series: int
    models: dict[str, int]


@dataclass(frozen=True)
class ShockReport:
    """The shock policy's rules and its flagged regions."""

    rules: ShockRules
    regions: dict[str, ShockedRegion]

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules.to_dict(), "regions": {r: asdict(s) for r, s in self.regions.items()}}


@dataclass(frozen=True)
class Reconciliation:
    """The method a run reconciles with, chosen_by (asked, a backtest, or the default), the band factors per
    aggregate level of that backtest, and (once reconciled) the number of aggregate nodes."""

    method: str
    chosen_by: str
    band_factors: dict[str, Any] | None = None
    band_factors_from: int | None = None
    nodes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        reconciliation = asdict(self)
        if self.band_factors is None:
            del reconciliation["band_factors"], reconciliation["band_factors_from"]
        if self.nodes is None:
            del reconciliation["nodes"]
        return reconciliation


@dataclass(frozen=True)
class SeriesShapes:
    """The feed's shape at the cutoff (`series_report.shapes_report`): counts by status and absent-days policy,
    late series (days_late), inactive series (days_without_sale, forecast zero), how many series have
    absent days, and those with days not reported (unknown_days)."""

    series: dict[str, int]
    absent_policy: dict[str, int]
    late: list[dict[str, Any]]
    inactive: list[dict[str, Any]]
    with_absent_days: int
    with_unknown_days: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fallback:
    """A model family that failed on some series, the family that replaced it and why (`Forecaster.forecast`)."""

    family: str
    models: list[str]
    series: int
    fallback: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunReport:
    """What one forecast run did; `to_dict()` is what `--json` prints."""

    run_id: int
    status: str
    cutoff: str
    horizon: int
    series: int = 0
    rows: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    """Chosen model -> number of series."""
    selection: Selection | None = None
    """None when the models came from a backtest."""
    cold_start: ColdStartReport | None = None
    shock: ShockReport | None = None
    reconciliation: Reconciliation | None = None
    series_shapes: SeriesShapes | None = None
    fallbacks: list[Fallback] = field(default_factory=list)
    refits: dict[str, Refit] = field(default_factory=dict)
    """Model family -> what it refitted."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json` (a record the run did not make is {})."""
        def plain(record: Any) -> dict[str, Any]:
            return {} if record is None else record.to_dict()

        return {"run_id": self.run_id, "status": self.status, "cutoff": self.cutoff, "horizon": self.horizon,
                "series": self.series, "rows": self.rows, "seconds": self.seconds,
                "stage_seconds": dict(self.stage_seconds), "models": dict(self.models),
                "selection": plain(self.selection), "cold_start": plain(self.cold_start), "shock": plain(self.shock),
                "reconciliation": plain(self.reconciliation), "series_shapes": plain(self.series_shapes),
                "fallbacks": [f.to_dict() for f in self.fallbacks],
                "refits": {family: r.to_dict() for family, r in self.refits.items()}}
