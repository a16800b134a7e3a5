"""Shared by the benchmarks: the machine they ran on, and the demo scenario loaded as `make demo` loads it."""

from __future__ import annotations

import os
import platform
import threading
from pathlib import Path
from typing import Any

import polars as pl
import psutil

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from forecast.demo import DemoScenario, generate_demo
from forecast.demo.sources import write_demo_signals_config
from forecast.ingest import ColumnMapping, ingest_regions, ingest_sales, ingest_skus
from forecast.ingest.signal_config import load_sources
from forecast.ingest.signals import pull_source
from forecast.storage import migrate
from forecast.storage.engine import make_engine, session_scope

__all__ = ["PG_URL", "TreeMemory", "drop_postgres", "fresh_postgres", "load_demo", "machine"]

PG_URL = os.environ.get("DEMAND_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
"""A PostgreSQL database the benchmarks may CREATE DATABASE from."""


class TreeMemory:
    """Peak memory of this process and its child processes, sampled every `interval` seconds.

    It sums their proportional set sizes (PSS): a page that forked workers still share with the
    parent counts once, split between them, where summing resident sizes (RSS) counts it in every
    process (a worker forked from a 4 GiB parent reports ~4 GiB RSS without using it). Peaks
    shorter than `interval` can be missed.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval, self.peak_bytes = interval, 0
        self.stage = "other"
        """What is running now, set by the caller; `stage_peaks` keeps the peak seen during each."""
        self.stage_peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_gib(self) -> float:
        return round(self.peak_bytes / 2**30, 2)

    def stage_peaks_gib(self) -> dict[str, float]:
        return {stage: round(peak / 2**30, 2) for stage, peak in self.stage_peaks.items()}

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in (me, *me.children(recursive=True)):
                try:
                    total += proc.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):  # a worker that just ended
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            self.stage_peaks[self.stage] = max(self.stage_peaks.get(self.stage, 0), total)
            self._stop.wait(self.interval)


def accuracy_and_coverage(frame: pl.DataFrame) -> dict[str, float]:
    """wape, bias (sum of errors / sum of actuals) and the share of actuals inside the 80% and 95%
    bands, of forecast rows (yhat, lo80, hi80, lo95, hi95) joined with their actuals `y`."""
    err = pl.col("yhat") - pl.col("y")
    inside = lambda lv: pl.col("y").is_between(pl.col(f"lo{lv}"), pl.col(f"hi{lv}")).mean()  # noqa: E731
    row = frame.select((err.abs().sum() / pl.col("y").sum()).alias("wape"), (err.sum() / pl.col("y").sum()).alias("bias"),
                       inside(80).alias("coverage_80"), inside(95).alias("coverage_95")).row(0, named=True)
    return {k: round(float(v), 4) for k, v in row.items()}


def machine() -> dict[str, Any]:
    """Platform, CPU count and Python version, for the results files."""
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}


def load_demo(workdir: Path, *, seed: int = 7, n_skus: int = 50, n_regions: int = 8,
              days: int = 1096) -> tuple[str, DemoScenario]:
    """Generate the scenario under `workdir` and load its sales and signals; returns the database URL and it."""
    out = workdir / "demo"
    scenario = generate_demo(out, seed=seed, n_skus=n_skus, n_regions=n_regions, days=days)
    config = write_demo_signals_config(out)
    url = f"sqlite:///{workdir / 'bench.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        ingest_regions(scenario.regions, session=session)
        ingest_skus(scenario.skus, session=session)
        ingest_sales(scenario.sales, session=session, mapping=ColumnMapping())
    for source in load_sources(config).values():
        with session_scope(engine) as session:
            pull_source(source, session=session)
    engine.dispose()
    return url, scenario


def _admin(sql: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def fresh_postgres(name: str) -> str:
    """A new, migrated PostgreSQL database `name` (dropped first if it exists); returns its URL."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def drop_postgres(name: str) -> None:
    """Drop the benchmark database `name`."""
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
