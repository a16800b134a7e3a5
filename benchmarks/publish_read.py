"""Publishing forecast rows to PostgreSQL, and reading one series back under 50 concurrent readers.

Run: `make bench-publish` or `.venv/bin/python benchmarks/publish_read.py [--rows 1000000] [--runs 10]
[--readers 50] [--queries 200] [--rate 20]`.

A fresh PostgreSQL database (from DEMAND_TEST_POSTGRES_URL, default the local `test` server) gets
`--runs` forecast runs of `--rows` rows each (35,715 SKU x region series x 28 days for 1,000,000),
one after the other as nightly runs arrive: each is written with `forecast_repo.write_values`
(COPY) and published with `forecast_repo.publish_run`, timed apart. With 10 runs, 10,000,000 rows
are stored and the newest run is the published one. Then `--readers` threads, each with its own
connection, read `published_forecast` for one random SKU x region at a time (`--queries` each,
after 5 untimed), with the bound-parameter query a warehouse system would send (psycopg, prepared);
the table gives the latency percentiles over every query, back to back (each reader sends its next
query as soon as the last answered: the machine's two cores are then the limit), paced at `--rate`
queries a second per reader, and for a single reader alone. Writes benchmarks/results/publish_read.json.
Targets (issue 8): at least 100,000 rows/s published; p95 under 5 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `benchmarks` is importable
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.common import drop_postgres, fresh_postgres, machine  # noqa: E402
from forecast.storage import forecast_repo  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "publish_read.json"
HORIZON = 28
REGIONS = 35
READ = ("SELECT day, yhat, lo80, hi80, lo95, hi95, model FROM published_forecast "
        "WHERE sku = %(sku)s AND region = %(region)s ORDER BY day")
"""What a warehouse system sends for one series: bound parameters, a prepared statement (psycopg)."""


def forecast_rows(rows: int, *, cutoff: dt.date, seed: int) -> pl.DataFrame:
    """`rows` // 28 series x 28 days of ordered, non-negative forecast values."""
    series = rows // HORIZON
    rng = np.random.default_rng(seed)
    yhat = rng.gamma(2.0, 5.0, series * HORIZON)
    spread = rng.uniform(0.1, 0.6, series * HORIZON) * yhat
    ids = np.arange(series)
    frame = pl.DataFrame({
        "sku_id": np.repeat([f"SKU{i // REGIONS:06d}" for i in ids], HORIZON),
        "region_id": np.repeat([f"R{i % REGIONS:02d}" for i in ids], HORIZON),
        "day": np.tile(np.datetime64(cutoff) + np.arange(1, HORIZON + 1).astype("timedelta64[D]"), series),
        "yhat": yhat, "lo80": np.maximum(yhat - spread, 0), "hi80": yhat + spread,
        "lo95": np.maximum(yhat - 2 * spread, 0), "hi95": yhat + 2 * spread,
    })
    return frame.with_columns(pl.col("day").cast(pl.Date), pl.lit("XGBoost").alias("model"))


def publish(url: str, *, rows: int, runs: int) -> list[dict[str, float]]:
    """`runs` runs written and published one after the other; seconds of each step."""
    engine = make_engine(url)
    timings = []
    for run_no in range(runs):
        cutoff = dt.date(2026, 1, 1) + dt.timedelta(days=run_no)
        values = forecast_rows(rows, cutoff=cutoff, seed=run_no)
        with session_scope(engine) as session:
            run = forecast_repo.create_run(session=session, cutoff=cutoff, horizon=HORIZON, frequency="D",
                                           config={"benchmark": True}, code_version="bench")
        with session_scope(engine) as session:
            started = time.perf_counter()
            forecast_repo.write_values(session=session, run_id=run.id, values=values)
            written = time.perf_counter()
            forecast_repo.publish_run(session=session, run_id=run.id)
        done = time.perf_counter()  # the commit is inside session_scope's exit; count it with the publish
        timings.append({"run": run.id, "rows": values.height, "write_seconds": round(written - started, 2),
                        "publish_seconds": round(done - written, 2),
                        "rows_per_second": round(values.height / (done - started))})
        print(f"run {run.id}: {timings[-1]}", file=sys.stderr)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return timings


