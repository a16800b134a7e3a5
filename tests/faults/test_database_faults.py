"""The database going away, filling up or turning read-only mid-job: a clear error, nothing lost,
the published forecast untouched, and a later run that succeeds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import psycopg
import pytest
from sqlalchemy import Engine, func, make_url, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings
from forecast.storage import forecast_repo
from forecast.storage.engine import make_engine, session_scope
from forecast.storage.integrity import check_integrity
from forecast.storage.schema import ForecastRun, JobRun, Sales, Sku
from scheduler import jobs
from tests.conftest import IN_CI
from tests.scheduler.conftest import configure  # noqa: F401 - a fixture


def _published(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session)


def _consistent(engine: Engine) -> None:
    with session_scope(engine) as session:
        report = check_integrity(session=session)
    assert report.ok, report.problems


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_dropped_connection_fails_the_job_clearly_and_the_retry_succeeds(loaded: Engine, db_url: str,
                                                                            configure) -> None:  # noqa: F811
    before = _published(run_forecast(loaded, horizon=7, models=["SeasonalNaive"]) and loaded)
    configure(job_retries=0)
    admin = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    holder = psycopg.connect(admin)
    holder.execute("LOCK TABLE published_series IN EXCLUSIVE MODE")  # the job will wait inside its publish
    outcome: list[str] = []
    job = threading.Thread(target=lambda: outcome.append(jobs.forecast()), daemon=True)
    job.start()
    try:
        with psycopg.connect(admin, autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while not (waiting := watcher.execute("SELECT pid FROM pg_locks WHERE NOT granted").fetchall()):
                assert time.monotonic() < deadline and job.is_alive(), "the job never reached its publish"
                time.sleep(0.1)
            watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))  # the connection drops
    finally:
        holder.rollback()
        holder.close()
    job.join(timeout=120)
    assert outcome == ["failed"]
    with session_scope(loaded) as session:
        failed = session.scalars(select(JobRun).where(JobRun.job == "forecast")).one()
        runs = dict(session.execute(select(ForecastRun.id, ForecastRun.status)).all())
    assert failed.status == "failed" and "terminating connection due to administrator command" in failed.error
    assert "\n" not in failed.error
    assert sorted(runs.values()) == ["failed", "published"]
    assert _published(loaded).equals(before)
    _consistent(loaded)

    assert jobs.forecast(attempt=2) == "succeeded"  # the retry, the database being back
    after = _published(loaded)
    assert after["run_id"].n_unique() == 1 and after["run_id"][0] > before["run_id"][0]
    _consistent(loaded)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted at a folder of this test (needs root; skipped where it cannot mount)."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        if IN_CI:
            pytest.fail(f"cannot mount a tmpfs in CI: {mounted.stderr.decode().strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount(where: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)


def _demand(url: str, *args: str) -> subprocess.CompletedProcess:
    """The CLI in its own process (no file of the database stays open in this one)."""
    env = {**os.environ, "DEMAND_DATABASE_URL": url}
    return subprocess.run([str(Path(sys.executable).parent / "demand"), *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_full_disk_and_a_read_only_sqlite_file_are_reported_and_nothing_is_lost(
        db_url: str, small_disk: Path, small_scenario: DemoScenario, tmp_path: Path) -> None:
    database = small_disk / "demand.db"
    shutil.copyfile(make_url(db_url).database, database)
    url = f"sqlite:///{database}"
    sales = pl.read_csv(small_scenario.sales)
    big, skus = tmp_path / "big.csv", tmp_path / "skus.csv"  # ~11 MB of sales rows: more than the disk holds
    pl.concat([sales.with_columns(pl.col("sku") + f"-{i}") for i in range(30)]).write_csv(big)
    pl.concat([pl.read_csv(small_scenario.skus).with_columns(pl.col("sku") + f"-{i}") for i in range(30)]).write_csv(skus)
    for kind, path in (("regions", small_scenario.regions), ("skus", small_scenario.skus), ("skus", skus)):
        assert _demand(url, "ingest", kind, str(path)).returncode == 0

    full = _demand(url, "ingest", "sales", str(big))
    assert full.returncode == 3, full.stderr
    assert full.stderr.startswith("error: the database's disk is full (database or disk is full); nothing of "
                                  "this command was stored") and len(full.stderr.strip().splitlines()) == 1
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Sales)) == 0
    _consistent(engine)
    engine.dispose()

    _remount(small_disk, "size=64m")
    assert _demand(url, "ingest", "sales", str(small_scenario.sales)).returncode == 0
    _remount(small_disk, "ro")
    try:
        read_only = _demand(url, "ingest", "sales", str(big))
        assert read_only.returncode == 3, read_only.stderr
        assert read_only.stderr.startswith("error: the database is read-only (")
        assert len(read_only.stderr.strip().splitlines()) == 1
    finally:
        _remount(small_disk, "rw")
    engine = make_engine(url)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Sales)) == small_scenario.n_sales_rows
    _consistent(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_read_only_postgresql_database_is_reported_and_nothing_is_written(
        cli: CliRunner, engine: Engine, db_url: str, pg_admin_url: str, small_scenario: DemoScenario) -> None:
    assert cli.invoke(app, ["ingest", "regions", str(small_scenario.regions)]).exit_code == 0
    name = make_url(db_url).database
    admin = make_url(pg_admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    engine.dispose()
    try:
        result = cli.invoke(app, ["ingest", "skus", str(small_scenario.skus)])
        assert result.exit_code == 3 and result.output.startswith("error: the database is read-only ("), result.output
        assert "read-only transaction" in result.output and len(result.output.strip().splitlines()) == 1
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
    engine.dispose()
    with session_scope(engine) as session:  # nothing was written
        assert session.scalar(select(func.count()).select_from(Sku)) == 0
    assert cli.invoke(app, ["ingest", "skus", str(small_scenario.skus)]).exit_code == 0
