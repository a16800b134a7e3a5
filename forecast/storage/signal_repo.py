"""Bitemporal reads and writes of signals. Functions take `*, session` and never commit.

A value is written as a new version only when it differs from the latest stored version of the
same key, so pulling the same data again stores nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from forecast.storage.schema import (
    CalendarEvent,
    CaseCorrection,
    CaseCount,
    LivestreamEvent,
    Promotion,
    SignalPayload,
)
from signals.frames import CALENDAR_SCHEMA, CASES_SCHEMA, LIVESTREAM_SCHEMA, PROMOTION_SCHEMA, UTC_TIME

__all__ = [
    "find_payload",
    "first_payload_id",
    "list_payloads",
    "write_case_counts",
    "write_corrections",
    "write_livestreams",
    "write_promotions",
    "write_calendar",
    "load_case_counts",
    "load_livestreams",
    "load_promotions",
    "load_calendar",
    "livestream_hosts",
    "livestreams_from",
    "read_calendar_days",
    "read_region_cases",
    "read_sku_promotions",
]

CHUNK = 5000


def find_payload(*, session: Session, source: str, sha256: str) -> SignalPayload | None:
    """The newest stored payload of `source` with this content, if any."""
    stmt = (select(SignalPayload).where(SignalPayload.source == source, SignalPayload.sha256 == sha256)
            .order_by(SignalPayload.id.desc()).limit(1))
    return session.scalars(stmt).first()


def first_payload_id(*, session: Session, source: str) -> int | None:
    """Id of the source's first payload (its backfill)."""
    return session.scalar(select(func.min(SignalPayload.id)).where(SignalPayload.source == source))


def list_payloads(*, session: Session, source: str) -> list[SignalPayload]:
    """Every stored payload of `source`, oldest first (the order a replay follows)."""
    return list(session.scalars(select(SignalPayload).where(SignalPayload.source == source).order_by(SignalPayload.id)))


def _insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(model.__table__.insert(), rows[start : start + CHUNK])


