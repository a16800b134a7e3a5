"""SIGKILL of an ingest, a signal pull, a forecast run and its publish at random points.

Each kill is followed by the integrity check (`demand db check`: no orphan rows, every published
run complete) and a look at what readers see: the data as before or as after the whole operation,
never a part. Then the operation is run again and must succeed. The default suite kills each
operation once per engine; `-m slow` kills each 20 times per engine.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from forecast.demo import DemoScenario
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.integrity import check_integrity
from forecast.storage.schema import (
    CalendarEvent,
    CaseCorrection,
    CaseCount,
    ForecastRun,
    IngestBatch,
    LivestreamEvent,
    Promotion,
    RejectedRow,
    Sales,
    SignalPayload,
)

FEW, MANY = 1, 20


@dataclass
class Kills:
    """How the kills of one operation landed."""

    mid_run: int = 0
    after_exit: int = 0


def _cli(db_url: str, *args: str, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "DEMAND_DATABASE_URL": db_url, "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen([sys.executable, "-m", "forecast.cli.main", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(db_url: str, *args: str, cwd: Path | None = None) -> tuple[float, str]:
    started = time.monotonic()
    proc = _cli(db_url, *args, cwd=cwd)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    return time.monotonic() - started, out.decode()


def _kill_at(db_url: str, delay: float, kills: Kills, *args: str, cwd: Path | None = None) -> None:
    proc = _cli(db_url, *args, cwd=cwd)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        kills.mid_run += 1
    else:
        kills.after_exit += 1
    proc.communicate(timeout=60)


def _assert_consistent(engine: Engine) -> None:
    with session_scope(engine) as session:
        report = check_integrity(session=session)
    assert report.ok, report.problems


def _sales(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        rows = session.execute(select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units)).all()
    return pl.DataFrame(rows, schema=["sku", "region", "day", "units"], orient="row").sort("sku", "region", "day")


def _published(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session)


def _repeats(request: pytest.FixtureRequest) -> int:
    return MANY if request.node.get_closest_marker("slow") else FEW


def _kill_sales_ingest(engine: Engine, db_url: str, scenario: DemoScenario, tmp_path: Path, repeats: int,
                       rng: random.Random) -> Kills:
    """Ingest the sales once; then kill ingests of files that change every row, and check all-or-nothing.

    Each kill's file is new (a file already ingested is skipped by its hash): the sales plus i units."""
    _finish(db_url, "ingest", "regions", str(scenario.regions))
    _finish(db_url, "ingest", "skus", str(scenario.skus))
    _finish(db_url, "ingest", "sales", str(scenario.sales))
    original = _sales(engine)

    def plus(i: int) -> Path:
        file = tmp_path / f"plus_{i}.csv"
        pl.read_csv(scenario.sales).with_columns(pl.col("units") + i).write_csv(file)
        return file

    seconds, _ = _finish(db_url, "ingest", "sales", str(plus(1)))  # timed: an ingest that changes every row
    kills = Kills()
    for i in range(2, repeats + 2):
        current = original.with_columns(pl.col("units") + (i - 1))
        expected = original.with_columns(pl.col("units") + i)
        file = plus(i)
        _kill_at(db_url, rng.uniform(0.25, 0.75) * seconds, kills, "ingest", "sales", str(file))
        _assert_consistent(engine)
        now = _sales(engine)
        assert now.equals(current) or now.equals(expected), "a killed ingest left a part of its file"
        _finish(db_url, "ingest", "sales", str(file))  # the rerun succeeds
        assert _sales(engine).equals(expected)
    return kills


def _signal_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t))
                for t in (CaseCount, LivestreamEvent, Promotion)}


def _kill_signal_pull(engine: Engine, db_url: str, scenario: DemoScenario, tmp_path: Path, repeats: int,
                      rng: random.Random) -> Kills:
    """Kill the first pull of every source; each stored batch must hold all its rows; the rerun completes."""
    _finish(db_url, "ingest", "regions", str(scenario.regions))
    _finish(db_url, "ingest", "skus", str(scenario.skus))
    config = str(Path(scenario.out_dir) / "signals.toml")
    kills = Kills()
    seconds = None
    for _ in range(repeats):
        with session_scope(engine) as session:  # start from no signals each time
            for table in (CaseCount, CaseCorrection, LivestreamEvent, Promotion, CalendarEvent):
                session.execute(table.__table__.delete())
            signal_batches = select(IngestBatch.id).where(IngestBatch.kind.like("signal:%"))
            session.execute(RejectedRow.__table__.delete().where(RejectedRow.batch_id.in_(signal_batches)))
            session.execute(IngestBatch.__table__.delete().where(IngestBatch.kind.like("signal:%")))
            session.execute(SignalPayload.__table__.delete())
        if seconds is None:
            seconds, _ = _finish(db_url, "signals", "pull", "--config", config)
            full = _signal_counts(engine)
            continue
        _kill_at(db_url, rng.uniform(0.25, 0.75) * seconds, kills, "signals", "pull", "--config", config)
        _assert_consistent(engine)
        with session_scope(engine) as session:
            batches = session.execute(select(IngestBatch.id, IngestBatch.kind, IngestBatch.rows_accepted)
                                      .where(IngestBatch.kind.like("signal:%"))).all()
        counts = _signal_counts(engine)
        for kind, table in (("signal:cases", "case_count"), ("signal:livestreams", "livestream_event"),
                            ("signal:promotions", "promotion")):
            stored = [b for b in batches if b.kind == kind]
            assert counts[table] == (full[table] if stored else 0), f"{table} half-applied: {counts[table]}"
        _finish(db_url, "signals", "pull", "--config", config)
        assert _signal_counts(engine) == full
    return kills


