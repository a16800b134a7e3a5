"""Root of the `demand` command: sub-commands, logging set-up and `demand summary`."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

import typer
from rich.table import Table

from forecast.cli import backtest, dashboard, db, demo, forecast, ingest, scheduler, signals, users
from forecast.cli.common import cli_errors, emit_json, migrated_engine, stdout
from forecast.features import read_sales
from forecast.pipeline.series_report import shapes_report
from forecast.settings import get_settings
from forecast.storage import repo
from forecast.storage.engine import session_scope

app = typer.Typer(
    name="demand",
    help="Demand forecasting service with external signals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(ingest.app, name="ingest")
app.add_typer(signals.app, name="signals")
app.add_typer(forecast.app, name="forecast")
app.add_typer(backtest.app, name="backtest")
app.add_typer(demo.app, name="demo")
app.add_typer(scheduler.app, name="scheduler")
app.add_typer(users.app, name="users")
app.command("jobs")(cli_errors(scheduler.jobs))
app.command("dashboard")(dashboard.dashboard)


SERVICE_LOGGERS = ("forecast", "signals", "scheduler", "dashboard")
"""The service's own loggers; `DEMAND_LOG_LEVEL` and `-v` set their level (other libraries log warnings)."""


def configure_logging(*, verbose: bool = False) -> int:
    """Send log lines to stderr and set the service's loggers' level; return that level.

    `-v` logs everything (DEBUG, other libraries' lines too); else `DEMAND_LOG_LEVEL` when it is set;
    else warnings and errors only (`demand scheduler start` then raises its own lines to INFO).

    Raises:
        SettingsError: a malformed `DEMAND_*` value.
    """
    chosen = get_settings().log_level
    level = logging.DEBUG if verbose else getattr(logging, chosen) if chosen else logging.WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in SERVICE_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


@app.callback()
@cli_errors
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log everything to stderr (DEBUG); "
                                       "DEMAND_LOG_LEVEL sets the level without it.")) -> None:
    configure_logging(verbose=verbose)


@app.command()
@cli_errors
def summary(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """What is stored: SKUs, regions, sales rows and their date range, batches; and the feed's shape at
    the newest sales day (late, inactive, series with days not reported)."""
    with session_scope(migrated_engine()) as session:
        counts = repo.storage_summary(session=session)
        last = repo.last_sales_day(session=session)
        shapes = None if last is None else shapes_report(read_sales(session=session, cutoff=last).shapes)
    if json_output:
        emit_json({**counts, "series_shapes": shapes})
        return
    table = Table("what", "value", title="stored")
    for key, value in counts.items():
        table.add_row(key.replace("_", " "), f"{value:,.0f}" if isinstance(value, int | float) else str(value))
    stdout.print(table)
    if shapes is not None:
        _print_shapes(shapes, last)


def _print_shapes(shapes: dict[str, Any], last: dt.date) -> None:
    """The feed's shape at `last`: series by status, then the late, inactive and holed series (10 of each)."""
    counts = ", ".join(f"{n:,} {status}" for status, n in shapes["series"].items())
    stdout.print(f"series at {last:%d %b %Y}: {counts}; "
                 f"{len(shapes['with_unknown_days']):,} with days not reported", highlight=False)
    listed = (("late", "days_late", "days late (forecast from their own last day)"),
              ("inactive", "days_without_sale", "days without a sale (forecast zero)"),
              ("with_unknown_days", "unknown_days", "days not reported (holes)"))
    for key, days, what in listed:
        rows = shapes[key]
        if not rows:
            continue
        table = Table("SKU", "region", what, title=f"{key.replace('_', ' ')} ({len(rows):,})")
        for row in rows[:10]:
            table.add_row(row["sku"], row["region"], f"{row[days]:,}")
        if len(rows) > 10:
            table.add_row("…", "", f"{len(rows) - 10:,} more (demand summary --json)")
        stdout.print(table)


def main() -> None:
    """Console-script entry point."""
    # OpenMP threads that spin while waiting make two xgboost processes 30x slower on 2 cores.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app()


if __name__ == "__main__":
    main()
