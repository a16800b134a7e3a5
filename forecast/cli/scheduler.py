"""`demand scheduler start|status|run-once` and `demand jobs`: the service that runs itself, and its history.

The `scheduler` package is imported inside the commands only (the import direction of DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
import logging

import typer
from rich.table import Column, Table

from forecast.cli.common import cli_errors, emit_json, migrated_engine, stdout
from forecast.errors import InvalidInputError
from forecast.settings import get_settings
from forecast.storage import job_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import JobRun

app = typer.Typer(help="Run the scheduler (nightly pulls, forecasts, backtests), see its state.", no_args_is_help=True)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")


def _row(run: JobRun) -> dict[str, object]:
    return {"id": run.id, "job": run.job, "scheduled_for": run.scheduled_for, "attempt": run.attempt,
            "started_at": run.started_at, "finished_at": run.finished_at, "status": run.status,
            "instance": run.instance, "rows": run.rows, "message": run.message, "error": run.error,
            "retry_at": run.retry_at, "traceback": run.traceback}


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else ""


@app.command()
@cli_errors
def start(standby: bool = typer.Option(False, "--standby", help="If another scheduler is active, wait and take "
                                       "over when its lock lapses (instead of exiting).")) -> None:
    """Run the scheduler in the foreground until SIGTERM/SIGINT (a running job stops before publishing)."""
    from scheduler.service import SchedulerService

    if get_settings().log_level is None:  # a service logs what it does, unless DEMAND_LOG_LEVEL says otherwise
        for name in ("scheduler", "forecast", "signals"):
            logging.getLogger(name).setLevel(min(logging.INFO, logging.getLogger(name).getEffectiveLevel()))
    service = SchedulerService(migrated_engine(), standby=standby)
    stdout.print(f"scheduler {service.instance}: {'standby until the lock is free' if standby else 'starting'}; "
                 "stop with Ctrl-C", highlight=False)
    outcome = service.run()
    stdout.print(f"scheduler {service.instance} {outcome}", highlight=False)
    if outcome != "stopped":
        raise typer.Exit(1)


@app.command()
@cli_errors
def status(json_output: bool = JSON_OPTION) -> None:
    """Who is active, each job's schedule and next run, and its last outcome."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from scheduler.jobs import JOBS
    from scheduler.service import schedules

    engine = migrated_engine()
    settings = get_settings()
    wanted = schedules(settings)
    stored = {job.id: job for job in SQLAlchemyJobStore(engine=engine).get_all_jobs()}
    with session_scope(engine) as session:
        holder = job_repo.lock_holder(session=session)
        last = job_repo.last_outcomes(session=session)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        active = holder is not None and holder["expires_at"].replace(tzinfo=None) > now
        payload = {
            "active": holder["owner"] if active else None,
            "lock": holder,
            "jobs": [{"job": name, "schedule": getattr(settings, f"schedule_{name}").strip() or "disabled",
                      "next_run": stored[name].next_run_time if name in stored else None,
                      "retry_at": stored[f"{name}:retry"].next_run_time if f"{name}:retry" in stored else None,
                      "last": _row(last[name]) if name in last else None} for name in JOBS],
        }
    if json_output:
        emit_json(payload)
        return
    stdout.print(f"active scheduler: {payload['active'] or 'none'}"
                 + (f" (lease renewed {_when(holder['renewed_at'])})" if active else ""), highlight=False)
    table = Table(Column("job", no_wrap=True), Column("schedule", no_wrap=True), Column("next run (UTC)", no_wrap=True),
                  Column("last", no_wrap=True), "finished", "rows", Column("message / error", ratio=1))
    for job in payload["jobs"]:
        run = job["last"] or {}
        note = run.get("error") or run.get("message") or ""
        if job["retry_at"]:
            note = f"retry at {_when(job['retry_at'])}; {note}"
        rows = "" if run.get("rows") is None else f"{run['rows']:,}"
        table.add_row(job["job"], job["schedule"], _when(job["next_run"]), run.get("status", ""),
                      _when(run.get("finished_at")), rows, note[:300])
    stdout.print(table)


@app.command("run-once")
@cli_errors
def run_once(job: str = typer.Argument(..., help="sales_pull, signals_pull, forecast, backtest, accuracy or shocks."),
             json_output: bool = JSON_OPTION) -> None:
    """Run one job now, recorded in the job history like a scheduled run (no retries)."""
    from scheduler.jobs import BODIES
    from scheduler.tracking import INSTANCE, tracked

    if job not in BODIES:
        raise InvalidInputError(f"unknown job {job!r}; choose one of {', '.join(BODIES)}")
    engine = migrated_engine()
    status_ = tracked(job, BODIES[job], engine=engine, instance=f"run-once {INSTANCE}")
    with session_scope(engine) as session:
        run = job_repo.job_runs(session=session, limit=1, job=job)[0]
        row = _row(run)
    if json_output:
        emit_json(row)
    else:
        stdout.print(f"{job}: {status_}; {row['error'] or row['message'] or ''}", highlight=False)
    if status_ not in ("succeeded", "partial"):  # partial, like `demand ingest sales`: in, with its rejects named
        raise typer.Exit(1)


def jobs(failed: bool = typer.Option(False, "--failed", help="Only open problems: failed, partial, aborted and "
                                     "abandoned attempts no later success of the same job put right (for sales_pull: "
                                     "a later pull that took new rows, none rejected)."),
         job: str | None = typer.Option(None, help="Only this job."),
         limit: int = typer.Option(30, min=1, help="How many of the newest attempts."),
         json_output: bool = JSON_OPTION) -> None:
    """The job history: each attempt's job, scheduled time, outcome, rows and error."""
    with session_scope(migrated_engine()) as session:
        runs = (job_repo.open_problems(session=session, limit=limit, job=job) if failed
                else job_repo.job_runs(session=session, limit=limit, job=job))
        rows = [_row(r) for r in runs]
    if json_output:
        emit_json(rows)
        return
    table = Table(Column("id", no_wrap=True), Column("job", no_wrap=True), Column("scheduled (UTC)", no_wrap=True),
                  "try", "took", Column("status", no_wrap=True), "rows", Column("message / error", ratio=1),
                  title="job history")
    for r in rows:
        took = f"{(r['finished_at'] - r['started_at']).total_seconds():.1f}s" if r["finished_at"] else "running"
        note = r["error"] or r["message"] or ""
        if r["retry_at"]:
            note = f"retry at {_when(r['retry_at'])}; {note}"
        table.add_row(str(r["id"]), r["job"], _when(r["scheduled_for"]), str(r["attempt"]), took, r["status"],
                      "" if r["rows"] is None else f"{r['rows']:,}", f"{note[:300]} [{r['instance']}]")
    stdout.print(table)