FORECAST = ("forecast", "run", "--horizon", "7", "--models", "SeasonalNaive", "--models", "AutoTheta",
            "--reselect-days", "0", "--refit-days", "0", "--json")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _blocked_in_publish(engine: Engine, proc: subprocess.Popen) -> bool:
    """Whether the run waits on the lock the test holds: a PostgreSQL backend waiting for a lock, or on
    SQLite a process that made a draft run and stopped using the CPU (sleeping in SQLite's busy handler)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar())
    with session_scope(engine) as session:
        if not session.scalar(select(func.count()).select_from(ForecastRun).where(ForecastRun.status == "draft")):
            return False
    ticks = _cpu_ticks(proc.pid)
    time.sleep(0.5)
    return _cpu_ticks(proc.pid) == ticks


def _kill_in_publish(engine: Engine, db_url: str, kills: Kills) -> None:
    """Hold the lock the run's write-and-publish transaction needs, kill the run while it waits inside
    that transaction (PostgreSQL: values written, publishing; SQLite: at its first write), then let go."""
    holder = engine.raw_connection()
    cursor = holder.cursor()
    if engine.dialect.name == "postgresql":
        cursor.execute("LOCK TABLE published_series IN EXCLUSIVE MODE")
    proc = _cli(db_url, *FORECAST)
    try:
        if engine.dialect.name == "sqlite":  # once the draft is committed, take the write lock it will need
            deadline = time.monotonic() + 120
            with session_scope(engine) as session:
                while not session.scalar(select(ForecastRun.id).where(ForecastRun.status == "draft")):
                    assert proc.poll() is None and time.monotonic() < deadline, "the run never made its draft"
                    time.sleep(0.05)
                    session.rollback()
            cursor.execute("BEGIN IMMEDIATE")
        deadline = time.monotonic() + 120
        while not _blocked_in_publish(engine, proc):
            assert proc.poll() is None and time.monotonic() < deadline, "the run never reached its publish"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        kills.mid_run += 1
        proc.communicate(timeout=60)
    finally:
        holder.rollback()
        holder.close()


def _kill_forecast(engine: Engine, db_url: str, repeats: int, rng: random.Random, *, publish_only: bool) -> Kills:
    """Kill forecast runs at random points (or inside their publish); readers see one whole run."""
    seconds, _ = _finish(db_url, *FORECAST)
    kills = Kills()
    for _ in range(repeats):
        before = _published(engine)
        if publish_only:
            _kill_in_publish(engine, db_url, kills)
        else:
            _kill_at(db_url, rng.uniform(0.25, 0.75) * seconds, kills, *FORECAST)
        _assert_consistent(engine)
        now = _published(engine)
        assert now["run_id"].n_unique() == 1 and now.height == before.height
        assert now.equals(before) or (not publish_only and now["run_id"][0] > before["run_id"][0])
        _finish(db_url, *FORECAST)
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(ForecastRun)
                                  .where(ForecastRun.status == "published")) == 1
        _assert_consistent(engine)
    return kills


OPERATIONS = ["sales ingest", "signal pull", "forecast run", "publish"]


def _run(operation: str, engine: Engine, db_url: str, scenario: DemoScenario, tmp_path: Path, repeats: int,
         loaded_engine: Engine | None = None) -> Kills:
    rng = random.Random(f"{operation}-{repeats}")
    if operation == "sales ingest":
        return _kill_sales_ingest(engine, db_url, scenario, tmp_path, repeats, rng)
    if operation == "signal pull":
        return _kill_signal_pull(engine, db_url, scenario, tmp_path, repeats + 1, rng)
    return _kill_forecast(engine, db_url, repeats, rng, publish_only=operation == "publish")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_killed_operation_leaves_nothing_half_done_and_reruns(
        operation: str, request: pytest.FixtureRequest, engine: Engine, db_url: str,
        small_scenario: DemoScenario, tmp_path: Path) -> None:
    if operation in ("forecast run", "publish"):
        engine = request.getfixturevalue("loaded")
    kills = _run(operation, engine, db_url, small_scenario, tmp_path, _repeats(request))
    assert kills.mid_run >= 1, kills  # at least one kill landed while it ran


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS)
def test_twenty_kills_of_each_operation(operation: str, request: pytest.FixtureRequest, engine: Engine, db_url: str,
                                        small_scenario: DemoScenario, tmp_path: Path) -> None:
    if operation in ("forecast run", "publish"):
        engine = request.getfixturevalue("loaded")
    kills = _run(operation, engine, db_url, small_scenario, tmp_path, MANY)
    print(f"{operation}: {kills}")
    assert kills.mid_run >= MANY // 2, kills
