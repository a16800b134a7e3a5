"""The typed SQLAlchemy 2.0 schema: the one place tables are declared. Alembic owns every change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    LargeBinary,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ACCURACY_LAGS",
    "ForecastOverride",
    "OVERRIDE_KINDS",
    "AppUser",
    "DashboardSession",
    "LoginFailure",
    "USER_ROLES",
    "ApschedulerJob",
    "ForecastAccuracy",
    "JOB_STATUSES",
    "JobRun",
    "SchedulerLock",
    "ABSENT_POLICIES",
    "BATCH_STATUSES",
    "BacktestForecast",
    "BacktestMetric",
    "BacktestRun",
    "Base",
    "CalendarEvent",
    "ForecastContribution",
    "ForecastRun",
    "ForecastValue",
    "PublishedSeries",
    "RUN_STATUSES",
    "SCENARIO_KINDS",
    "SCENARIO_STATUSES",
    "Scenario",
    "ScenarioValue",
    "CaseCorrection",
    "CaseCount",
    "IngestBatch",
    "LivestreamEvent",
    "Promotion",
    "Region",
    "RejectedRow",
    "Sales",
    "SalesHistory",
    "ShockCheck",
    "SignalPayload",
    "Sku",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys that autoincrement on both engines (SQLite only does so for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")

ABSENT_POLICIES = ("zero", "unknown")
"""What a day without a sales row means for a sales batch's series: no sale (the feed writes only days
with a sale) or not reported (a missing report); see docs/forecasting.md."""

BATCH_STATUSES = ("succeeded", "partial")
"""`succeeded`: every row accepted; `partial`: some rows went to `rejected_row`."""


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON}


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC (the only clock the storage uses)."""
    return dt.datetime.now(dt.timezone.utc)


class Sku(Base):
    """A stock-keeping unit: one product as the planners know it."""

    __tablename__ = "sku"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    category: Mapped[str | None] = mapped_column(String(128), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Region(Base):
    """A selling region (store, county, province); `parent_id` builds the hierarchy."""

    __tablename__ = "region"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"), index=True)
    population: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class IngestBatch(Base):
    """One ingested file: where it came from, its content hash and what happened to its rows."""

    __tablename__ = "ingest_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    options: Mapped[str] = mapped_column(Text, default="{}")
    """Canonical JSON of the mapping used; the same content under another mapping is another batch."""
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("signal_payload.id"), index=True)
    """For signal batches: the raw payload that was parsed (a replay parses it again in a new batch)."""
    absent: Mapped[str | None] = mapped_column(String(16))
    """For sales batches: what a day without a row means for the batch's series (`ABSENT_POLICIES`)."""
    first_day: Mapped[dt.date | None] = mapped_column(Date)
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    """For sales batches: the days the file covers (its accepted rows' first and last day)."""

    __table_args__ = (
        Index("ix_ingest_batch_kind_sha256", "kind", "sha256"),
        CheckConstraint(f"status IN {BATCH_STATUSES!r}", name="status_known"),
        CheckConstraint(f"absent IS NULL OR absent IN {ABSENT_POLICIES!r}", name="absent_known"),
    )


class Sales(Base):
    """Units sold of one SKU in one region on one day (one row per key)."""

    __tablename__ = "sales"

    sku_id: Mapped[str] = mapped_column(ForeignKey("sku.id"), primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("region.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[float] = mapped_column(Double)
    price: Mapped[float | None] = mapped_column(Double)
    on_promo: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_id: Mapped[int] = mapped_column(BigId)
    """The `ingest_batch` that last changed this row. Not a foreign key on purpose: a per-row
    foreign-key check costs ~7 s per million rows on PostgreSQL, and batches are never deleted."""

    __table_args__ = (
        CheckConstraint("units >= 0", name="units_non_negative"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_non_negative"),
        Index("ix_sales_region_id_day", "region_id", "day"),
        {"sqlite_with_rowid": False},  # the key is the clustered index: one B-tree, not two
    )


class RejectedRow(Base):
    """A row of an ingested file that was quarantined instead of loaded, with its reason."""

    __tablename__ = "rejected_row"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    """Line in the file (the header is line 1); for Parquet, the row number plus one."""
    raw: Mapped[str] = mapped_column(Text)
    """The row's original fields as a JSON object, exactly as read."""
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("batch_id", "line", name="uq_rejected_row_batch_line"),)


class SignalPayload(Base):
    """A signal source's raw content exactly as fetched, kept so a parser fix can be replayed."""

    __tablename__ = "signal_payload"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_signal_payload_source_sha256", "source", "sha256"),)


class CaseCount(Base):
    """Daily new cases of one source region, bitemporal: the day it is about and when it was known."""

    __tablename__ = "case_count"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_region: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    known_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"), index=True)
    """The service region the source region maps to; null while unmapped (kept, never dropped)."""
    new_cases: Mapped[float] = mapped_column(Double)
    cumulative: Mapped[float | None] = mapped_column(Double)
    new_cases_per_100k: Mapped[float | None] = mapped_column(Double)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)

    __table_args__ = (CheckConstraint("new_cases >= 0", name="new_cases_non_negative"),)


class CaseCorrection(Base):
    """A day on which a cumulative series went down; its daily value was stored as 0."""

    __tablename__ = "case_correction"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_region: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    known_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"))
    amount: Mapped[float] = mapped_column(Double)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)


