"""`demand forecast scenario`: what-if forecasts for a planned livestream or a case trajectory."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import typer
from rich.table import Table

from forecast.cli.common import cli_errors, emit_json, migrated_engine, progress_bar, stdout
from forecast.errors import InvalidInputError
from forecast.storage import scenario_repo
from forecast.storage.engine import session_scope

app = typer.Typer(help="What-if forecasts: a planned livestream or a case-count trajectory, with and without. "
                       "The published forecast is never touched.", no_args_is_help=True)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")
HORIZON = typer.Option(28, help="Days to forecast.")
MODEL = typer.Option("XGBoost", help="A model that reads the signals: XGBoost, Prophet, ARIMA or AutoARIMA.")
CUTOFF = typer.Option(None, help="Last day of history, YYYY-MM-DD (default: the last sales day).")
NAME = typer.Option(None, help="A name to find the scenario by (default: made from the plan).")
BY = typer.Option(None, "--by", help="Who asks (default: the login name).")
N_JOBS = typer.Option(1, min=1, max=8, help="Worker processes for the model libraries.")


def _day(value: str | None, option: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInputError(f"{option} {value!r} is not a date; use YYYY-MM-DD") from None


def _run(plan: Any, *, horizon: int, model: str, cutoff: str | None, name: str | None, by: str | None,
         n_jobs: int, json_output: bool) -> None:
    from forecast.scenarios import run_scenario

    engine = migrated_engine()
    with progress_bar(enabled=not json_output) as update:
        report = run_scenario(engine, plan, horizon=horizon, model=model, cutoff=_day(cutoff, "--cutoff"), name=name,
                              created_by=by, n_jobs=n_jobs, progress=update)
    if json_output:
        emit_json(report.to_dict())
        return
    share = report.uplift_units / report.baseline_units if report.baseline_units else 0.0
    stdout.print(f"scenario {report.scenario_id} ({report.name}): {report.series} series x {report.horizon} days with "
                 f"{report.model} from cutoff {report.cutoff} in {report.seconds:.1f}s; {report.baseline_units:,.0f} "
                 f"units without, {report.scenario_units:,.0f} with: {report.uplift_units:+,.0f} ({share:+.1%})",
                 highlight=False)
    table = Table("region", "extra units", title="uplift by region")
    for region, units in report.uplift_by_region.items():
        table.add_row(region, f"{units:+,.1f}")
    stdout.print(table)


@app.command()
@cli_errors
def livestream(
    host: str = typer.Option(..., help="The host's name."),
    start: str = typer.Option(..., help="Start time, ISO 8601 with offset, e.g. 2026-01-10T19:00:00+08:00."),
    sku: list[str] = typer.Option([], "--sku", help="A featured SKU (repeatable); or give --category."),
    category: str | None = typer.Option(None, help="Feature a whole category (when no --sku)."),
    region: list[str] = typer.Option([], "--region", help="A region it airs in (repeatable; default: every region)."),
    viewers: int = typer.Option(0, min=0, help="Expected viewers."),
    hours: float = typer.Option(2.0, help="Length of the stream in hours."),
    discount: float = typer.Option(0.0, min=0.0, max=1.0, help="Discount on air, 0..1."),
    platform: str | None = typer.Option(None, help="Platform name."),
    horizon: int = HORIZON, model: str = MODEL, cutoff: str | None = CUTOFF, name: str | None = NAME,
    by: str | None = BY, n_jobs: int = N_JOBS, json_output: bool = JSON_OPTION,
) -> None:
    """Forecast with and without a planned livestream and store both with the uplift per day."""
    from forecast.scenarios import LivestreamPlan

    plan = LivestreamPlan(host=host, start=start, skus=tuple(sku), regions=tuple(region), expected_viewers=viewers,
                          hours=hours, discount=discount, category=category, platform=platform)
    _run(plan, horizon=horizon, model=model, cutoff=cutoff, name=name, by=by, n_jobs=n_jobs, json_output=json_output)


@app.command()
@cli_errors
def cases(
    trajectory: str = typer.Option(..., help="rising or falling (the baseline holds the last known level)."),
    weekly_rate: float = typer.Option(0.3, help="Growth or decline per week, in (0, 1]."),
    region: list[str] = typer.Option([], "--region", help="A region it applies to (repeatable; default: every region)."),
    horizon: int = HORIZON, model: str = MODEL, cutoff: str | None = CUTOFF, name: str | None = NAME,
    by: str | None = BY, n_jobs: int = N_JOBS, json_output: bool = JSON_OPTION,
) -> None:
    """Forecast with the case counts rising or falling instead of holding, and store both with the uplift."""
    from forecast.scenarios import CasePlan

    plan = CasePlan(trajectory=trajectory, weekly_rate=weekly_rate, regions=tuple(region))
    _run(plan, horizon=horizon, model=model, cutoff=cutoff, name=name, by=by, n_jobs=n_jobs, json_output=json_output)


def _summary(s: Any) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "kind": s.kind, "status": s.status, "created_at": s.created_at,
            "created_by": s.created_by, "cutoff": s.cutoff, "horizon": s.horizon, "model": s.model,
            "series": s.series_count, "seconds": s.duration_seconds, "base_run_id": s.base_run_id, "plan": s.plan,
            "error": s.error}


@app.command("list")
@cli_errors
def list_(limit: int = typer.Option(20, min=1), json_output: bool = JSON_OPTION) -> None:
    """Stored scenarios, newest first."""
    with session_scope(migrated_engine()) as session:
        rows = [_summary(s) for s in scenario_repo.list_scenarios(session=session, limit=limit)]
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "status", "kind", "name", "created", "by", "cutoff", "model", "series")
    for r in rows:
        table.add_row(str(r["id"]), r["status"], r["kind"], r["name"], f"{r['created_at']:%Y-%m-%d %H:%M}",
                      r["created_by"], str(r["cutoff"]), r["model"], str(r["series"]))
    stdout.print(table if rows else "no scenarios yet; make one with `demand forecast scenario livestream` or `cases`")


@app.command()
@cli_errors
def show(scenario_id: int = typer.Argument(..., help="Scenario id (see `list`)."),
         daily: bool = typer.Option(False, "--daily", help="One row per SKU x region x day instead of per day."),
         json_output: bool = JSON_OPTION) -> None:
    """A stored scenario: its plan and its forecast with and without it."""
    with session_scope(migrated_engine()) as session:
        scenario = _summary(scenario_repo.get_scenario(session=session, scenario_id=scenario_id))
        values = scenario_repo.read_scenario_values(session=session, scenario_id=scenario_id)
    if json_output:
        emit_json({**scenario, "values": values.with_columns(pl.col("day").cast(pl.String)).to_dicts()})
        return
    stdout.print(f"scenario {scenario['id']} {scenario['status']}: {scenario['name']} ({scenario['model']}, cutoff "
                 f"{scenario['cutoff']}, {scenario['series']} series; plan {scenario['plan']})", highlight=False)
    if scenario["error"]:
        stdout.print(f"error: {scenario['error']}", markup=False)
    if daily:
        table = Table("sku", "region", "day", "without", "with", "80% interval", "uplift")
        for r in values.iter_rows(named=True):
            table.add_row(r["sku_id"], r["region_id"], str(r["day"]), f"{r['baseline_yhat']:.1f}", f"{r['yhat']:.1f}",
                          f"{r['lo80']:.1f} – {r['hi80']:.1f}", f"{r['uplift']:+.1f}")
    else:
        per_day = values.group_by("day").agg(pl.col("baseline_yhat", "yhat", "uplift").sum()).sort("day")
        table = Table("day", "without", "with", "uplift", title="all affected series")
        for day, base, yhat, uplift in per_day.iter_rows():
            table.add_row(str(day), f"{base:,.1f}", f"{yhat:,.1f}", f"{uplift:+,.1f}")
    stdout.print(table)
