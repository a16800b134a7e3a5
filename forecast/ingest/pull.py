"""Sales pulls for the scheduler: a drop folder of files, or a query against a source database.

Both end in `ingest_sales`, one batch per file (or per query result), so a pull is idempotent by
content and a bad file is rejected whole with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, create_engine

from forecast.errors import InvalidInputError
from forecast.ingest.mapping import ColumnMapping
from forecast.ingest.sales import ingest_sales
from forecast.settings import normalise_database_url
from forecast.storage.engine import session_scope

__all__ = ["PullReport", "pull_drop_folder", "pull_sql_query"]

logger = logging.getLogger(__name__)

SKIPPED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
"""Names of files still being written; a writer should rename them when they are complete."""


@dataclass
class PullReport:
    """What one sales pull did."""

    files: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    batches: list[int] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """File name -> the one-line reason it was rejected (it is in failed/ with that reason beside it)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the job history."""
        text = f"{self.files} file(s), {self.rows_accepted:,} rows accepted, {self.rows_rejected:,} rejected"
        if self.failed:
            text += "; rejected whole: " + "; ".join(f"{name}: {why}" for name, why in self.failed.items())
        return text


def _move(path: Path, folder: Path) -> Path:
    """Move `path` into `folder`, adding a UTC time stamp to the name when it is taken."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}{path.suffix}"
    return Path(shutil.move(path, target))


def pull_drop_folder(folder: Path, engine: Engine, *, mapping: ColumnMapping, absent: str = "auto") -> PullReport:
    """Ingest every complete file in `folder`, oldest first; move each to processed/ or failed/.

    `absent` is each file's absent-days policy (`ingest_sales`). A file rejected as a whole goes to
    failed/ with `<name>.error.txt` holding the reason. An error
    that is not the file's fault (the database is away) leaves the file where it is and is raised,
    so the next attempt takes it again.

    Raises:
        InvalidInputError: `folder` does not exist.
    """
    if not folder.is_dir():
        raise InvalidInputError(f"sales drop folder {folder} does not exist; create it or fix DEMAND_SALES_DROP_DIR")
    report = PullReport()
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and not p.name.endswith(SKIPPED_SUFFIXES)), key=lambda p: (p.stat().st_mtime, p.name))
    for path in files:
        report.files += 1
        try:
            with session_scope(engine) as session:
                result = ingest_sales(path, session=session, mapping=mapping, absent=absent)
        except InvalidInputError as exc:
            moved = _move(path, folder / "failed")
            moved.with_name(moved.name + ".error.txt").write_text(f"{exc}\n", encoding="utf-8")
            report.failed[path.name] = str(exc)
            logger.warning("sales file %s rejected: %s", path.name, exc)
            continue
        _move(path, folder / "processed")
        if not result.already_ingested:
            report.batches.append(result.batch_id)
            report.rows_accepted += result.rows_accepted
            report.rows_rejected += result.rows_rejected
    return report


def pull_sql_query(url: str, query: str, engine: Engine, *, mapping: ColumnMapping,
                   absent: str = "auto") -> PullReport:
    """Run `query` on the source database at `url` and ingest its result as one sales batch.

    The result is written to a CSV first, so the same result twice is recognised by its content.

    Raises:
        InvalidInputError: the query returns no rows (an empty result is never taken as "no sales").
    """
    source = create_engine(normalise_database_url(url), pool_pre_ping=True)
    try:
        with source.connect() as conn:
            frame = pl.read_database(query, conn, infer_schema_length=None)
    finally:
        source.dispose()
    if frame.is_empty():
        raise InvalidInputError("the sales query returned no rows; check DEMAND_SALES_SQL_QUERY")
    report = PullReport(files=1)
    with tempfile.TemporaryDirectory(prefix="demand-sql-") as tmp:
        path = Path(tmp) / "sales-query.csv"
        frame.write_csv(path)
        with session_scope(engine) as session:
            result = ingest_sales(path, session=session, mapping=mapping, absent=absent)
    if not result.already_ingested:
        report.batches.append(result.batch_id)
        report.rows_accepted, report.rows_rejected = result.rows_accepted, result.rows_rejected
    return report