class LivestreamEvent(Base):
    """One version of a livestream event; an update or cancellation is a new version."""

    __tablename__ = "livestream_event"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    announced_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    host: Mapped[str] = mapped_column(String(256), index=True)
    platform: Mapped[str | None] = mapped_column(String(128))
    start_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    utc_offset: Mapped[str] = mapped_column(String(64))
    local_day: Mapped[dt.date] = mapped_column(Date, index=True)
    skus: Mapped[list[str]] = mapped_column(JSON)
    category: Mapped[str | None] = mapped_column(String(128))
    regions: Mapped[list[str] | None] = mapped_column(JSON)
    """Service region ids; null means every region."""
    expected_viewers: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    known_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)

    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("status IN ('scheduled', 'cancelled', 'done')", name="status_known"),
    )


class Promotion(Base):
    """One version of a planned promotion of a SKU (in one region or all)."""

    __tablename__ = "promotion"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    promo_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    known_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    sku_id: Mapped[str] = mapped_column(ForeignKey("sku.id"), index=True)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"))
    """Null means every region."""
    start_day: Mapped[dt.date] = mapped_column(Date)
    end_day: Mapped[dt.date] = mapped_column(Date)
    discount: Mapped[float] = mapped_column(Double)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)

    __table_args__ = (CheckConstraint("end_day >= start_day", name="ends_after_start"),)


class CalendarEvent(Base):
    """A public holiday, event or SNAP day of a region (region_key `*` = every region)."""

    __tablename__ = "calendar_event"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"))
    kind: Mapped[str] = mapped_column(String(32))
    known_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id"), index=True)


RUN_STATUSES = ("draft", "published", "failed", "superseded")
ORDERED_BANDS = "lo95 >= 0 AND lo95 <= lo80 AND lo80 <= yhat AND yhat <= hi80 AND hi80 <= hi95"
"""The check every forecast row with bands passes (FORECAST_SCHEMA's `finalise` guarantees it)."""