def read(url: str, *, readers: int, queries: int, rows: int, rate: float | None = None) -> dict[str, float]:
    """Latency of one series' `published_forecast` rows from `readers` concurrent connections: back to
    back, or each reader sending `rate` queries a second (latency then counts from the moment a
    query was due, so a reader falling behind shows in it)."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    series = rows // HORIZON
    latencies: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(readers)

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        mine = []
        with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
            for n in range(queries + 5):
                i = int(rng.integers(series))
                params = {"sku": f"SKU{i // REGIONS:06d}", "region": f"R{i % REGIONS:02d}"}
                if n == 5:
                    start_line.wait()
                    due = time.perf_counter() + float(rng.uniform(0, 1 / rate)) if rate else 0.0
                if rate and n >= 5:
                    time.sleep(max(0.0, due - time.perf_counter()))
                started = due if rate and n >= 5 else time.perf_counter()
                got = cursor.execute(READ, params, prepare=True).fetchall()
                if n >= 5:
                    mine.append(time.perf_counter() - started)
                    due += 1 / rate if rate else 0.0
                assert len(got) == HORIZON, f"{params}: {len(got)} rows"
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(readers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"readers": readers, "rate_per_reader": rate, "queries": len(latencies),
            "queries_per_second": round(len(latencies) / wall),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="forecast rows per run")
    parser.add_argument("--runs", type=int, default=10, help="runs to store (the newest is published)")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--queries", type=int, default=200, help="timed queries per reader")
    parser.add_argument("--rate", type=float, default=20.0, help="queries a second per reader in the paced test")
    args = parser.parse_args()

    name = f"demand_bench_publish_{os.getpid()}"
    url = fresh_postgres(name)
    try:
        runs = publish(url, rows=args.rows, runs=args.runs)
        alone = read(url, readers=1, queries=args.queries, rows=args.rows)
        latency = read(url, readers=args.readers, queries=args.queries, rows=args.rows)
        paced = read(url, readers=args.readers, queries=args.queries, rows=args.rows, rate=args.rate)
    finally:
        drop_postgres(name)
    rates = [r["rows_per_second"] for r in runs]
    payload = {"machine": machine(), "database": "postgresql 127.0.0.1", "rows_per_run": args.rows,
               "stored_rows": sum(r["rows"] for r in runs), "runs": runs,
               "median_rows_per_second": round(statistics.median(rates)), "read_alone": alone, "read": latency,
               "read_paced": paced}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    first, last = runs[0], runs[-1]
    print(f"| step | value | target |\n|---|---:|---:|")
    print(f"| write + publish, first run (empty table) | {first['rows_per_second']:,} rows/s "
          f"({first['write_seconds']} + {first['publish_seconds']} s) | >= 100,000 rows/s |")
    print(f"| write + publish, run {len(runs)} ({payload['stored_rows'] - last['rows']:,} rows stored before) | "
          f"{last['rows_per_second']:,} rows/s ({last['write_seconds']} + {last['publish_seconds']} s) | "
          f">= 100,000 rows/s |")
    print(f"| median over the {len(runs)} runs | {payload['median_rows_per_second']:,} rows/s | |")
    print(f"| one series from published_forecast, 1 reader: p50 / p95 / p99 | "
          f"{alone['p50_ms']} / {alone['p95_ms']} / {alone['p99_ms']} ms | |")
    print(f"| one series from published_forecast, {latency['readers']} readers: p50 / p95 / p99 | "
          f"{latency['p50_ms']} / {latency['p95_ms']} / {latency['p99_ms']} ms | p95 < 5 ms |")
    print(f"| reads per second, {latency['readers']} readers back to back | {latency['queries_per_second']:,} | |")
    print(f"| {paced['readers']} readers at {args.rate:g} queries/s each ({paced['queries_per_second']:,}/s in all): "
          f"p50 / p95 / p99 | {paced['p50_ms']} / {paced['p95_ms']} / {paced['p99_ms']} ms | p95 < 5 ms |")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