def _frame(session: Session, stmt: Any, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Query result as a frame with `schema` (datetimes as naive UTC, whatever the engine returned)."""
    rows = [tuple(_normal(v) for v in r) for r in session.execute(stmt).all()]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _as_utc(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Mark the (naive UTC) timestamp columns read back by `_frame` as UTC."""
    return frame.with_columns(pl.col(c).dt.replace_time_zone("UTC") for c in columns)


def write_case_counts(*, session: Session, source: str, cases: pl.DataFrame, batch_id: int,
                      fetched_at: dt.datetime, backfill: bool, population: Mapping[str, int]) -> tuple[int, int]:
    """Store new and changed daily counts as versions; returns (versions stored, rows unchanged).

    In a backfill (the source's first payload) a key gets the frame's `known_at`, the day plus the
    reporting lag. Afterwards the service cannot have known a value before it fetched it: new keys
    get the later of the two, and a changed value of a known key is a revision learned at `fetched_at`.
    Region mapping and per-100k values are derived, not observed: they are updated in place.
    """
    stored = latest_case_versions(session, source)
    joined = cases.join(stored, on=["source_region", "day"], how="left", suffix="_old")
    is_new = pl.col("new_cases_old").is_null()
    changed = ~is_new & ((pl.col("new_cases") != pl.col("new_cases_old"))
                         | pl.col("cumulative").ne_missing(pl.col("cumulative_old")))
    learned = pl.max_horizontal(pl.col("known_at"), pl.lit(fetched_at).cast(UTC_TIME))
    to_write = joined.filter(is_new | changed).with_columns(
        pl.when(is_new & backfill).then(pl.col("known_at")).otherwise(learned).alias("known_at"))
    rows = to_write.select(
        pl.lit(source).alias("source"), "source_region", "day", "known_at", pl.col("region").alias("region_id"),
        "new_cases", "cumulative", "new_cases_per_100k", pl.lit(batch_id).alias("batch_id"),
    ).to_dicts()
    _insert_rows(session, CaseCount, rows)
    _refresh_derived(session, source, cases, population)
    return len(rows), cases.height - len(rows)


def latest_case_versions(session: Session, source: str) -> pl.DataFrame:
    """The latest stored version per (source_region, day) of a source."""
    stmt = select(CaseCount.source_region, CaseCount.day, CaseCount.known_at, CaseCount.new_cases,
                  CaseCount.cumulative).where(CaseCount.source == source)
    frame = _frame(session, stmt, {"source_region": pl.String, "day": pl.Date, "known_at": pl.Datetime("us"),
                                   "new_cases_old": pl.Float64, "cumulative_old": pl.Float64})
    return frame.sort("known_at").group_by(["source_region", "day"]).last().drop("known_at")


def _refresh_derived(session: Session, source: str, cases: pl.DataFrame, population: Mapping[str, int]) -> None:
    """Set region_id and per-100k on every stored version from the current mapping and populations."""
    for source_region, region in cases.select("source_region", "region").unique().iter_rows():
        per_100k = CaseCount.new_cases * (1e5 / population[region]) if population.get(region) else None
        session.execute(update(CaseCount).where(CaseCount.source == source, CaseCount.source_region == source_region)
                        .values(region_id=region, new_cases_per_100k=per_100k))


def write_corrections(*, session: Session, source: str, corrections: pl.DataFrame, batch_id: int) -> int:
    """Store corrections (with `known_at`) not stored before for (source_region, day); returns how many are new."""
    existing = _frame(session, select(CaseCorrection.source_region, CaseCorrection.day)
                      .where(CaseCorrection.source == source), {"source_region": pl.String, "day": pl.Date})
    new = corrections.join(existing, on=["source_region", "day"], how="anti")
    rows = new.select(pl.lit(source).alias("source"), "source_region", "day",
                      "known_at",
                      pl.col("region").alias("region_id"), "amount", pl.lit(batch_id).alias("batch_id")).to_dicts()
    _insert_rows(session, CaseCorrection, rows)
    return len(rows)


def _write_versions(session: Session, model: Any, source: str, frame: pl.DataFrame, keys: list[str],
                    columns: dict[str, str], batch_id: int) -> tuple[int, int]:
    """Insert rows whose key (with source) is not stored yet; returns (stored, unchanged)."""
    key_columns = [getattr(model, columns.get(k, k)) for k in keys]
    existing = session.execute(select(*key_columns).where(model.source == source)).all()
    seen = {tuple(_normal(v) for v in row) for row in existing}
    rows = []
    for record in frame.iter_rows(named=True):
        if tuple(_normal(record[k]) for k in keys) in seen:
            continue
        rows.append({"source": source, "batch_id": batch_id, **{columns.get(k, k): v for k, v in record.items()}})
    _insert_rows(session, model, rows)
    return len(rows), frame.height - len(rows)


def _normal(value: Any) -> Any:
    """Comparable form of a key value (stored datetimes may come back naive UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def write_livestreams(*, session: Session, source: str, events: pl.DataFrame, batch_id: int) -> tuple[int, int]:
    """Store event versions not stored yet (key: event_id, announced_at)."""
    return _write_versions(session, LivestreamEvent, source, events.select(list(LIVESTREAM_SCHEMA)),
                           ["event_id", "announced_at"], {}, batch_id)


def write_promotions(*, session: Session, source: str, promotions: pl.DataFrame, batch_id: int) -> tuple[int, int]:
    """Store promotion versions not stored yet (key: promo_id, known_at)."""
    columns = {"sku": "sku_id", "region": "region_id", "start": "start_day", "end": "end_day"}
    return _write_versions(session, Promotion, source, promotions.select(list(PROMOTION_SCHEMA)),
                           ["promo_id", "known_at"], columns, batch_id)


def write_calendar(*, session: Session, source: str, calendar: pl.DataFrame, batch_id: int) -> tuple[int, int]:
    """Store calendar days not stored yet (key: region, day, name)."""
    frame = calendar.select(list(CALENDAR_SCHEMA)).with_columns(
        pl.col("region").fill_null("*").alias("region_key")
    ).unique(["region_key", "day", "name"], keep="last", maintain_order=True)
    return _write_versions(session, CalendarEvent, source, frame, ["region_key", "day", "name"],
                           {"region": "region_id"}, batch_id)


def _known_before(model: Any, as_of: dt.datetime | None, max_batch: int | None) -> list[Any]:
    """Rows known before `as_of` and stored by batch `max_batch` or earlier (either may be None: no limit)."""
    return ([model.known_at < as_of] if as_of is not None else []) + (
        [model.batch_id <= max_batch] if max_batch is not None else [])


def load_case_counts(*, session: Session, as_of: dt.datetime | None = None,
                     max_batch: int | None = None) -> pl.DataFrame:
    """Stored case counts (every version known before `as_of`, or all) in CASES_SCHEMA."""
    stmt = select(CaseCount.source_region, CaseCount.region_id, CaseCount.day, CaseCount.new_cases,
                  CaseCount.cumulative, CaseCount.new_cases_per_100k, CaseCount.known_at
                  ).where(*_known_before(CaseCount, as_of, max_batch))
    frame = _frame(session, stmt, {**CASES_SCHEMA, "known_at": pl.Datetime("us")})
    return _as_utc(frame, "known_at")


def load_livestreams(*, session: Session, as_of: dt.datetime | None = None,
                     max_batch: int | None = None) -> pl.DataFrame:
    """Stored livestream event versions in LIVESTREAM_SCHEMA."""
    m = LivestreamEvent
    stmt = select(m.event_id, m.host, m.platform, m.start_at, m.end_at, m.utc_offset, m.local_day, m.skus,
                  m.category, m.regions, m.expected_viewers, m.discount, m.status, m.announced_at, m.known_at
                  ).where(*_known_before(m, as_of, max_batch))
    naive = {k: (pl.Datetime("us") if v == UTC_TIME else v) for k, v in LIVESTREAM_SCHEMA.items()}
    return _as_utc(_frame(session, stmt, naive), "start_at", "end_at", "announced_at", "known_at")


def load_promotions(*, session: Session, as_of: dt.datetime | None = None,
                    max_batch: int | None = None) -> pl.DataFrame:
    """Stored promotion versions in PROMOTION_SCHEMA."""
    m = Promotion
    stmt = select(m.promo_id, m.sku_id, m.region_id, m.start_day, m.end_day, m.discount, m.known_at
                  ).where(*_known_before(m, as_of, max_batch))
    return _as_utc(_frame(session, stmt, {**PROMOTION_SCHEMA, "known_at": pl.Datetime("us")}), "known_at")


def load_calendar(*, session: Session, as_of: dt.datetime | None = None,
                  max_batch: int | None = None) -> pl.DataFrame:
    """Stored calendar days in CALENDAR_SCHEMA."""
    m = CalendarEvent
    stmt = select(m.region_id, m.day, m.name, m.kind, m.known_at).where(*_known_before(m, as_of, max_batch))
    return _as_utc(_frame(session, stmt, {**CALENDAR_SCHEMA, "known_at": pl.Datetime("us")}), "known_at")


def read_region_cases(*, session: Session, region: str, since: dt.date) -> pl.DataFrame:
    """Every stored version of one region's case counts from `since`: day, known_at, per100k."""
    rows = session.execute(select(CaseCount.day, CaseCount.known_at, CaseCount.new_cases_per_100k)
                           .where(CaseCount.region_id == region, CaseCount.day >= since)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "known_at": pl.Datetime("us", "UTC"), "per100k": pl.Float64},
                        orient="row")