class ForecastRun(Base):
    """One forecast run: written as a draft, then published in one transaction (or failed)."""

    __tablename__ = "forecast_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), default="forecast")
    """`forecast`, the only kind so far (scenarios have their own table, `scenario`)."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cutoff: Mapped[dt.date] = mapped_column(Date)
    """Last day of history the run used."""
    horizon: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[str] = mapped_column(String(8))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    code_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status_known"),
        CheckConstraint("horizon > 0", name="horizon_positive"),
    )


class ForecastValue(Base):
    """One forecast row of a run. No foreign keys on purpose: they would cost a per-row check on
    the bulk write path; runs are never deleted and the publish step checks completeness."""

    __tablename__ = "forecast_value"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    yhat: Mapped[float] = mapped_column(Double)
    lo80: Mapped[float] = mapped_column(Double)
    hi80: Mapped[float] = mapped_column(Double)
    lo95: Mapped[float] = mapped_column(Double)
    hi95: Mapped[float] = mapped_column(Double)
    model: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint(ORDERED_BANDS, name="ordered_non_negative"),
        {"sqlite_with_rowid": False},
    )


class ForecastContribution(Base):
    """Per-row contribution of a signal feature to a forecast (XGBoost's own output, margin scale)."""

    __tablename__ = "forecast_contribution"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    feature: Mapped[str] = mapped_column(String(64), primary_key=True)
    contribution: Mapped[float] = mapped_column(Double)

    __table_args__ = ({"sqlite_with_rowid": False},)


class ForecastTotal(Base):
    """A reconciled aggregate of a run: one node of a level (total, category, region, category x
    region) on one day. With the run's reconciled SKU x region rows its `yhat` adds up: a node is the
    sum of the nodes below it. `base_yhat` is the node's own forecast before reconciliation."""

    __tablename__ = "forecast_total"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    level: Mapped[str] = mapped_column(String(32), primary_key=True)
    node: Mapped[str] = mapped_column(String(512), primary_key=True)
    """The node's keys joined with "/" under `total`, e.g. `total/food/R01` (category food, region R01);
    when two nodes of a level would read the same (names holding "/"), that level's names escape "/"
    and "\\" with a backslash (`forecast.pipeline.nodes.node_name`)."""
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    yhat: Mapped[float] = mapped_column(Double)
    lo80: Mapped[float] = mapped_column(Double)
    hi80: Mapped[float] = mapped_column(Double)
    lo95: Mapped[float] = mapped_column(Double)
    hi95: Mapped[float] = mapped_column(Double)
    base_yhat: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        CheckConstraint(ORDERED_BANDS, name="ordered_non_negative"),
        {"sqlite_with_rowid": False},
    )


class PublishedSeries(Base):
    """Which published run each SKU x region is read from: the pointer `published_forecast` follows.

    Publishing moves every pointer of a run in one transaction, so a reader sees one whole run per
    series, never a mix.
    """

    __tablename__ = "published_series"

    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_run.id"), index=True)
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


SCENARIO_KINDS = ("livestream", "cases")
SCENARIO_STATUSES = ("running", "complete", "failed")


class Scenario(Base):
    """A what-if forecast: a plan (a planned livestream or a case trajectory) forecast with and without.

    Never published: `published_forecast` does not read it. `base_run_id` is the run that was
    published when the scenario was made, for reference.
    """

    __tablename__ = "scenario"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The plan as given (host, SKUs, regions, start, viewers ... or trajectory, rate, regions)."""
    cutoff: Mapped[dt.date] = mapped_column(Date)
    horizon: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    code_version: Mapped[str] = mapped_column(String(64))
    base_run_id: Mapped[int | None] = mapped_column(ForeignKey("forecast_run.id"))
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"status IN {SCENARIO_STATUSES!r}", name="status_known"),
        CheckConstraint(f"kind IN {SCENARIO_KINDS!r}", name="kind_known"),
        CheckConstraint("horizon > 0", name="horizon_positive"),
    )


class ScenarioValue(Base):
    """One SKU x region x day of a scenario: the forecast without the plan (baseline_*), with it, and
    the difference `uplift = yhat - baseline_yhat` (negative when the plan lowers demand).

    No foreign key, like `forecast_value`: rows are bulk-written in the transaction that completes
    the scenario.
    """

    __tablename__ = "scenario_value"

    scenario_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    baseline_yhat: Mapped[float] = mapped_column(Double)
    baseline_lo80: Mapped[float] = mapped_column(Double)
    baseline_hi80: Mapped[float] = mapped_column(Double)
    baseline_lo95: Mapped[float] = mapped_column(Double)
    baseline_hi95: Mapped[float] = mapped_column(Double)
    yhat: Mapped[float] = mapped_column(Double)
    lo80: Mapped[float] = mapped_column(Double)
    hi80: Mapped[float] = mapped_column(Double)
    lo95: Mapped[float] = mapped_column(Double)
    hi95: Mapped[float] = mapped_column(Double)
    uplift: Mapped[float] = mapped_column(Double)
    model: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint(ORDERED_BANDS, name="ordered_non_negative"),
        CheckConstraint("baseline_lo95 >= 0 AND baseline_lo95 <= baseline_lo80 AND baseline_lo80 <= baseline_yhat "
                        "AND baseline_yhat <= baseline_hi80 AND baseline_hi80 <= baseline_hi95",
                        name="baseline_ordered_non_negative"),
        {"sqlite_with_rowid": False},
    )


class SalesHistory(Base):
    """A sales row as it was before an ingest batch changed it: what makes "the data as known then" exact.

    `batch_id` wrote this version, `replaced_by` overwrote it. The sales as known after batch B are
    the `sales` rows with `batch_id <= B` plus the versions here with `batch_id <= B < replaced_by`.
    """

    __tablename__ = "sales_history"

    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    replaced_by: Mapped[int] = mapped_column(BigId, primary_key=True)
    units: Mapped[float] = mapped_column(Double)
    price: Mapped[float | None] = mapped_column(Double)
    on_promo: Mapped[bool] = mapped_column(Boolean)
    batch_id: Mapped[int] = mapped_column(BigId)

    __table_args__ = ({"sqlite_with_rowid": False},)


class BacktestRun(Base):
    """A rolling-origin backtest: its config and the data it saw (sales and signals up to `data_batch_id`)."""

    __tablename__ = "backtest_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """windows, step, horizon, models, signals, ensemble settings: everything a rerun needs."""
    data_cutoff: Mapped[dt.date] = mapped_column(Date)
    """Last day of actuals: the last window ends on it."""
    data_batch_id: Mapped[int] = mapped_column(BigId)
    """Newest ingest batch when the backtest ran; a rerun reads the data as it was after it."""
    code_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    rerun_of: Mapped[int | None] = mapped_column(ForeignKey("backtest_run.id"))
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("status IN ('running', 'complete', 'failed')", name="status_known"),)


class BacktestForecast(Base):
    """One forecast row of a backtest window, with the actual: the per series x model x window x step record."""

    __tablename__ = "backtest_forecast"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The model asked for (or `Selected` / `Ensemble`); `produced_by` says what made the row."""
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    step: Mapped[int] = mapped_column(Integer)
    y: Mapped[float] = mapped_column(Double)
    yhat: Mapped[float] = mapped_column(Double)
    lo80: Mapped[float] = mapped_column(Double)
    hi80: Mapped[float] = mapped_column(Double)
    lo95: Mapped[float] = mapped_column(Double)
    hi95: Mapped[float] = mapped_column(Double)
    produced_by: Mapped[str] = mapped_column(String(256))

    __table_args__ = ({"sqlite_with_rowid": False},)


