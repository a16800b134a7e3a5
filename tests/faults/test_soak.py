"""Soak (slow): the scheduler on a one-minute cycle for 30 minutes on PostgreSQL while 20 readers
query the published views. No job may fail, no reader may get an error, memory must stay flat.

Run once by hand: `DEMAND_TEST_POSTGRES_URL=... .venv/bin/python -m pytest -m slow tests/faults/test_soak.py -s`
(`DEMAND_SOAK_MINUTES` shortens it). Every minute a feeder drops the next day's actuals into the
sales inbox; the scheduler pulls sales and signals, forecasts and tracks accuracy each minute.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, text

from forecast.demo import DemoScenario
from forecast.storage.engine import make_engine, session_scope
from tests.scheduler.conftest import ServiceThread, configure, job_runs, wait_for  # noqa: F401 - configure: a fixture

READERS = 20
MINUTES = float(os.environ.get("DEMAND_SOAK_MINUTES", "30"))
QUERIES = ("SELECT sku, region, day, yhat FROM published_forecast WHERE sku = :sku AND region = :region",
           "SELECT region, sum(yhat) FROM published_forecast GROUP BY region",
           "SELECT count(*) FROM published_forecast_adjusted")


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_half_hour_of_one_minute_cycles_under_twenty_readers(
        loaded: Engine, db_url: str, small_scenario: DemoScenario, configure, tmp_path: Path) -> None:  # noqa: F811
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    configure(sales_drop_dir=inbox, signals_config=Path(small_scenario.out_dir) / "signals.toml",
              schedule_sales_pull="5 * * * * *", schedule_signals_pull="10 * * * * *",
              schedule_forecast="20 * * * * *", schedule_accuracy="50 * * * * *", job_retries=0)
    with session_scope(loaded) as session:
        last = session.scalar(text("SELECT max(day) FROM sales"))
        last = last if isinstance(last, dt.date) else dt.date.fromisoformat(last)
        pairs = session.execute(text("SELECT DISTINCT sku_id, region_id FROM sales")).all()
    series = pl.DataFrame(pairs, schema=["sku", "region"], orient="row")
    stop = threading.Event()
    errors: list[str] = []
    reads = [0] * READERS

    def reader(i: int) -> None:
        rng = np.random.default_rng(i)
        engine = make_engine(db_url)
        try:
            while not stop.is_set():
                sku, region = series.row(int(rng.integers(series.height)))
                with engine.connect() as conn:
                    conn.execute(text(QUERIES[reads[i] % len(QUERIES)]), {"sku": sku, "region": region}).all()
                reads[i] += 1
                time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"reader {i}: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            engine.dispose()

    def feed(minute: int) -> None:
        day = last + dt.timedelta(days=minute + 1)
        units = np.random.default_rng(minute).poisson(5, series.height).astype(float)
        series.with_columns(pl.lit(day).alias("day"), pl.Series("units", units)).write_csv(inbox / f"day-{day}.csv")

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    memory: list[float] = []
    started = time.monotonic()
    with ServiceThread(loaded) as running:
        wait_for(running.service.active.is_set, timeout=30, what="the scheduler to take the lock")
        for thread in threads:
            thread.start()
        minute = 0
        while time.monotonic() - started < MINUTES * 60:
            feed(minute)
            memory.append(_rss_mib())
            minute += 1
            time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    runs = job_runs(loaded)
    by_status: dict[str, int] = {}
    for run in runs:
        by_status[run.status] = by_status.get(run.status, 0) + 1
    with session_scope(loaded) as session:
        stored_days = session.scalar(text("SELECT count(DISTINCT day) FROM sales WHERE day > :d"), {"d": last})
    first, late = np.median(memory[2:5]), np.median(memory[-3:])
    print(f"\nsoak: {MINUTES:.0f} min, jobs {by_status}, reads {sum(reads):,} by {READERS} readers, "
          f"reader errors {len(errors)}, new sales days stored {stored_days}, "
          f"memory MiB at minutes 2-4 {first:.0f}, last 3 {late:.0f}, max {max(memory):.0f}")
    assert running.error is None
    assert not errors, errors[:5]
    failed = [(r.job, r.status, r.error) for r in runs if r.status not in ("succeeded", "aborted")]
    assert not failed, failed[:5]
    assert by_status.get("succeeded", 0) >= 3 * int(MINUTES)
    assert stored_days >= int(MINUTES) - 2  # the pulls kept up with the feeder
    assert min(reads) > 0
    assert late < first * 1.15 + 50, (first, late)  # flat: no growth beyond noise
