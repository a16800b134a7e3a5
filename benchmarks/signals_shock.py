"""Do case counts help through a shock? Iowa liquor sales by county x type across the 2020 onset.

Run: `make bench-shock` or `.venv/bin/python benchmarks/signals_shock.py`.

Data: ../shared/data/iowa_liquor_sales_county_category_monthly_*.csv.gz, state revenue summed by
county x liquor type and month; the 874 series with all 70 months (2015-01..2020-10). Iowa's daily
new cases come from the NYT file through the service's own case parser (`signals.cases`, preset
nyt, a 1-day reporting lag), summed per month and per 100k inhabitants (3,155,070).

Windows: origins at the end of every month from 2018-12 to 2020-09, horizons 1 to 3 months; the
report scores the targets of 2019 (no signal: no cases yet) and 2020-03..2020-10 (the shock).

- Signal-blind: statsforecast's own `cross_validation` (no exogenous values, so nothing can leak)
  with SeasonalNaive, AutoETS, AutoTheta and the mean of AutoETS and AutoTheta.
- Signal-aware ("+ regime"): the best signal-blind model, corrected while the case signal says a
  shock is underway. At an origin whose month had at least `--threshold` new cases per 100k, each
  liquor type's forecasts are multiplied by exp(shrink x m), m = the mean over the shock months so far
  of log(actual / forecast) of that type's one-month-ahead forecasts (known at the origin): pooled
  across counties, short memory (the shock months only), and nothing changes before the signal.
- Bound: the best any state-level signal could do, with perfect foresight of each target month's
  state-wide ratio of actual to forecast (per type in the second bound). A signal that is the same
  for every county cannot beat the first bound.

Prints WAPE and bias (sum(forecast - actual) / sum(actual)) per model, year and horizon; writes
benchmarks/results/signals_shock.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import polars as pl  # noqa: E402
from statsforecast import StatsForecast  # noqa: E402
from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive  # noqa: E402

from benchmarks.common import machine  # noqa: E402
from signals.cases import case_preset, normalise_case_counts  # noqa: E402
from signals.sources import FileSource, read_payload  # noqa: E402

DATA = Path(os.environ.get("DEMAND_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).parent / "results" / "signals_shock.json"
IOWA_POPULATION = 3_155_070
BLIND = ("SeasonalNaive", "AutoETS", "AutoTheta", "ETS+Theta")
PERIODS = {"2019": (pl.col("ds").dt.year() == 2019),
           "2020-03..10": (pl.col("ds").dt.year() == 2020) & (pl.col("ds").dt.month() >= 3)}


def sales_panel() -> pl.DataFrame:
    """unique_id (county|type), ds (month), y (state revenue) for the series with every month."""
    files = sorted(DATA.glob("iowa_liquor_sales_county_category_monthly_*.csv.gz"))
    raw = pl.concat([pl.read_csv(f, infer_schema_length=10_000) for f in files], how="vertical_relaxed")
    monthly = raw.group_by("county", "type", "year_month").agg(pl.col("state_revenue").sum()).with_columns(
        pl.col("year_month").str.to_date())
    months = monthly["year_month"].n_unique()
    full = monthly.group_by("county", "type").len().filter(pl.col("len") == months).drop("len")
    return monthly.join(full, on=["county", "type"]).select(
        pl.concat_str("county", pl.lit("|"), "type").alias("unique_id"), pl.col("year_month").alias("ds"),
        pl.col("state_revenue").alias("y")).sort("unique_id", "ds")


def monthly_cases() -> pl.DataFrame:
    """ds (month), per100k: Iowa's new cases of the month per 100k, as the service parses the NYT file.

    A month's count is complete at the end of the next day (lag 1), so at an origin at the end of
    month m the count of m is all known but for its last day, which this ignores.
    """
    payload = FileSource(DATA / "nyt_covid_us_states_cumulative.csv").fetch()
    parsed = normalise_case_counts(read_payload(payload), preset=case_preset("nyt"), region_map={"Iowa": "IA"},
                                   population={"IA": IOWA_POPULATION}, lag_days=1)
    iowa = parsed.cases.filter(pl.col("region") == "IA")
    return iowa.group_by(pl.col("day").dt.truncate("1mo").alias("ds")).agg(
        (pl.col("new_cases").sum() / IOWA_POPULATION * 1e5).alias("per100k")).sort("ds")


def blind_forecasts(panel: pl.DataFrame, *, windows: int, n_jobs: int) -> pl.DataFrame:
    """statsforecast cross-validation: unique_id, ds, cutoff, y, step and one column per blind model.

    Two placeholder months (y = 0) are appended so that the last origins (2020-08, 2020-09) forecast
    1 to 3 months like the others; they come after every origin, so no model ever trains on them, and
    their rows are dropped before scoring.
    """
    last = panel["ds"].max()
    months = pl.date_range(last, pl.Series([last]).dt.offset_by("2mo")[0], "1mo", eager=True)[1:]
    pad = panel.select("unique_id").unique().join(pl.DataFrame({"ds": months}), how="cross").with_columns(
        pl.lit(0.0).alias("y"))
    sf = StatsForecast(models=[SeasonalNaive(season_length=12), AutoETS(season_length=12),
                               AutoTheta(season_length=12)], freq="1mo", n_jobs=n_jobs)
    cv = sf.cross_validation(df=pl.concat([panel, pad]).sort("unique_id", "ds"), h=3, n_windows=windows,
                             step_size=1).filter(pl.col("ds") <= last)
    step = (pl.col("ds").dt.year() * 12 + pl.col("ds").dt.month()) - (
        pl.col("cutoff").dt.year() * 12 + pl.col("cutoff").dt.month())
    return cv.with_columns(step.alias("step"), ((pl.col("AutoETS") + pl.col("AutoTheta")) / 2).alias("ETS+Theta"))


def with_regime(cv: pl.DataFrame, cases: pl.DataFrame, base: str, *, threshold: float, shrink: float) -> pl.DataFrame:
    """`{base} + regime`: the correction described in the module docstring, from one-step errors known at each origin."""
    typed = cv.with_columns(pl.col("unique_id").str.split("|").list.get(1).alias("type"))
    shock = cases.filter(pl.col("per100k") >= threshold)["ds"].to_list()
    one_step = typed.filter(pl.col("step") == 1).group_by("type", "ds").agg(
        (pl.col("y").sum() / pl.col(base).sum()).log().alias("log_ratio"))
    one_step = one_step.with_columns(pl.col("ds").is_in(shock).alias("shock")).sort("type", "ds").with_columns(
        (pl.when("shock").then(pl.col("log_ratio")).otherwise(0.0).cum_sum().over("type")
         / pl.col("shock").cast(pl.Int32).cum_sum().over("type")).alias("mean_log_ratio"))
    factor = one_step.select("type", pl.col("ds").alias("origin_month"),
                             pl.when("shock").then((pl.col("mean_log_ratio") * shrink).exp()).otherwise(1.0).alias("f"))
    joined = typed.with_columns(pl.col("cutoff").dt.truncate("1mo").alias("origin_month")).join(
        factor, on=["type", "origin_month"], how="left")
    return joined.with_columns((pl.col(base) * pl.col("f").fill_null(1.0)).alias(f"{base} + regime")).drop(
        "type", "origin_month", "f")


def with_bounds(cv: pl.DataFrame, base: str) -> pl.DataFrame:
    """Perfect-foresight state-level corrections of `base` (per month, and per month x type)."""
    typed = cv.with_columns(pl.col("unique_id").str.split("|").list.get(1).alias("type"))
    for name, keys in ((f"bound: {base} x state ratio", ["cutoff", "ds"]),
                       (f"bound: {base} x state ratio per type", ["cutoff", "ds", "type"])):
        ratio = typed.group_by(keys).agg((pl.col("y").sum() / pl.col(base).sum()).alias("_r"))
        typed = typed.join(ratio, on=keys).with_columns((pl.col(base) * pl.col("_r")).alias(name)).drop("_r")
    return typed.drop("type")


def scores(cv: pl.DataFrame, models: list[str]) -> pl.DataFrame:
    """model, period, step, wape, bias."""
    rows = []
    for period, keep in PERIODS.items():
        for step in (1, 2, 3):
            part = cv.filter(keep & (pl.col("step") == step))
            actual = part["y"].sum()
            for m in models:
                rows.append({"model": m, "period": period, "step": step,
                             "wape": float((part[m] - part["y"]).abs().sum() / actual),
                             "bias": float((part[m] - part["y"]).sum() / actual)})
    return pl.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=1.0, help="new cases per 100k in a month that mean a shock")
    parser.add_argument("--shrink", type=float, default=0.5, help="share of the mean shock-month error corrected")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is missing; set DEMAND_SHARED_DATA to the folder with the Iowa and NYT files")
    started = time.perf_counter()
    panel, cases = sales_panel(), monthly_cases()
    windows = 24  # origins 2018-10 .. 2020-09 (the first two only feed 2019's 2- and 3-month horizons)
    cv = blind_forecasts(panel, windows=windows, n_jobs=args.n_jobs)
    blind = scores(cv, list(BLIND)).filter(pl.col("period") == "2020-03..10", pl.col("step") == 1)
    best = blind.sort("wape")["model"][0]
    cv = with_bounds(with_regime(cv, cases, best, threshold=args.threshold, shrink=args.shrink), best)
    models = [*BLIND, f"{best} + regime", f"bound: {best} x state ratio", f"bound: {best} x state ratio per type"]
    table = scores(cv, models)
    payload = {"machine": machine(),
               "data": f"Iowa liquor, {panel['unique_id'].n_unique()} county x type series, monthly 2015-01..2020-10",
               "best_signal_blind": best, "threshold_per100k": args.threshold, "shrink": args.shrink,
               "seconds": round(time.perf_counter() - started, 1), "rows": table.to_dicts(),
               "cases_per100k": {str(d): round(v, 2) for d, v in cases.iter_rows() if d.year == 2020}}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    wide = table.with_columns(pl.format("{} h{}", "period", "step").alias("col")).pivot(
        on="col", index="model", values=["wape", "bias"])
    cols = [f"{p} h{s}" for s in (1, 2, 3) for p in PERIODS]
    print(f"{panel['unique_id'].n_unique()} series; best signal-blind one month ahead in 2020: {best}\n")
    print("| model | " + " | ".join(f"WAPE {c}" for c in cols) + " | bias 2019 h1 | bias 2020-03..10 h1 |")
    print("|---|" + "---:|" * (len(cols) + 2))
    for r in wide.iter_rows(named=True):
        print(f"| {r['model']} | " + " | ".join(f"{r[f'wape_{c}']:.3f}" for c in cols)
              + f" | {r['bias_2019 h1']:+.3f} | {r['bias_2020-03..10 h1']:+.3f} |")
    print(f"\nwrote {RESULTS} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