class BacktestMetric(Base):
    """One metric of a backtest: per series x model x window (step 0 = the whole horizon), or, with
    sku and region `*`, over every series for one step or the whole horizon; WRMSSE rows name their
    aggregation level in `region` (sku `*`)."""

    __tablename__ = "backtest_metric"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    """0-based, oldest first; -1 = every window together."""
    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)

    __table_args__ = ({"sqlite_with_rowid": False},)


JOB_STATUSES = ("running", "succeeded", "partial", "failed", "waiting", "aborted", "abandoned")
"""`partial`: it finished, but some of its input was rejected (rows quarantined); `waiting`: its inputs failed and the job will retry; `aborted`: stopped by a signal before it
finished; `abandoned`: its scheduler died while it ran (found and marked by the next one)."""


class JobRun(Base):
    """One attempt of one scheduled job: the scheduler's history.

    `(job, scheduled_for, attempt)` is unique: claiming an attempt inserts its row first, so two
    schedulers can never both run a job for the same scheduled time.
    """

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")
    instance: Mapped[str] = mapped_column(String(128))
    """host:pid of the scheduler (or `run-once`) that ran it."""
    rows: Mapped[int | None] = mapped_column(BigInteger)
    """Rows the job handled: sales rows accepted, signal versions stored, forecast rows published..."""
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    """The last frames of the traceback (a summary, not the whole stack)."""
    retry_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("job", "scheduled_for", "attempt", name="uq_job_run_job_scheduled_for_attempt"),
        CheckConstraint(f"status IN {JOB_STATUSES!r}", name="status_known"),
        Index("ix_job_run_job_started_at", "job", "started_at"),
    )