def livestreams_from(*, session: Session, since: dt.date) -> Sequence[LivestreamEvent]:
    """Every stored version of the livestreams on local days from `since`, cancelled ones left out."""
    return session.execute(select(LivestreamEvent).where(LivestreamEvent.local_day >= since,
                                                         LivestreamEvent.status != "cancelled")).scalars().all()


def livestream_hosts(*, session: Session) -> list[str]:
    """Every host seen in a stored livestream, sorted."""
    return list(session.scalars(select(LivestreamEvent.host).distinct().order_by(LivestreamEvent.host)).all())


def read_sku_promotions(*, session: Session, sku: str, regions: list[str], since: dt.date) -> pl.DataFrame:
    """Every stored version of one SKU's promotions ending from `since`, everywhere or in one of
    `regions`: promo, start_day, end_day, discount, known_at."""
    rows = session.execute(select(Promotion.promo_id, Promotion.start_day, Promotion.end_day, Promotion.discount,
                                  Promotion.known_at).where(
        Promotion.sku_id == sku, Promotion.end_day >= since,
        (Promotion.region_id.is_(None)) | Promotion.region_id.in_(regions))).all()
    return pl.DataFrame(rows, schema={"promo": pl.String, "start_day": pl.Date, "end_day": pl.Date,
                                      "discount": pl.Float64, "known_at": pl.Datetime("us", "UTC")}, orient="row")


def read_calendar_days(*, session: Session, regions: list[str], since: dt.date) -> pl.DataFrame:
    """day, name, kind of the holidays and events from `since`, everywhere or in one of `regions`
    (every stored version: the same day may repeat)."""
    rows = session.execute(select(CalendarEvent.day, CalendarEvent.name, CalendarEvent.kind).where(
        CalendarEvent.day >= since, (CalendarEvent.region_key == "*") | CalendarEvent.region_id.in_(regions))).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "name": pl.String, "kind": pl.String}, orient="row")
