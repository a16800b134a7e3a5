"""Ingest throughput: 1,000,000 generated sales rows into SQLite and PostgreSQL.

Run: `make bench-ingest` or `.venv/bin/python benchmarks/ingest.py [--rows N] [--engines sqlite,postgresql]`.
Prints a table and writes benchmarks/results/ingest.json. Each engine gets a fresh, migrated database;
the file is ingested once (all rows new), then again with --force (all rows compared, none changed),
then a corrected file where 10% of the rows changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `benchmarks` is importable
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.common import fresh_postgres  # noqa: E402
from forecast.ingest import ColumnMapping, ingest_sales  # noqa: E402
from forecast.storage import migrate  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "ingest.json"


def generate(path: Path, rows: int, seed: int = 1, change_share: float = 0.0) -> None:
    """Write `rows` canonical sales rows: 1,000 days per series, Poisson units, prices, promo flags."""
    rng = np.random.default_rng(seed)
    days = 1000
    series = rows // days
    sku = np.repeat([f"SKU{i // 10:05d}" for i in range(series)], days)
    region = np.repeat([f"R{i % 10:02d}" for i in range(series)], days)
    day = np.tile(np.arange(days), series)
    units = np.random.default_rng(7).poisson(3.0, rows).astype(float)
    if change_share:
        changed = rng.random(rows) < change_share
        units[changed] += 1
    frame = pl.DataFrame({"sku": sku, "region": region,
                          "day": np.datetime64("2022-01-01") + day.astype("timedelta64[D]"),
                          "units": units, "price": np.round(np.random.default_rng(8).uniform(1, 20, rows), 2),
                          "on_promo": np.random.default_rng(9).random(rows) < 0.1})
    frame.with_columns(pl.col("on_promo").cast(pl.Int8)).write_csv(path)


def fresh_database(engine_name: str, workdir: Path) -> str:
    if engine_name == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        migrate.upgrade(url)
        return url
    return fresh_postgres(f"demand_bench_{os.getpid()}")


def run(engine_name: str, files: dict[str, Path], workdir: Path) -> list[dict]:
    engine = make_engine(fresh_database(engine_name, workdir))
    results = []
    for label, path, force in (("first load", files["base"], False), ("same again (--force)", files["base"], True),
                               ("10% corrected", files["fix"], False)):
        started = time.perf_counter()
        with session_scope(engine) as session:
            report = ingest_sales(path, session=session, mapping=ColumnMapping(), force=force)
        seconds = time.perf_counter() - started
        results.append({"engine": engine_name, "run": label, "rows": report.rows_accepted, "seconds": round(seconds, 2),
                        "rows_per_second": round(report.rows_accepted / seconds), "inserted": report.rows_inserted,
                        "updated": report.rows_updated, **{f"{k}_s": v for k, v in report.stage_seconds.items()}})
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = {"base": workdir / "sales.csv", "fix": workdir / "fix.csv"}
        generate(files["base"], args.rows)
        generate(files["fix"], args.rows, change_share=0.1)
        results = [r for name in args.engines.split(",") for r in run(name, files, workdir)]
    header = f"{'engine':<11} {'run':<21} {'rows':>9} {'s':>6} {'rows/s':>9} {'read':>5} {'valid':>5} {'write':>6} {'new':>9} {'changed':>8}"
    print(header)
    for r in results:
        print(f"{r['engine']:<11} {r['run']:<21} {r['rows']:>9,} {r['seconds']:>6.1f} {r['rows_per_second']:>9,} "
              f"{r['read_s']:>5.1f} {r['validate_s']:>5.1f} {r['write_s']:>6.1f} {r['inserted']:>9,} {r['updated']:>8,}")
    RESULTS.parent.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    RESULTS.write_text(json.dumps({"benchmark": "ingest", "machine": machine, "results": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