class SchedulerLock(Base):
    """Who runs the jobs of this database. On SQLite the row is the lock (a lease the holder renews);
    on PostgreSQL an advisory lock is, and the row only says who holds it."""

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    renewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApschedulerJob(Base):
    """APScheduler 3's `SQLAlchemyJobStore` table, declared here so Alembic owns it (same columns)."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Double, index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


ACCURACY_LAGS = (1, 7, 28)


class ForecastAccuracy(Base):
    """A published forecast next to the actual that arrived later, `lag` days after the run's cutoff.

    For day D and lag k the row holds the newest published run whose cutoff is at most D - k: what a
    warehouse reading `published_forecast` k days ahead saw for D.
    """

    __tablename__ = "forecast_accuracy"

    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    lag: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId)
    model: Mapped[str] = mapped_column(String(128))
    yhat: Mapped[float] = mapped_column(Double)
    lo80: Mapped[float] = mapped_column(Double)
    hi80: Mapped[float] = mapped_column(Double)
    lo95: Mapped[float] = mapped_column(Double)
    hi95: Mapped[float] = mapped_column(Double)
    actual: Mapped[float] = mapped_column(Double)
    tracked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = ({"sqlite_with_rowid": False},)


USER_ROLES = ("viewer", "planner")
"""`viewer` reads every page; `planner` may also save scenarios and overrides."""


class AppUser(Base):
    """A dashboard user: a bcrypt hash of the password, never the password."""

    __tablename__ = "app_user"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """Set by `demand users disable`: the user cannot sign in and its sessions are ended."""

    __table_args__ = (CheckConstraint(f"role IN {USER_ROLES!r}", name="role_known"),)


class DashboardSession(Base):
    """A dashboard sign-in, checked on every rerun and planner action (`user_repo.resume_session`).

    The browser's session holds a random token; only its SHA-256 is stored. A change of the user's
    role or password, disabling or removing it, signing out or the session's age ends it.
    """

    __tablename__ = "dashboard_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(64), ForeignKey("app_user.username", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    """The role at sign-in; the session only ever acts with it."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    """`signed out`, `expired`, `account changed`, `account disabled`."""

    __table_args__ = (Index("ix_dashboard_session_username", "username", "ended_at"),)


class LoginFailure(Base):
    """A failed dashboard sign-in, counted to throttle guessing (`user_repo.authenticate`)."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    """The name tried (cut to 64 characters), known user or not."""
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_login_failure_username", "username", "failed_at"),)


OVERRIDE_KINDS = ("value", "percent")


class ForecastOverride(Base):
    """A planner's adjustment of the published forecast of one SKU x region over a date range.

    `value`: the forecast becomes `amount` units a day; `percent`: it moves by `amount` percent.
    The newest active override covering a day wins (`published_forecast_adjusted`).
    """

    __tablename__ = "forecast_override"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku_id: Mapped[str] = mapped_column(String(128))
    region_id: Mapped[str] = mapped_column(String(128))
    start_day: Mapped[dt.date] = mapped_column(Date)
    end_day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint(f"kind IN {OVERRIDE_KINDS!r}", name="kind_known"),
        CheckConstraint("end_day >= start_day", name="range_ordered"),
        CheckConstraint("kind != 'value' OR amount >= 0", name="value_non_negative"),
        CheckConstraint("kind != 'percent' OR amount >= -100", name="percent_above_minus_100"),
        Index("ix_forecast_override_series", "sku_id", "region_id", "start_day"),
    )


class ModelState(Base):
    """A fitted model a run kept, so later nights can forecast from it without refitting.

    `payload` is the pickled model (forecast/storage/model_state_repo.py); `sha256` is its digest,
    checked before it is unpickled. Only the service writes this table; the reader role of the
    published views never sees it.
    """

    __tablename__ = "model_state"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("forecast_run.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(String(32))
    trained_through: Mapped[dt.date] = mapped_column(Date)
    """Last day of history the model was fitted on."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (UniqueConstraint("run_id", "family", name="one_per_run_and_family"),)


class ShockCheck(Base):
    """One region's regional-shock flag as checked on a day (forecast/pipeline/shock.py).

    `triggered` says whether a trigger fired on `checked_on` (case counts rising by at least the
    threshold, or many of the region's forecasts breaking out of their bands); `active` whether the
    flag is up (a trigger within the hold period). `reason` is the line planners read.
    """

    __tablename__ = "shock_check"

    checked_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    region_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    triggered: Mapped[bool] = mapped_column(Boolean)
    cases_week_per_100k: Mapped[float | None] = mapped_column(Double)
    case_rise: Mapped[float | None] = mapped_column(Double)
    breakout_series: Mapped[int | None] = mapped_column(Integer)
    breakout_share: Mapped[float | None] = mapped_column(Double)
    breakout_above: Mapped[float | None] = mapped_column(Double)
    raised_on: Mapped[dt.date | None] = mapped_column(Date)
    last_trigger: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
