"""The real scheduler, in-process, with second-level schedules on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from forecast.demo.generate import DemoScenario
from forecast.errors import InvalidInputError
from forecast.ingest import ingest_regions, ingest_skus
from forecast.pipeline.run import run_forecast
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun, SchedulerLock
from scheduler.service import SchedulerBusyError, SchedulerService, cron_trigger
from tests.scheduler.conftest import ServiceThread, job_runs, utc, wait_for


def _published_run(engine: Engine) -> int | None:
    with session_scope(engine) as session:
        return session.scalar(text("SELECT max(run_id) FROM published_forecast"))


def _master_data(engine: Engine, scenario: DemoScenario) -> None:
    with session_scope(engine) as session:
        ingest_regions(scenario.regions, session=session)
        ingest_skus(scenario.skus, session=session)


def test_a_dropped_sales_file_is_ingested_and_a_forecast_published(
        engine: Engine, small_scenario: DemoScenario, configure, tmp_path: Path) -> None:
    _master_data(engine, small_scenario)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    configure(sales_drop_dir=inbox, signals_config=Path(small_scenario.out_dir) / "signals.toml",
              schedule_sales_pull="* * * * * *", schedule_signals_pull="*/2 * * * * *",
              schedule_forecast="*/3 * * * * *", schedule_accuracy="*/5 * * * * *")
    shutil.copy(small_scenario.sales, inbox / "sales.csv.gz")
    (inbox / "broken.csv").write_bytes(b"\x00\x01\x02 not a table")
    (inbox / "still-uploading.csv.part").write_text("sku,region\n")
    with ServiceThread(engine) as running:
        wait_for(running.service.active.is_set, timeout=10, what="the scheduler to take the lock")
        run_id = wait_for(lambda: _published_run(engine), timeout=90, what="a published forecast")
        wait_for(lambda: any(r.status == "succeeded" and r.rows for r in job_runs(engine, "signals_pull")),
                 timeout=60, what="a signals pull that stored rows")
    assert running.error is None and running.outcome == "stopped"

    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["sales.csv.gz"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["broken.csv", "broken.csv.error.txt"]
    assert "broken.csv" in (inbox / "failed" / "broken.csv.error.txt").read_text()
    assert (inbox / "still-uploading.csv.part").exists()
    pulls = [r for r in job_runs(engine, "sales_pull") if r.rows]
    assert pulls and pulls[0].status == "failed" and pulls[0].error.startswith("broken.csv: ")  # rejected whole
    with session_scope(engine) as session:
        sales_rows = session.scalar(text("SELECT count(*) FROM sales"))
        run = session.get(ForecastRun, run_id)
        assert run.status == "published" and run.horizon == 7
        lock = session.get(SchedulerLock, "scheduler")
    assert pulls[0].rows == sales_rows > 0
    forecasts = [r for r in job_runs(engine, "forecast") if r.status == "succeeded"]
    assert forecasts and forecasts[0].rows == run.series_count * 7
    assert f"run {run_id} published" in forecasts[-1].message
    statuses = {r.status for r in job_runs(engine)}
    # a job cut short by the stop is recorded as aborted; the pull that rejected broken.csv failed
    assert statuses <= {"succeeded", "aborted", "failed"}, statuses
    assert {r.job for r in job_runs(engine) if r.status == "failed"} == {"sales_pull"}
    # each (job, scheduled time) ran once, by this instance
    keys = [(r.job, r.scheduled_for, r.attempt) for r in job_runs(engine)]
    assert len(keys) == len(set(keys)) and {r.instance for r in job_runs(engine)} == {running.service.instance}
    assert lock.owner == running.service.instance and utc(lock.expires_at) <= dt.datetime.now(dt.timezone.utc)


def test_an_unreachable_signal_source_is_retried_and_the_published_forecast_stays(
        loaded: Engine, configure, tmp_path: Path) -> None:
    before = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    config = tmp_path / "signals.toml"
    config.write_text('[sources.cases]\nkind = "cases"\nlocation = "http://127.0.0.1:9/cases.csv"\n'
                      'preset = "daily"\ntimeout = 1\nretries = 0\n')
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)
    later = soon + dt.timedelta(seconds=2)
    configure(signals_config=config, job_retries=2, on_input_failure="wait",
              schedule_signals_pull=f"{soon.second} {soon.minute} * * * *",
              schedule_forecast=f"{later.second} {later.minute} * * * *")
    with ServiceThread(loaded) as running:
        wait_for(lambda: len(job_runs(loaded, "signals_pull")) == 3 and len(job_runs(loaded, "forecast")) == 3
                 and all(r.finished_at for r in job_runs(loaded)), timeout=60,
                 what="three attempts of signals_pull and of forecast")
    assert running.error is None
    pulls = job_runs(loaded, "signals_pull")
    assert [r.attempt for r in pulls] == [1, 2, 3] and {r.status for r in pulls} == {"failed"}
    assert len({r.scheduled_for for r in pulls}) == 1  # retries of the same scheduled run
    assert all("cases" in r.error and "127.0.0.1" in r.error for r in pulls)
    assert pulls[0].retry_at is not None and pulls[1].retry_at is not None and pulls[2].retry_at is None
    assert utc(pulls[1].started_at) >= utc(pulls[0].retry_at)
    assert pulls[2].message == "gave up after 3 attempts"
    waits = job_runs(loaded, "forecast")
    assert [r.status for r in waits] == ["waiting", "waiting", "failed"]
    assert all("waiting for inputs: signals_pull failed" in r.error for r in waits)
    assert _published_run(loaded) == before
    with session_scope(loaded) as session:
        assert session.scalar(select(func.count()).select_from(ForecastRun)) == 1


def test_the_forecast_runs_on_the_last_good_data_and_says_so(loaded: Engine, configure, tmp_path: Path) -> None:
    from scheduler import jobs

    config = tmp_path / "signals.toml"
    config.write_text('[sources.cases]\nkind = "cases"\nlocation = "http://127.0.0.1:9/cases.csv"\n'
                      'preset = "daily"\ntimeout = 1\nretries = 0\n')
    configure(signals_config=config, job_retries=0, on_input_failure="run")
    assert jobs.signals_pull() == "failed"
    assert jobs.forecast() == "succeeded"
    last = job_runs(loaded, "forecast")[-1]
    assert "ran on the last good data: signals_pull failed" in last.message and "never succeeded" in last.message
    assert _published_run(loaded) is not None


def test_stopping_aborts_the_running_job_before_it_publishes(loaded: Engine, configure) -> None:
    before = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    configure(schedule_forecast="*/2 * * * * *", forecast_models='["AutoETS"]', forecast_horizon=28)
    with ServiceThread(loaded) as running:
        wait_for(lambda: any(r.status == "running" for r in job_runs(loaded, "forecast")), timeout=30,
                 what="the forecast job to start")
    assert running.outcome == "stopped"
    aborted = [r for r in job_runs(loaded, "forecast") if r.status != "succeeded"]
    assert aborted and aborted[0].status == "aborted" and "stop" in aborted[0].error
    assert _published_run(loaded) == before
    with session_scope(loaded) as session:
        stopped = session.scalars(select(ForecastRun).where(ForecastRun.id != before)).all()
    assert stopped and all(r.status == "failed" and "JobAborted" in r.error for r in stopped)


def test_a_second_scheduler_that_is_not_a_standby_exits_with_a_clear_message(engine: Engine, configure) -> None:
    with ServiceThread(engine) as first:
        wait_for(first.service.active.is_set, timeout=10, what="the first scheduler to take the lock")
        with pytest.raises(SchedulerBusyError, match=r"another scheduler is active on this database .*--standby"):
            SchedulerService(engine, instance="second:1").run(install_signal_handlers=False)


def test_a_standby_takes_over_when_the_active_one_stops(engine: Engine, configure) -> None:
    with ServiceThread(engine, instance="first:1") as first:
        wait_for(first.service.active.is_set, timeout=10, what="the first scheduler")
        with ServiceThread(engine, standby=True, instance="second:2") as second:
            time.sleep(3 * second.service.poll_seconds)  # the standby has tried the lock several times
            assert second.thread.is_alive() and not second.service.active.is_set()
            first.service.stop()
            wait_for(second.service.active.is_set, timeout=10, what="the standby to take over")


@pytest.mark.parametrize("expression, fires", [
    ("0 2 * * *", dt.datetime(2026, 1, 1, 2, 0, tzinfo=dt.timezone.utc)),
    ("30 */5 * * * *", dt.datetime(2026, 1, 1, 0, 5, 30, tzinfo=dt.timezone.utc)),
])
def test_cron_expressions_have_five_or_six_fields(expression: str, fires: dt.datetime) -> None:
    start = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.timezone.utc)
    assert cron_trigger(expression).get_next_fire_time(None, start) == fires


@pytest.mark.parametrize("expression, message", [("0 2 * *", "has 4 fields"), ("0 25 * * *", "schedule '0 25")])
def test_bad_cron_expressions_are_named(expression: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        cron_trigger(expression)
