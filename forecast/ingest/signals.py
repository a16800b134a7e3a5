"""Pull signal sources into bitemporal storage, keeping each raw payload so it can be replayed.

A pull fetches the source, stores the payload (unless the same content was pulled before), parses
it with the `signals` transforms and writes new versions only. `replay` parses every stored
payload of a source again, e.g. after a parser fix or a new region mapping.

A location's secrets are never stored: the payload and the batch keep `mask_location`'s form, and
`${NAME}` placeholders are read (`placeholder_environment`) only while fetching. A location larger
than DEMAND_SIGNAL_MAX_BYTES is read no further than that.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.ingest.signal_config import SourceConfig
from forecast.settings import get_settings, placeholder_environment
from forecast.storage import repo, sales_repo, signal_repo
from forecast.storage.schema import IngestBatch, Region, SignalPayload, Sku, utcnow
from signals.calendars import m5_calendar_events, parse_custom_events, public_holidays
from signals.cases import CASE_PRESETS, normalise_case_counts
from signals.errors import PayloadTooLargeError, format_bytes
from signals.livestreams import parse_livestreams
from signals.locations import mask_location
from signals.promotions import parse_promotions
from signals.sources import Payload, SignalSource, open_source, read_payload

__all__ = ["PullReport", "pull_source", "replay_source"]

logger = logging.getLogger(__name__)


@dataclass
class PullReport:
    """What one pull (or one replayed payload) did."""

    source: str
    kind: str
    status: str
    """`stored`: parsed and written; `unchanged`: same content as an earlier pull, nothing written."""
    payload_id: int
    batch_id: int | None = None
    rows_read: int = 0
    rows_rejected: int = 0
    versions_stored: int = 0
    versions_unchanged: int = 0
    unmapped: list[str] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


@dataclass
class _Parsed:
    rows_read: int
    rejected: pl.DataFrame
    write: Callable[[Session, int], tuple[int, int]]
    unmapped: list[str] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pull_source(config: SourceConfig, *, session: Session, fetcher: SignalSource | None = None) -> PullReport:
    """Fetch `config`'s source and store what is new. The caller commits.

    Raises:
        InvalidInputError / signals.errors.SignalError: the source cannot be fetched or parsed as a whole.
    """
    started = time.perf_counter()
    config.check_complete()
    payload = _fetch(config, session, fetcher)
    sha256 = hashlib.sha256(payload.content).hexdigest()
    previous = signal_repo.find_payload(session=session, source=config.name, sha256=sha256)
    if previous is not None:
        return PullReport(config.name, config.kind, "unchanged", previous.id,
                          notes=[f"same content as payload {previous.id} fetched {previous.fetched_at:%Y-%m-%d %H:%M}"],
                          seconds=round(time.perf_counter() - started, 3))
    stored = SignalPayload(source=config.name, kind=config.kind, location=mask_location(payload.location),
                           fetched_at=payload.fetched_at, sha256=sha256, format=payload.format, content=payload.content)
    session.add(stored)
    session.flush()
    report = _parse_and_store(config, stored, session)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def replay_source(config: SourceConfig, *, session: Session) -> list[PullReport]:
    """Parse every stored payload of `config`'s source again, oldest first, storing what changed."""
    return [_parse_and_store(config, payload, session)
            for payload in signal_repo.list_payloads(session=session, source=config.name)]


def _fetch(config: SourceConfig, session: Session, fetcher: SignalSource | None) -> Payload:
    if fetcher is None and config.kind == "holidays":
        years = config.years or _sales_years(session)
        content = json.dumps({"region_map": config.region_map, "years": years}, sort_keys=True).encode()
        return Payload(content=content, location="holidays package", fetched_at=utcnow(), format="json")
    cap = int(get_settings().signal_max_bytes)
    source = fetcher or open_source(config.location, timeout=config.timeout, retries=config.retries, max_bytes=cap,
                                    environ=placeholder_environment())
    try:
        return source.fetch()
    except PayloadTooLargeError as exc:
        raise InvalidInputError(f"{exc.what}; if the source really is that big, raise DEMAND_SIGNAL_MAX_BYTES "
                                f"(e.g. DEMAND_SIGNAL_MAX_BYTES={format_bytes(2 * exc.limit)})") from exc


def _sales_years(session: Session) -> list[int]:
    first, last = sales_repo.sales_span(session=session)
    if first is None:
        this_year = utcnow().year
        return [this_year, this_year + 1]
    return list(range(first.year, last.year + 2))


def _parse_and_store(config: SourceConfig, payload: SignalPayload, session: Session) -> PullReport:
    parsed = PARSERS[config.kind](config, payload, session)
    rejected = parsed.rejected
    batch = IngestBatch(kind=f"signal:{config.kind}", source=config.name, sha256=payload.sha256,
                        options=_shown_options(config), rows_total=parsed.rows_read,
                        rows_accepted=parsed.rows_read - rejected.height, rows_rejected=rejected.height,
                        status="partial" if rejected.height else "succeeded", payload_id=payload.id)
    session.add(batch)
    session.flush()
    stored, unchanged = parsed.write(session, batch.id)
    batch.rows_inserted = stored
    repo.add_rejected_rows(session=session, batch_id=batch.id, rows=rejected.select("line", "raw", "reason").rows())
    logger.info("%s: %s versions stored, %s unchanged, %s rejected", config.name, stored, unchanged, rejected.height)
    return PullReport(config.name, config.kind, "stored", payload.id, batch.id, parsed.rows_read, rejected.height,
                      stored, unchanged, parsed.unmapped, parsed.corrections, parsed.notes)


