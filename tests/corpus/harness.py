"""Run one corpus entry against a database and report what happened, for the table-driven tests."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select

from forecast.errors import DemandError
from forecast.ingest import ingest_sales, resolve_mapping
from forecast.ingest.signal_config import SourceConfig, load_sources
from forecast.ingest.signals import pull_source
from forecast.storage import repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import (Base, CalendarEvent, CaseCount, IngestBatch, LivestreamEvent, Promotion,
                                     RejectedRow, Sales)
from signals.errors import SignalError

FILES = Path(__file__).parent / "files"
SIGNAL_KINDS = ("cases", "livestreams", "promotions", "calendar")
BASELINE_SALES = "sku,region,day,units,price,category\nA1,R01,2024-01-01,5,2.5,beauty\nB2,R02,2024-01-01,7,,snacks\n"
COUNTED = ("sales", "sku", "region", "ingest_batch", "rejected_row", "signal_payload", "case_count",
           "case_correction", "livestream_event", "promotion", "calendar_event")


@dataclass(frozen=True)
class Outcome:
    """What a corpus entry did: a one-line error, or a batch with its quarantined and stored rows."""

    error: str | None = None
    batch_id: int | None = None
    rejected: dict[int, str] = field(default_factory=dict)
    stored: set[tuple[Any, ...]] = field(default_factory=set)
    rows_accepted: int = 0


def seed(engine: Engine, folder: Path) -> None:
    """Regions R01/R02, SKUs A1 (beauty) and B2 (snacks) and a first sales batch, so tables are not empty."""
    path = folder / "baseline.csv"
    path.write_text(BASELINE_SALES)
    with session_scope(engine) as session:
        ingest_sales(path, session=session, mapping=resolve_mapping())


def snapshot(engine: Engine) -> dict[str, Any]:
    """Row counts of the ingest and signal tables, a checksum of sales and every row of every table."""
    with engine.connect() as conn:
        rows = {name: sorted(map(repr, conn.execute(table.select()).all()))
                for name, table in Base.metadata.tables.items()}
        counts = {name: conn.scalar(select(func.count()).select_from(Base.metadata.tables[name])) for name in COUNTED}
    sales = hashlib.sha256("\n".join(rows["sales"]).encode()).hexdigest()
    return {"counts": counts, "sales_sha256": sales, "rows": rows}


def tables_present(engine: Engine) -> set[str]:
    """The tables the database has now (a hostile id must not have dropped any)."""
    return set(inspect(engine).get_table_names())


def run_entry(engine: Engine, kind: str, path: Path, options: dict[str, Any], name: str) -> Outcome:
    """Ingest `path` as `kind` (sales or a signal kind) in one session; an error rolls the session back."""
    try:
        with session_scope(engine) as session:
            if kind == "sales":
                mapping = resolve_mapping(date_format=options.get("date_format"))
                report = ingest_sales(path, session=session, mapping=mapping, encoding=options.get("encoding", "utf-8"),
                                      delimiter=options.get("delimiter", ","))
                batch_id, accepted = report.batch_id, report.rows_accepted
            else:
                preset = options.get("preset", {"cases": "daily", "calendar": "custom"}.get(kind))
                config = SourceConfig(name=name, kind=kind, location=str(path), preset=preset,
                                      encoding=options.get("encoding", "utf-8"))
                pulled = pull_source(config, session=session)
                batch_id, accepted = pulled.batch_id, pulled.rows_read - pulled.rows_rejected
    except (DemandError, SignalError) as exc:
        return Outcome(error=str(exc))
    with session_scope(engine) as session:
        quarantined = session.scalars(select(RejectedRow).where(RejectedRow.batch_id == batch_id))
        rejected = {r.line: r.reason for r in quarantined}
        stored = _stored(session, kind, batch_id, name)
    return Outcome(batch_id=batch_id, rejected=rejected, stored=stored, rows_accepted=accepted)


def _stored(session: Any, kind: str, batch_id: int, source: str) -> set[tuple[Any, ...]]:
    if kind == "sales":
        rows = session.execute(select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units)
                               .where(Sales.batch_id == batch_id)).all()
        return {(s, r, d.isoformat(), u) for s, r, d, u in rows}
    model, columns = {
        "cases": (CaseCount, ("source_region", "day", "new_cases")),
        "livestreams": (LivestreamEvent, ("event_id", "host")),
        "promotions": (Promotion, ("promo_id", "discount")),
        "calendar": (CalendarEvent, ("name", "day")),
    }[kind]
    rows = session.execute(select(*(getattr(model, c) for c in columns)).where(model.source == source)).all()
    return {tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in rows}


def load_config(path: Path) -> tuple[str | None, set[str]]:
    """The error of loading a signals config file, or the source names it defines."""
    try:
        return None, set(load_sources(path))
    except DemandError as exc:
        return str(exc), set()


__all__ = ["FILES", "Outcome", "SIGNAL_KINDS", "load_config", "run_entry", "seed", "snapshot", "tables_present"]
