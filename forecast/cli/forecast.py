"""`demand forecast`: run, list and show forecasts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import polars as pl
import typer
from rich.table import Table

from forecast.cli import scenario
from forecast.cli.common import (DASK_ADDRESS_OPTION, ENGINE_OPTION, cli_errors, emit_json, execution_options,
                                 migrated_engine, progress_bar, stdout)
from forecast.errors import InvalidInputError
from forecast.settings import get_settings
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope

if TYPE_CHECKING:
    from forecast.pipeline.run_report import Fallback, RunReport, SeriesShapes

app = typer.Typer(help="Forecast every SKU x region, publish the run, inspect runs, try scenarios.", no_args_is_help=True)
app.add_typer(scenario.app, name="scenario")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")


@app.command()
@cli_errors
def run(
    horizon: int = typer.Option(28, help="Days to forecast."),
    models: list[str] = typer.Option(["auto"], "--models", help="Model names (repeatable) or auto."),
    cutoff: str | None = typer.Option(None, help="Last day of history to use, YYYY-MM-DD (default: the last sales day)."),
    n_jobs: int = typer.Option(1, min=1, max=8, help="Worker processes for the model libraries."),
    publish: bool = typer.Option(True, help="Publish the run (--no-publish leaves it a draft)."),
    from_backtest: str | None = typer.Option(None, help="`latest` or a backtest id: each series it scored gets "
                                             "its best model there (the others use --models)."),
    ensemble: str | None = typer.Option(None, help="With --from-backtest: combine each series' best few, "
                                        "`inverse_error` or `median`."),
    ensemble_size: int = typer.Option(3, help="Members of each series' ensemble."),
    reselect_days: int | None = typer.Option(None, min=0, help="Keep the model choices of a run with the same "
                                             "models made at most this many days before, choosing again only the "
                                             "slice of series (one in this many) whose turn it is "
                                             "(default DEMAND_FORECAST_RESELECT_DAYS, 7; 0: choose again)."),
    refit_days: int | None = typer.Option(None, min=0, help="Forecast XGBoost, and AutoETS/AutoTheta per series, from "
                                          "the fits of runs with the same models made at most this many days before, "
                                          "with the new days appended, instead of refitting "
                                          "(default DEMAND_FORECAST_REFIT_DAYS, 7; 0: refit everything)."),
    reconcile: str | None = typer.Option(None, help="Reconcile the forecasts with the category, region and total "
                                         "levels: auto (the method the newest reconciled backtest scored best), "
                                         "bottom_up, mint_ols, mint_wls_struct, or off "
                                         "(default DEMAND_FORECAST_RECONCILE, auto)."),
    cold_start: bool | None = typer.Option(None, "--cold-start/--no-cold-start", help="Forecast SKUs without sales "
                                           "that a livestream features, and blend short histories, from similar "
                                           "SKUs (default DEMAND_FORECAST_COLD_START, on)."),
    shock: bool | None = typer.Option(None, "--shock/--no-shock", help="Check every region for a regional shock "
                                      "and widen flagged regions' bands (with DEMAND_SHOCK_WINDOW_DAYS, also fit "
                                      "them on recent days only) (default DEMAND_FORECAST_SHOCK_POLICY, on)."),
    engine: str = ENGINE_OPTION,
    dask_address: str | None = DASK_ADDRESS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Fit, forecast and publish one run from the stored sales and signals known at the cutoff."""
    from forecast.pipeline.run import RunOptions, run_forecast

    execution, address = execution_options(engine, dask_address)
    options = RunOptions.from_settings(
        get_settings(), horizon=horizon, models=models, cutoff=_day(cutoff, "--cutoff"), n_jobs=n_jobs,
        publish=publish, from_backtest=_backtest_id(from_backtest), ensemble=ensemble, ensemble_size=ensemble_size,
        execution=execution, dask_address=address, reselect_days=reselect_days, refit_days=refit_days,
        reconcile=reconcile, cold_start=cold_start, shock=shock)
    database = migrated_engine()
    with progress_bar(enabled=not json_output) as update:
        report = run_forecast(database, options, progress=update)
    if json_output:
        emit_json(report.to_dict())
        return
    used = ", ".join(f"{m} {n}" for m, n in report.models.items())
    stdout.print(f"run {report.run_id} {report.status}: {report.series} series x {report.horizon} days "
                 f"= {report.rows:,} rows from cutoff {report.cutoff} in {report.seconds:.1f}s; models: {used}"
                 f"{_how(report)}", highlight=False, markup=False)
    for line in _feed_lines(report.series_shapes, report.fallbacks):
        stdout.print(line, highlight=False, markup=False)