def _shown_options(config: SourceConfig) -> str:
    """The source's options as the batch keeps them: JSON, the location masked."""
    return config.model_copy(update={"location": mask_location(config.location)}).model_dump_json()


def _raw(payload: SignalPayload, config: SourceConfig) -> pl.DataFrame:
    return read_payload(Payload(content=payload.content, location=payload.location,
                                fetched_at=payload.fetched_at, format=payload.format), encoding=config.encoding)


def _known(session: Session, column: Any) -> set[str]:
    return repo.distinct_values(session=session, column=column)


def _valid_region_map(config: SourceConfig, session: Session, notes: list[str]) -> dict[str, str]:
    regions = _known(session, Region.id)
    unknown = {k: v for k, v in config.region_map.items() if v not in regions}
    for name, target in sorted(unknown.items()):
        notes.append(f"region map sends {name!r} to unknown region {target!r}; kept unmapped "
                     "(ingest the region, then `demand signals replay`)")
    identity = {r: r for r in regions}  # a source that already uses service region ids needs no map
    return identity | {k: v for k, v in config.region_map.items() if k not in unknown}


def _parse_cases(config: SourceConfig, payload: SignalPayload, session: Session) -> _Parsed:
    notes: list[str] = []
    region_map = _valid_region_map(config, session, notes)
    population = repo.region_populations(session=session)
    result = normalise_case_counts(_raw(payload, config), preset=CASE_PRESETS[config.preset or "daily"],
                                   region_map=region_map, population=population, lag_days=config.lag_days)
    without_population = sorted(set(result.cases.filter(pl.col("region").is_not_null()
                                                        & pl.col("new_cases_per_100k").is_null())["region"]))
    if without_population:
        notes.append(f"no population for {', '.join(without_population)}: per-100k left empty "
                     "(`demand ingest regions`, then `demand signals replay`)")
    corrections = result.corrections.join(result.cases.select("source_region", "day", "known_at"),
                                          on=["source_region", "day"], how="left")

    def write(session: Session, batch_id: int) -> tuple[int, int]:
        backfill = signal_repo.first_payload_id(session=session, source=config.name) == payload.id
        counts = signal_repo.write_case_counts(session=session, source=config.name, cases=result.cases,
                                               batch_id=batch_id, fetched_at=payload.fetched_at, backfill=backfill,
                                               population=population)
        signal_repo.write_corrections(session=session, source=config.name, corrections=corrections, batch_id=batch_id)
        return counts

    listed = [{"source_region": r["source_region"], "region": r["region"], "day": r["day"].isoformat(),
               "amount": r["amount"]} for r in result.corrections.iter_rows(named=True)]
    return _Parsed(result.cases.height + result.rejected.height, result.rejected, write,
                   result.unmapped, listed, notes)


def _parse_livestreams(config: SourceConfig, payload: SignalPayload, session: Session) -> _Parsed:
    raw = _raw(payload, config)
    events, rejected = parse_livestreams(raw, known_skus=_known(session, Sku.id),
                                         known_categories=_known(session, Sku.category),
                                         known_regions=_known(session, Region.id))
    return _Parsed(raw.height, rejected, lambda s, b: signal_repo.write_livestreams(
        session=s, source=config.name, events=events, batch_id=b))


def _parse_promotions(config: SourceConfig, payload: SignalPayload, session: Session) -> _Parsed:
    raw = _raw(payload, config)
    promotions, rejected = parse_promotions(raw, known_skus=_known(session, Sku.id),
                                            known_regions=_known(session, Region.id), lead_days=config.lead_days)
    return _Parsed(raw.height, rejected, lambda s, b: signal_repo.write_promotions(
        session=s, source=config.name, promotions=promotions, batch_id=b))


def _parse_holidays(config: SourceConfig, payload: SignalPayload, session: Session) -> _Parsed:
    spec = json.loads(payload.content)
    calendar = public_holidays(spec["region_map"], spec["years"])
    return _Parsed(calendar.height, _no_rejects(), lambda s, b: signal_repo.write_calendar(
        session=s, source=config.name, calendar=calendar, batch_id=b))


def _parse_calendar(config: SourceConfig, payload: SignalPayload, session: Session) -> _Parsed:
    raw = _raw(payload, config)
    if config.preset == "m5":
        calendar, rejected = m5_calendar_events(raw, state_regions=config.region_map), _no_rejects()
    else:
        calendar, rejected = parse_custom_events(raw)
    regions = _known(session, Region.id)
    unknown = sorted(set(calendar["region"].drop_nulls()) - regions)
    notes = [f"calendar rows for unknown region(s) {', '.join(unknown[:5])} were skipped; map them with "
             "--map CODE=REGION or ingest those regions"] if unknown else []
    calendar = calendar.filter(pl.col("region").is_null() | pl.col("region").is_in(sorted(regions)))
    return _Parsed(raw.height, rejected, lambda s, b: signal_repo.write_calendar(
        session=s, source=config.name, calendar=calendar, batch_id=b), notes=notes)


def _no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={"line": pl.Int64, "raw": pl.String, "reason": pl.String})


PARSERS: dict[str, Callable[[SourceConfig, SignalPayload, Session], _Parsed]] = {
    "cases": _parse_cases,
    "livestreams": _parse_livestreams,
    "promotions": _parse_promotions,
    "holidays": _parse_holidays,
    "calendar": _parse_calendar,
}
