"""`demand ingest`: sales files, master data, batches and their rejected rows."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from forecast.cli.common import cli_errors, emit_json, migrated_engine, progress_bar, stdout
from forecast.errors import InvalidInputError
from forecast.ingest import ingest_regions, ingest_sales, ingest_skus, resolve_mapping
from forecast.ingest.mapping import PRESETS
from forecast.storage import repo
from forecast.settings import get_settings
from forecast.storage.engine import session_scope

app = typer.Typer(help="Load sales and master data files; inspect batches and rejected rows.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")
ENCODING_OPTION = typer.Option("utf-8", help="Text encoding of CSV files, e.g. latin-1.")


@app.command()
@cli_errors
def sales(
    path: Path = typer.Argument(..., help="CSV, CSV.gz or Parquet file."),
    preset: str | None = typer.Option(None, help=f"Named layout: {', '.join(PRESETS)}."),
    mapping: list[str] = typer.Option([], help="CANONICAL=COLUMN (repeatable); attr.NAME=COLUMN for SKU attributes."),
    date_format: str | None = typer.Option(None, help="strftime format of the day column (default %Y-%m-%d)."),
    region: str | None = typer.Option(None, help="The region of every row, for a file without a region column "
                                      "(one shop, an online store)."),
    encoding: str = ENCODING_OPTION,
    delimiter: str = typer.Option(",", help="CSV field separator."),
    force: bool = typer.Option(False, help="Ingest even if the same content was ingested before."),
    absent: str | None = typer.Option(
        None, help="What a day without a row means: zero (the feed writes only days with a sale), unknown (not "
        "reported) or auto (unknown when the file has rows with 0 units, else zero). Default: DEMAND_SALES_ABSENT_DAYS, auto."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Load a sales file. Bad rows are quarantined; a bad file is rejected whole (exit 2)."""
    column_mapping = resolve_mapping(preset, mapping, date_format, region=region)
    engine = migrated_engine()
    with progress_bar(enabled=not json_output) as update, session_scope(engine) as session:
        report = ingest_sales(path, session=session, mapping=column_mapping, encoding=encoding,
                              delimiter=delimiter, force=force, absent=absent or get_settings().sales_absent_days,
                              progress=update)
    if json_output:
        emit_json(report.to_dict())
        return
    if report.already_ingested:
        stdout.print(f"{path.name}: already ingested as batch {report.batch_id} (same content); nothing changed. "
                     "Use --force to ingest it again.", highlight=False)
        return
    stdout.print(
        f"batch {report.batch_id}: {report.rows_accepted:,} rows accepted ({report.rows_inserted:,} new, "
        f"{report.rows_updated:,} changed), {report.rows_rejected:,} rejected; "
        f"{report.skus_created} new SKUs, {report.regions_created} new regions in {report.seconds:.1f}s; "
        f"absent days count as {'no sale' if report.absent == 'zero' else 'not reported'} ({report.absent})",
        highlight=False,
    )
    if report.rows_rejected:
        stdout.print(f"{report.rows_rejected:,} rows were quarantined; list them with "
                     f"`demand ingest rejected {report.batch_id}`", highlight=False)


@app.command()
@cli_errors
def regions(path: Path = typer.Argument(..., help="CSV with region, name, parent, population."),
            encoding: str = ENCODING_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Create or update regions (hierarchy and population)."""
    with session_scope(migrated_engine()) as session:
        created = ingest_regions(path, session=session, encoding=encoding)
    emit_json({"regions_created": created}) if json_output else stdout.print(f"{created} new regions")


@app.command()
@cli_errors
def skus(path: Path = typer.Argument(..., help="CSV with sku, name, category; other columns become attributes."),
         encoding: str = ENCODING_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Create or update SKUs (category and attributes)."""
    with session_scope(migrated_engine()) as session:
        created = ingest_skus(path, session=session, encoding=encoding)
    emit_json({"skus_created": created}) if json_output else stdout.print(f"{created} new SKUs")


@app.command()
@cli_errors
def batches(limit: int = typer.Option(20, min=1, help="How many of the newest batches."),
            json_output: bool = JSON_OPTION) -> None:
    """List ingest batches, newest first."""
    with session_scope(migrated_engine()) as session:
        rows = [
            {"id": b.id, "kind": b.kind, "source": b.source, "received_at": b.received_at, "status": b.status,
             "rows_accepted": b.rows_accepted, "rows_rejected": b.rows_rejected, "rows_inserted": b.rows_inserted,
             "rows_updated": b.rows_updated, "sha256": b.sha256}
            for b in repo.list_batches(session=session, limit=limit)
        ]
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "kind", "received", "status", "accepted", "rejected", "new", "changed", "source")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], f"{r['received_at']:%Y-%m-%d %H:%M}", r["status"],
                      f"{r['rows_accepted']:,}", f"{r['rows_rejected']:,}", f"{r['rows_inserted']:,}",
                      f"{r['rows_updated']:,}", r["source"])
    stdout.print(table)


@app.command()
@cli_errors
def rejected(batch: int = typer.Argument(..., help="Batch id (see `demand ingest batches`)."),
             limit: int = typer.Option(100, min=1, help="Show at most this many rows."),
             json_output: bool = JSON_OPTION) -> None:
    """List the quarantined rows of a batch with their reasons."""
    with session_scope(migrated_engine()) as session:
        if repo.get_batch(session=session, batch_id=batch) is None:
            raise InvalidInputError(f"no batch {batch}; list batches with `demand ingest batches`")
        rows = [{"line": r.line, "reason": r.reason, "raw": json.loads(r.raw)}
                for r in repo.list_rejected_rows(session=session, batch_id=batch, limit=limit)]
    if json_output:
        emit_json(rows)
        return
    table = Table("line", "reason", "row as read")
    for r in rows:
        table.add_row(str(r["line"]), r["reason"], json.dumps(r["raw"], ensure_ascii=False))
    stdout.print(table if rows else f"batch {batch} has no rejected rows")