def _how(report: RunReport) -> str:
    """How the run chose, reused, started, widened and reconciled its forecasts, as `; `-separated clauses."""
    chose = report.selection
    how = (f"; choices of run {chose.reused_from} (the oldest made on {chose.made_on}) kept for "
           f"{chose.series_reused} series, {chose.series_selected} chosen on a holdout"
           if chose is not None and chose.reused_from else "")
    how += "".join(f"; {family}: model of run {r.model_of_run} (fitted through {r.trained_through}) updated, "
                   "not refitted" for family, r in report.refits.items() if not r.refitted)
    how += "".join(f"; {family}: {r.series_forwarded} series forecast from kept fits, {r.series_refitted} refitted"
                   for family, r in report.refits.items() if r.series_forwarded)
    cold = report.cold_start
    if cold is not None and (cold.new_series or cold.blended_series):
        how += (f"; cold start: {cold.new_series} new series from similar SKUs, "
                f"{cold.blended_series} short ones blended")
    if report.shock is not None and report.shock.regions:
        rules = report.shock.rules
        memory = f"fit on the last {rules.window} days, " if rules.window else ""
        how += f"; regional shock in {', '.join(report.shock.regions)}: {memory}bands x{rules.band_factor:g}"
    if report.reconciliation is not None:
        how += (f"; reconciled with {report.reconciliation.nodes} category/region/total nodes by "
                f"{report.reconciliation.method} ({report.reconciliation.chosen_by})")
    return how


def _feed_lines(shapes: SeriesShapes | None, fallbacks: list[Fallback]) -> list[str]:
    """What the run did about the feed's shape and failed families, one line each (five series named at most)."""
    def named(rows: list[dict[str, Any]], days: str) -> str:
        shown = ", ".join(f"{r['sku']} × {r['region']} ({r[days]} d)" for r in rows[:5])
        return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")

    lines = []
    if shapes is not None and shapes.late:
        lines.append(f"{len(shapes.late)} late series, forecast from their own last day: "
                     f"{named(shapes.late, 'days_late')}")
    if shapes is not None and shapes.inactive:
        lines.append(f"{len(shapes.inactive)} inactive series (no sale for a long time), forecast zero: "
                     f"{named(shapes.inactive, 'days_without_sale')}")
    if shapes is not None and shapes.with_unknown_days:
        lines.append(f"{len(shapes.with_unknown_days)} series with days not reported: "
                     f"{named(shapes.with_unknown_days, 'unknown_days')}")
    lines += [f"{f.family} failed on {f.series} series ({', '.join(f.models)}); {f.fallback} "
              f"forecast them instead: {f.reason}" for f in fallbacks]
    return lines


