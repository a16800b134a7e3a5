"""Does the regional-shock policy help? A rolling backtest on the demo's epidemic wave and on Iowa 2020.

Run: `make bench-shock-policy` or `.venv/bin/python benchmarks/shock_policy.py [--data demo iowa]`.

At every origin each region is checked with the service's own detector (`forecast.pipeline.shock`):
case counts as known at the origin, and the residuals of the previous origin's published forecasts
(the default policy's) over the last days (the breakout trigger). Every series is forecast with the
normal settings ("off"), and the series of flagged regions also with the policy's two parts, alone
and together, through the functions a run calls: "wider bands" (`widened`: half-widths x 1.5),
"short memory" (`short_memory_forecast`: every model refitted on the last `--window` days, the
flagged series apart) and "short memory + wider bands". All are scored on the same series and
windows.

- demo: seed 11, 25 SKUs x 8 regions, 3 years, one staggered epidemic wave per region; origins every
  `--every` days from 16 weeks before the first region's peak to 8 weeks after the last, 28-day
  horizon, AutoETS and XGBoost chosen per series on a holdout (the run's way), features and signals
  from the service's database as known at each origin.
- iowa: liquor sales by county x type (874 series with all 70 months), monthly origins 2019-01 ..
  2020-09, horizon 3 months, AutoETS; counties are the regions, each gets Iowa's state case counts
  (NYT, parsed by the service) as a monthly mean of daily new cases per 100k; the policy fits the last
  `--iowa-window` months; flags hold for 45 days (one more monthly check).

Prints WAPE, bias and 80%/95% coverage of each policy on the flagged series-windows (and on wider
sets, where unflagged windows are the same under every policy); writes benchmarks/results/shock_policy.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import polars as pl  # noqa: E402

from benchmarks.common import accuracy_and_coverage, load_demo, machine  # noqa: E402
from benchmarks.signals_shock import DATA, monthly_cases, sales_panel  # noqa: E402
from forecast.features import signal_features  # noqa: E402
from forecast.pipeline.forecaster import Forecaster  # noqa: E402
from forecast.pipeline.frames import DEFAULT_EXOG, ModelFrames, model_frames, series_ids, subset  # noqa: E402
from forecast.pipeline.shock import ShockRules, detect_shocks, flagged_ids, short_memory_forecast, widened  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "shock_policy.json"
HORIZON = 28
POLICIES = ("off", "wider bands", "short memory", "short memory + wider bands")


def _roll(origins: list[dt.date], frames_at, forecaster: Forecaster, rules: ShockRules, *, h: int,
          log: str) -> tuple[pl.DataFrame, list[dict]]:
    """Forecasts off and on at every origin, scored rows (origin, unique_id, ds, y, policy, flagged,
    yhat, bands) and the checks (origin, region, active, reason)."""
    rows, checks_log, previous, earlier = [], [], None, None
    for origin in origins:
        started = time.perf_counter()
        frames, actuals = frames_at(origin)
        checks = detect_shocks(frames.history, frames.series, cutoff=origin, rules=rules, earlier=earlier,
                               previous=previous)
        flagged = flagged_ids(frames.series, checks)
        off = forecaster.forecast(frames.history, frames.future, h=h).forecasts
        short = off
        if len(flagged):
            memory = short_memory_forecast(forecaster, subset(frames, flagged), h=h, rules=rules).forecasts
            short = pl.concat([off.filter(~pl.col("unique_id").is_in(flagged.implode())), memory]).sort("unique_id", "ds")
        variants = {"off": off, "wider bands": widened(off, rules, flagged), "short memory": short,
                    "short memory + wider bands": widened(short, rules, flagged)}
        for policy, fc in variants.items():
            rows.append(fc.join(actuals, on=["unique_id", "ds"]).with_columns(
                pl.lit(origin).alias("origin"), pl.lit(policy).alias("policy"),
                pl.col("unique_id").is_in(flagged.implode()).alias("flagged")))
        # what the service publishes by default, whose bands the next origin's breakout trigger reads
        earlier = variants["wider bands"].select("unique_id", "ds", "lo80", "hi80")
        previous = checks
        checks_log += [{"origin": origin.isoformat(), **{k: (v.isoformat() if isinstance(v, dt.date) else v)
                                                         for k, v in r.items()}}
                       for r in checks.filter(pl.col("active") | pl.col("triggered")).iter_rows(named=True)]
        print(f"{log} {origin}: {len(flagged)} series flagged ({', '.join(checks.filter('active')['region'])}) "
              f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
    return pl.concat(rows, how="diagonal_relaxed"), checks_log


def _table(scored: pl.DataFrame, data: str, groups: dict[str, pl.Expr]) -> list[dict]:
    out = []
    for name, keep in groups.items():
        for policy in POLICIES:
            part = scored.filter(keep & (pl.col("policy") == policy))
            out.append({"data": data, "rows_of": name, "policy": policy,
                        "windows": part.select("origin", "unique_id").unique().height, "rows": part.height,
                        **(accuracy_and_coverage(part) if part.height else {})})
    return out


def demo(args: argparse.Namespace) -> tuple[list[dict], dict]:
    """The demo's epidemic wave through the service's database."""
    with tempfile.TemporaryDirectory() as tmp:
        url, scenario = load_demo(Path(tmp), seed=11, n_skus=25, n_regions=8)
        truth = json.loads(scenario.ground_truth.read_text())["epidemic"]["regions"]
        peaks = sorted(dt.date.fromisoformat(v["peak_day"]) for v in truth.values())
        origins = pl.date_range(peaks[0] - dt.timedelta(weeks=16), peaks[-1] + dt.timedelta(weeks=8),
                                f"{args.every}d", eager=True).to_list()
        engine = make_engine(url)
        with session_scope(engine) as session:
            everything = signal_features(session=session, cutoff=peaks[-1] + dt.timedelta(weeks=12), horizon=0)
        regions = series_ids(everything)
        actuals = everything.join(regions, on=["sku", "region"]).select("unique_id", pl.col("day").alias("ds"), "y")

        def frames_at(origin: dt.date) -> tuple[ModelFrames, pl.DataFrame]:
            with session_scope(engine) as session:
                frames = model_frames(signal_features(session=session, cutoff=origin, horizon=HORIZON), cutoff=origin,
                                      series=regions)
            return frames, actuals.filter(pl.col("ds") > origin)

        forecaster = Forecaster(args.models, n_jobs=args.n_jobs, exog=DEFAULT_EXOG)
        scored, checks = _roll(origins, frames_at, forecaster, ShockRules(window=args.window), h=HORIZON, log="demo")
        engine.dispose()
    wave = pl.col("origin").is_between(peaks[0] - dt.timedelta(weeks=6), peaks[-1] + dt.timedelta(weeks=4))
    rows = _table(scored, "demo", {"flagged": pl.col("flagged"), "all": pl.lit(True),
                                  "wave (6 weeks before the first peak to 4 after the last)": wave})
    first_flag = {}
    for c in checks:
        if c["active"]:
            first_flag.setdefault(c["region"], c["origin"])
    timing = {r: {"peak_day": v["peak_day"], "first_flagged_origin": first_flag.get(r)} for r, v in truth.items()}
    by_region = scored.filter("flagged").join(regions.select("unique_id", "region"), on="unique_id").group_by("region", "policy").agg(
        ((pl.col("yhat") - pl.col("y")).abs().sum() / pl.col("y").sum()).round(4).alias("wape")).sort("region", "policy")
    return rows, {"origins": [o.isoformat() for o in origins], "regions": timing, "checks": checks,
                  "wape_by_flagged_region": by_region.to_dicts()}


def iowa(args: argparse.Namespace) -> tuple[list[dict], dict]:
    """Iowa liquor by county x type, monthly, with the state's case counts."""
    panel = sales_panel().with_columns(pl.col("unique_id").str.split("|").list.get(0).alias("region"))
    cases = monthly_cases().with_columns(
        (pl.col("per100k") / pl.col("ds").dt.month_end().dt.day()).alias("cases_7d_per_100k")).with_columns(
        pl.col("cases_7d_per_100k").shift(1).fill_null(0.0).alias("cases_7d_per_100k_lag7"))
    series = panel.select("unique_id", "region").unique().with_columns(pl.col("unique_id").alias("sku"))
    history_all = panel.drop("region").join(cases.select("ds", "cases_7d_per_100k", "cases_7d_per_100k_lag7"),
                                            on="ds", how="left").fill_null(0.0)
    origins = pl.date_range(dt.date(2019, 1, 1), dt.date(2020, 9, 1), "1mo", eager=True).to_list()

    def frames_at(origin: dt.date) -> tuple[ModelFrames, pl.DataFrame]:
        ends = pl.Series([origin]).dt.offset_by("3mo")[0]
        future = history_all.filter((pl.col("ds") > origin) & (pl.col("ds") <= ends))
        return (ModelFrames(series, history_all.filter(pl.col("ds") <= origin), future.drop("y")),
                future.select("unique_id", "ds", "y"))

    rules = ShockRules(hold_days=45, window=args.iowa_window)
    forecaster = Forecaster(["AutoETS"], freq="MS", n_jobs=args.n_jobs, exog={"statsforecast": []})
    scored, checks = _roll(origins, frames_at, forecaster, rules, h=3, log="iowa")
    in_2020 = pl.col("ds") >= dt.date(2020, 3, 1)
    rows = _table(scored, "iowa", {"flagged": pl.col("flagged"), "all targets 2020-03..2020-12": in_2020,
                                  "all targets 2019": pl.col("ds").dt.year() == 2019})
    flags = sorted({c["origin"] for c in checks if c["active"]})
    triggered_by = {c["origin"]: c["reason"] for c in checks if c["triggered"]}
    return rows, {"flagged_origins": flags, "checks": len(checks),
                  "reasons_by_origin": {o: triggered_by.get(o, "held") for o in flags}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=["demo", "iowa"], choices=["demo", "iowa"])
    parser.add_argument("--models", nargs="*", default=["AutoETS", "XGBoost"], help="demo models (chosen per series)")
    parser.add_argument("--every", type=int, default=7, help="days between demo origins")
    parser.add_argument("--window", type=int, default=112, help="days a flagged demo series fits on (short memory)")
    parser.add_argument("--iowa-window", type=int, default=24, help="months a flagged Iowa series fits on")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    if "iowa" in args.data and not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; set DEMAND_SHARED_DATA to the folder with the Iowa and NYT files")
    started = time.perf_counter()
    rows, details = [], {}
    for name in args.data:
        part_rows, details[name] = (demo if name == "demo" else iowa)(args)
        rows += part_rows
    payload = {"machine": machine(), "rules": ShockRules(window=args.window).to_dict(), "iowa_window_months": args.iowa_window,
               "demo_models": args.models, "seconds": round(time.perf_counter() - started, 1), "rows": rows,
               "details": details}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print("| data | rows of | policy | series-windows | WAPE | bias | coverage 80% | coverage 95% |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["rows"]:
            print(f"| {r['data']} | {r['rows_of']} | {r['policy']} | {r['windows']} | {r['wape']:.3f} | {r['bias']:+.3f} | "
                  f"{r['coverage_80']:.3f} | {r['coverage_95']:.3f} |")
    print(f"\nwrote {RESULTS} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
