"""The cost of making every series regular before the models (absent days, late series, fill_gaps).

Loads the demo scenario at 10,000 series x 1,096 days (SQLite), then measures in fresh processes:
`before`, the sales panel as it was built before the absent-days policy (the stored rows plus a
rectangular future, no gap filling), and `after`, `features.read_sales` (series shapes, fill_gaps,
per-series future), first on the rectangular data and then after 2% of the rows were deleted at
random (holes) and 1% of the series lost their last 3 days (late). Prints a table and writes
benchmarks/results/gap_filling.json.

    .venv/bin/python benchmarks/gap_filling.py --series 10000 --regions 16
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.common import load_demo  # noqa: E402
from forecast.features import read_sales  # noqa: E402
from forecast.storage.sales_repo import read_sales_rows  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HORIZON = 28


def _before(session, cutoff: dt.date) -> pl.DataFrame:  # noqa: ANN001 - a Session
    """The sales panel as `sales_panel` built it before gap filling: stored rows plus a rectangular future."""
    history = read_sales_rows(session=session, cutoff=cutoff).drop("batch_id")
    days = pl.date_range(cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=HORIZON), eager=True)
    future = (history.select("sku", "region").unique().join(pl.DataFrame({"day": days}), how="cross")
              .with_columns(pl.lit(None, dtype=pl.Float64).alias("y")))
    return pl.concat([history, future], how="diagonal").sort("sku", "region", "day")


def measure(variant: str, url: str) -> dict:
    """Build the panel once in this process; seconds, rows and peak RSS."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        cutoff = session.scalar(text("SELECT max(day) FROM sales"))
        cutoff = cutoff if isinstance(cutoff, dt.date) else dt.date.fromisoformat(str(cutoff)[:10])
        started = time.perf_counter()
        panel = _before(session, cutoff) if variant == "before" else read_sales(
            session=session, cutoff=cutoff, horizon=HORIZON).frame
        seconds = time.perf_counter() - started
    return {"variant": variant, "seconds": round(seconds, 2), "rows": panel.height, "peak_rss_gib": _peak_gib()}


def _peak_gib() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's maxrss, not inherited across fork
    and exec from the parent, which holds the loaded scenario)."""
    status = Path("/proc/self/status").read_text().splitlines()
    kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return round(kib / 2**20, 2)


def _in_process(variant: str, url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", variant, "--url", url], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _make_ragged(url: str) -> None:
    """Delete 2% of the rows at random and the last 3 days of 1% of the series."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sales WHERE abs(random()) % 50 = 0"))
        last = conn.execute(text("SELECT max(day) FROM sales")).scalar_one()
        conn.execute(text("DELETE FROM sales WHERE day > date(:last, '-3 days') AND (sku_id || region_id) IN "
                          "(SELECT sku_id || region_id FROM sales GROUP BY sku_id, region_id "
                          "ORDER BY sku_id, region_id LIMIT (SELECT count(DISTINCT sku_id || region_id) / 100 "
                          "FROM sales))"), {"last": str(last)[:10]})
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--measure", choices=["before", "after"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url, _ = load_demo(Path(tmp), seed=11, n_skus=max(9, args.series // args.regions), n_regions=args.regions)
        rows = [_in_process("before", url) | {"data": "rectangular"}, _in_process("after", url) | {"data": "rectangular"}]
        _make_ragged(url)
        rows += [_in_process("before", url) | {"data": "ragged"}, _in_process("after", url) | {"data": "ragged"}]
    print(f"{'data':<12} {'variant':<8} {'seconds':>8} {'rows':>12} {'peak RSS GiB':>13}")
    for row in rows:
        print(f"{row['data']:<12} {row['variant']:<8} {row['seconds']:>8.2f} {row['rows']:>12,} {row['peak_rss_gib']:>13.2f}")
    RESULTS.mkdir(exist_ok=True)
    result = {"date": dt.date.today().isoformat(), "series": args.series, "days": 1096, "engine": "sqlite",
              "command": f"benchmarks/gap_filling.py --series {args.series} --regions {args.regions}", "rows": rows}
    (RESULTS / "gap_filling.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