def _day(value: str | None, option: str) -> dt.date | None:
    """`value` as a date (None stays None)."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInputError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def _backtest_id(value: str | None) -> int | str | None:
    if value is None or value == "latest":
        return value
    if not value.isdigit():
        raise InvalidInputError(f"--from-backtest {value!r} is neither `latest` nor a backtest id")
    return int(value)


@app.command()
@cli_errors
def runs(limit: int = typer.Option(20, min=1), json_output: bool = JSON_OPTION) -> None:
    """List forecast runs, newest first."""
    with session_scope(migrated_engine()) as session:
        rows = [{"id": r.id, "kind": r.kind, "status": r.status, "created_at": r.created_at, "cutoff": r.cutoff,
                 "horizon": r.horizon, "series": r.series_count, "seconds": r.duration_seconds,
                 "published_at": r.published_at, "code_version": r.code_version, "error": r.error}
                for r in forecast_repo.list_runs(session=session, limit=limit)]
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "status", "created", "cutoff", "horizon", "series", "seconds", "error")
    for r in rows:
        table.add_row(str(r["id"]), r["status"], f"{r['created_at']:%Y-%m-%d %H:%M}", str(r["cutoff"]),
                      str(r["horizon"]), str(r["series"]), f"{r['seconds'] or 0:.1f}", (r["error"] or "")[:60])
    stdout.print(table if rows else "no forecast runs yet; run `demand forecast run`")


@app.command()
@cli_errors
def explain(sku: str = typer.Argument(...), region: str = typer.Argument(...),
            run: int | None = typer.Option(None, help="The run to explain (default: the one published for the series)."),
            against: int | None = typer.Option(None, help="The run to compare with (default: the newest earlier run "
                                               "that forecast the series)."),
            json_output: bool = JSON_OPTION) -> None:
    """Why this run's forecast of SKU in REGION differs from the run before: new actuals, a signal, a model
    switch, an override."""
    from forecast.pipeline.explain import explain_change

    with session_scope(migrated_engine()) as session:
        explanation = explain_change(session=session, sku=sku, region=region, run_id=run, against=against)
    if json_output:
        emit_json(explanation.to_dict())
        return
    stdout.print(explanation.headline(), highlight=False)
    for reason in explanation.reasons:
        stdout.print(f"  - {reason['kind']}: {reason['what']}", highlight=False, markup=False)
    if explanation.previous_run is not None and not explanation.reasons:
        stdout.print("  - no new actuals, signal change, model switch or override found", highlight=False)


@app.command()
@cli_errors
def shocks(cutoff: str | None = typer.Option(None, help="Day to check, YYYY-MM-DD (default: the last sales day)."),
           json_output: bool = JSON_OPTION) -> None:
    """Check every region for a regional shock (case counts rising fast, or many forecasts breaking out of
    their bands), store the flags and print them; thresholds are the DEMAND_SHOCK_* settings."""
    from forecast.pipeline.shock import ShockRules, check_shocks_at

    checks = check_shocks_at(migrated_engine(), rules=ShockRules.from_settings(get_settings()),
                             cutoff=_day(cutoff, "--cutoff"))
    if json_output:
        emit_json(checks.with_columns(pl.col(pl.Date).cast(pl.String)).to_dicts())
        return
    flagged = checks.filter("active")
    stdout.print(f"{checks.height} regions checked; flagged: {', '.join(flagged['region']) or 'none'}", highlight=False)
    for r in checks.filter(pl.col("reason") != "").iter_rows(named=True):
        state = "cleared" if not r["active"] else f"flagged since {r['raised_on']}"
        stdout.print(f"  - {r['region']} {state}: {r['reason']}", highlight=False, markup=False)


@app.command()
@cli_errors
def show(sku: str = typer.Argument(...), region: str = typer.Argument(...), json_output: bool = JSON_OPTION) -> None:
    """The published forecast of one SKU in one region."""
    with session_scope(migrated_engine()) as session:
        frame = forecast_repo.read_published(session=session, sku=sku, region=region)
    if frame.is_empty():
        raise InvalidInputError(f"no published forecast for SKU {sku!r} in region {region!r}; "
                                "check the ids or run `demand forecast run`")
    if json_output:
        emit_json(frame.with_columns(pl.col("day").cast(pl.String)).to_dicts())
        return
    table = Table("day", "yhat", "80% interval", "95% interval", "model", title=f"{sku} in {region}, run {frame['run_id'][0]}")
    for r in frame.iter_rows(named=True):
        table.add_row(str(r["day"]), f"{r['yhat']:.1f}", f"{r['lo80']:.1f} – {r['hi80']:.1f}",
                      f"{r['lo95']:.1f} – {r['hi95']:.1f}", r["model"])
    stdout.print(table)
