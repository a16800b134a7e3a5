"""The dashboard's read-only query layer over the published tables. Pure functions of an engine
(testable without Streamlit) over the `forecast.storage` repos, which hold every SQL statement;
`dashboard.data` caches them for the pages, one module a page."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine

from forecast.backtest.run import summary_table
from forecast.pipeline import explain
from forecast.pipeline.explain import explain_change
from forecast.pipeline.nodes import level_of, node_name
from forecast.storage import (
    accuracy_repo,
    backtest_repo,
    forecast_repo,
    job_repo,
    override_repo,
    published_repo,
    repo,
    sales_repo,
    scenario_repo,
    shock_repo,
    signal_repo,
)
from forecast.storage.backtest_repo import ALL_WINDOWS
from forecast.storage.engine import session_scope
from forecast.storage.schema import JobRun

__all__ = [
    "backtest_by_group",
    "backtest_by_step",
    "backtest_runs",
    "backtest_summary",
    "daily_totals",
    "exceptions",
    "group_forecast",
    "group_history",
    "group_reconciled",
    "job_health",
    "job_problems",
    "latest_run",
    "model_value_added",
    "override_value_added",
    "recent_runs",
    "region_cases",
    "region_totals",
    "saved_scenarios",
    "scenario_choices",
    "scenario_values",
    "series_adjusted",
    "series_backtest",
    "series_contributions",
    "series_explanation",
    "series_forecast",
    "series_history",
    "series_index",
    "series_overrides",
    "series_signals",
    "top_contributions",
    "tracked_by",
]


def latest_run(engine: Engine) -> dict | None:
    """The newest published run: id, cutoff, horizon, published_at, series count, models, duration and
    the feed's shape at its cutoff (late, inactive and holed series, `series_report.shapes_report`)."""
    with session_scope(engine) as session:
        run = published_repo.latest_published_run(session=session)
        if run is None:
            return None
        return {"id": run.id, "cutoff": run.cutoff, "horizon": run.horizon, "published_at": run.published_at,
                "series": run.series_count, "models": run.config.get("models"),
                "duration_seconds": run.duration_seconds, "series_shapes": run.config.get("series_shapes") or {}}


def recent_runs(engine: Engine, limit: int = 50) -> pl.DataFrame:
    """Forecast runs, newest first."""
    with session_scope(engine) as session:
        runs = forecast_repo.list_runs(session=session, limit=limit)
        rows = [{"run": r.id, "status": r.status, "cutoff": r.cutoff, "horizon": r.horizon, "series": r.series_count,
                 "created_at": r.created_at, "published_at": r.published_at, "seconds": r.duration_seconds,
                 "error": r.error} for r in runs]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def job_health(engine: Engine, limit: int = 200) -> pl.DataFrame:
    """The job history, newest first: job, scheduled, attempt, status, rows, message or error, instance."""
    with session_scope(engine) as session:
        return _job_frame(job_repo.job_runs(session=session, limit=limit))


def job_problems(engine: Engine, limit: int = 200) -> pl.DataFrame:
    """The open problems (`job_repo.open_problems`), newest first, in `job_health`'s columns."""
    with session_scope(engine) as session:
        return _job_frame(job_repo.open_problems(session=session, limit=limit))


def _job_frame(runs: list[JobRun]) -> pl.DataFrame:
    rows = [{"id": r.id, "job": r.job, "scheduled_for": r.scheduled_for, "attempt": r.attempt,
             "status": r.status, "started_at": r.started_at, "finished_at": r.finished_at, "rows": r.rows,
             "message": r.error or r.message, "instance": r.instance} for r in runs]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def series_index(engine: Engine) -> pl.DataFrame:
    """Every published series: sku, region, sku name, category, region name, parent (for search)."""
    with session_scope(engine) as session:
        return published_repo.series_index(session=session)


def series_forecast(engine: Engine, sku: str, region: str) -> pl.DataFrame:
    """The published forecast of one SKU x region: day, yhat, bands, model, run_id."""
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session, sku=sku, region=region)


def series_history(engine: Engine, sku: str, region: str, days: int = 365) -> pl.DataFrame:
    """The last `days` of sales of one SKU x region: day, units."""
    with session_scope(engine) as session:
        return sales_repo.series_sales(session=session, sku=sku, region=region, last_days=days)


def region_totals(engine: Engine) -> pl.DataFrame:
    """Per region x category: forecast units over the published horizon and the same days a year earlier
    (364 days before: the same weekdays), both summed in the database."""
    with session_scope(engine) as session:
        totals = published_repo.category_totals(session=session, days_back=364)
    if totals.is_empty():
        return totals
    change = ((pl.col("forecast") / pl.col("last_year") - 1) * 100).round(1).alias("change_pct")
    return totals.with_columns(change).sort("region", "category")


def group_forecast(engine: Engine, category: str | None, region: str | None) -> pl.DataFrame:
    """The published forecast summed over a category and/or region (None: all) per day: yhat, the sums
    of the series' band limits, and how many series. A sum of band limits is the band of the total
    only if all series err together, so it is an upper bound of the total's spread."""
    with session_scope(engine) as session:
        return published_repo.group_daily_sums(session=session, category=category, region=region)


def series_explanation(engine: Engine, sku: str, region: str) -> dict:
    """Why the published forecast of one series differs from the run before (`explain_change`), as a
    dict with its `headline`."""
    with session_scope(engine) as session:
        explanation = explain_change(session=session, sku=sku, region=region)
    return {**explanation.to_dict(), "headline": explanation.headline()}


def group_reconciled(engine: Engine, category: str | None, region: str | None) -> pl.DataFrame:
    """The reconciled forecast of a category and/or region (None: all) from `published_total` per day:
    yhat, its own bands, base_yhat (the node's forecast before reconciliation), run_id and method;
    empty when the published run was not reconciled."""
    keys = [k for k in (category, region) if k is not None]
    with session_scope(engine) as session:
        level = forecast_repo.read_published_totals(session=session, level=level_of(category, region))
        rows = level.filter(pl.col("node") == node_name(*keys))
        if rows.is_empty():  # a level whose names were escaped, as two of its nodes read the same
            rows = level.filter(pl.col("node") == node_name(*keys, escaped=True))
        if rows.is_empty():
            return rows
        config = published_repo.get_run(session=session, run_id=rows["run_id"][0]).config
    method = config.get("reconciliation", {}).get("method", "")
    return rows.select("day", "yhat", "lo80", "hi80", "lo95", "hi95", "base_yhat", "run_id").with_columns(
        pl.lit(method).alias("method"))


def group_history(engine: Engine, category: str | None, region: str | None, days: int = 365) -> pl.DataFrame:
    """The last `days` of sales summed over the published series of a category and/or region: day, units."""
    with session_scope(engine) as session:
        return sales_repo.group_daily_units(session=session, category=category, region=region, days=days)


def region_cases(engine: Engine, region: str, since: dt.date) -> pl.DataFrame:
    """New cases per 100k in `region` from `since`, the newest version of each day: day, per100k."""
    with session_scope(engine) as session:
        return _cases(session, region, since)


def _cases(session, region: str, since: dt.date) -> pl.DataFrame:
    cases = signal_repo.read_region_cases(session=session, region=region, since=since)
    return cases.sort("known_at").unique("day", keep="last").sort("day").select("day", "per100k")


def backtest_runs(engine: Engine, complete_only: bool = True) -> pl.DataFrame:
    """Backtests (only complete ones unless `complete_only` is False), newest first: id, status, created,
    data cutoff, windows, horizon, models, series, seconds, rerun of, error."""
    with session_scope(engine) as session:
        rows = [{"id": r.id, "status": r.status, "created_at": r.created_at, "data_cutoff": r.data_cutoff,
                 "windows": r.config.get("windows"), "horizon": r.config.get("horizon"),
                 "models": ", ".join(r.config.get("models") or []), "series": r.series_count,
                 "seconds": r.duration_seconds, "rerun_of": r.rerun_of, "error": r.error}
                for r in backtest_repo.list_runs(session=session, limit=100)
                if r.status == "complete" or not complete_only]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def backtest_summary(engine: Engine, run_id: int) -> pl.DataFrame:
    """One row per model over the windows every model has: WRMSSE, RMSSE, WAPE, bias, coverage, pinball."""
    with session_scope(engine) as session:
        metrics = backtest_repo.read_metrics(session=session, run_id=run_id, pooled_only=True, window=ALL_WINDOWS)
    return pl.DataFrame(summary_table(metrics))


def backtest_by_step(engine: Engine, run_id: int) -> pl.DataFrame:
    """Pooled metrics per model x horizon step, over the windows every model has."""
    with session_scope(engine) as session:
        metrics = backtest_repo.read_metrics(session=session, run_id=run_id, pooled_only=True, window=ALL_WINDOWS)
    return metrics.filter(pl.col("step") > 0).pivot(on="metric", index=["model", "step"], values="value",
                                                    aggregate_function="first").sort("model", "step")


def backtest_by_group(engine: Engine, run_id: int, group: str) -> pl.DataFrame:
    """WAPE, bias (share of actuals) and 95% coverage per model x `group` (category or region), all windows."""
    with session_scope(engine) as session:
        frame = backtest_repo.read_run_columns(session=session, run_id=run_id, columns=(
            "model", "sku_id", "region_id", "y", "yhat", "lo95", "hi95")).rename({"sku_id": "sku", "region_id": "region"})
        categories = _categories(session)
    frame = frame.with_columns(pl.col("sku").replace_strict(categories, default=None).alias("category"))
    err = pl.col("yhat") - pl.col("y")
    return frame.group_by("model", group).agg(
        (err.abs().sum() / pl.col("y").sum()).alias("wape"), (err.sum() / pl.col("y").sum()).alias("bias"),
        ((pl.col("y") >= pl.col("lo95")) & (pl.col("y") <= pl.col("hi95"))).mean().alias("coverage_95"),
    ).sort(group, "wape")


def tracked_by(engine: Engine, by: str) -> pl.DataFrame:
    """Tracked accuracy of what was published (forecast_accuracy) per lag and `by` (lag, model,
    category or region): rows, WAPE, bias (share of actuals), 80% and 95% coverage."""
    with session_scope(engine) as session:
        frame = accuracy_repo.tracked_with_groups(session=session)
    if frame.is_empty():
        return frame
    err = pl.col("yhat") - pl.col("actual")
    inside = lambda level: ((pl.col("actual") >= pl.col(f"lo{level}"))  # noqa: E731
                            & (pl.col("actual") <= pl.col(f"hi{level}"))).mean().alias(f"coverage_{level}")
    keys = ["lag"] if by == "lag" else ["lag", by]
    return frame.group_by(keys).agg(
        pl.len().alias("rows"), (err.abs().sum() / pl.col("actual").sum()).alias("wape"),
        (err.sum() / pl.col("actual").sum()).alias("bias"), inside(80), inside(95)).sort(keys)


def scenario_choices(engine: Engine) -> dict[str, list[str]]:
    """What a planner picks from: hosts seen in livestreams, SKUs, regions, categories, last sales day."""
    with session_scope(engine) as session:
        hosts = signal_repo.livestream_hosts(session=session)
        skus = repo.sku_ids(session=session)
        regions = repo.region_ids(session=session)
        last = repo.last_sales_day(session=session)
    return {"hosts": hosts, "skus": skus, "regions": regions, "last_day": [str(last)]}


def saved_scenarios(engine: Engine) -> pl.DataFrame:
    """Stored scenarios, newest first: id, name, kind, status, who, when, uplift."""
    with session_scope(engine) as session:
        rows = [{"id": s.id, "name": s.name, "kind": s.kind, "status": s.status, "created_by": s.created_by,
                 "created_at": s.created_at, "cutoff": s.cutoff, "horizon": s.horizon}
                for s in scenario_repo.list_scenarios(session=session, limit=200)]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def scenario_values(engine: Engine, scenario_id: int) -> pl.DataFrame:
    """A scenario's rows: sku_id, region_id, day, baseline and scenario forecasts, uplift."""
    with session_scope(engine) as session:
        return scenario_repo.read_scenario_values(session=session, scenario_id=scenario_id)


def series_adjusted(engine: Engine, sku: str, region: str) -> pl.DataFrame:
    """One series from `published_forecast_adjusted`: the statistical and the adjusted forecast per day."""
    with session_scope(engine) as session:
        return override_repo.read_adjusted(session=session, sku=sku, region=region)


def series_overrides(engine: Engine, sku: str, region: str) -> pl.DataFrame:
    """The overrides of one series, newest first."""
    with session_scope(engine) as session:
        return override_repo.list_overrides(session=session, sku=sku, region=region)


NAIVE = "SeasonalNaive"
OVERRIDE_GROUPS = {"planner": "created_by", "reason": "reason", "category": "category", "region": "region_id"}
"""How the override value added can be broken down: label -> column."""


def override_value_added(engine: Engine, by: tuple[str, ...] = ("planner", "reason")) -> pl.DataFrame:
    """Forecast value added of the overrides on the tracked days they touched, per lag and `by`
    (planner, reason, category and/or region).

    A tracked row (a published forecast `lag` days ahead and its actual) counts as overridden when an
    override covering its day existed `lag` days before it; the adjusted value is the newest one's.
    `value_added` = WAPE of the statistical forecast - WAPE of the adjusted one (positive: the
    override helped).
    """
    with session_scope(engine) as session:
        tracked = accuracy_repo.read_tracked(session=session, columns=("sku_id", "region_id", "day", "lag", "yhat",
                                                                       "actual"))
        overrides = override_repo.list_overrides(session=session)
        categories = _categories(session)
    if tracked.is_empty() or overrides.is_empty():
        return pl.DataFrame()
    tracked = tracked.with_columns(pl.col("day").cast(pl.Date),
                                   pl.col("sku_id").replace_strict(categories, default=None).alias("category"))
    overrides = overrides.with_columns(pl.col("created_at").cast(pl.Datetime).dt.date().alias("created_day"))
    matched = tracked.join(overrides, on=["sku_id", "region_id"]).filter(
        (pl.col("start_day") <= pl.col("day")) & (pl.col("day") <= pl.col("end_day"))
        & (pl.col("created_day") <= pl.col("day") - pl.duration(days=pl.col("lag"))))
    newest = matched.sort("id", descending=True).unique(["sku_id", "region_id", "day", "lag"], keep="first")
    adjusted = newest.with_columns(pl.when(pl.col("kind") == "value").then(pl.col("amount"))
                                   .otherwise(pl.col("yhat") * (1 + pl.col("amount") / 100)).alias("adjusted"))
    keys = [OVERRIDE_GROUPS[b] for b in by]
    return _value_added(adjusted.rename({"actual": "y"}), [*keys, "lag"], "yhat", "adjusted").rename(
        {"wape_yhat": "wape_statistical"}).sort(*keys, "lag")


def model_value_added(engine: Engine, run_id: int, by: str | None = None) -> pl.DataFrame:
    """Forecast value added of each model of backtest `run_id` over SeasonalNaive on the same series,
    days and windows, per model (and `by`: category or region).

    `value_added` = WAPE of SeasonalNaive - WAPE of the model (positive: the model did better than
    repeating last week). Empty when the backtest did not run SeasonalNaive.
    """
    with session_scope(engine) as session:
        frame = backtest_repo.read_run_columns(session=session, run_id=run_id, columns=(
            "window_no", "sku_id", "region_id", "day", "model", "y", "yhat"))
        categories = _categories(session)
    frame = frame.rename({"window_no": "window", "sku_id": "sku", "region_id": "region"})
    naive = frame.filter(pl.col("model") == NAIVE)
    if naive.is_empty():
        return pl.DataFrame()
    keys = ["window", "sku", "region", "day"]
    both = frame.filter(pl.col("model") != NAIVE).join(naive.select(*keys, pl.col("yhat").alias("naive")), on=keys)
    both = both.with_columns(pl.col("sku").replace_strict(categories, default=None).alias("category"))
    groups = [by] if by else []
    return _value_added(both, ["model", *groups], "naive", "yhat").rename(
        {"wape_naive": "wape_seasonal_naive", "wape_yhat": "wape_model"}).sort(
        [*groups, "value_added"], descending=[*(False for _ in groups), True])


def _value_added(frame: pl.DataFrame, keys: list[str], before: str, after: str) -> pl.DataFrame:
    """Per `keys`: rows, the pooled WAPE of forecast `before` and of `after` against `y`, and
    value_added = the first - the second."""
    wape = lambda col: ((pl.col(col) - pl.col("y")).abs().sum() / pl.col("y").sum()).alias(f"wape_{col}")  # noqa: E731
    return frame.group_by(keys).agg(pl.len().alias("rows"), wape(before), wape(after)).with_columns(
        (pl.col(f"wape_{before}") - pl.col(f"wape_{after}")).alias("value_added"))


def _categories(session) -> dict[str, str | None]:
    """sku -> category of every stored SKU."""
    return dict(repo.sku_categories(session=session).iter_rows())


def _with_ancestors(session, region: str) -> list[str]:
    """`region` and the regions above it (a plan or a promotion may name a parent)."""
    parents = repo.region_parents(session=session)
    chain, current = [], region
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def series_signals(engine: Engine, sku: str, region: str, since: dt.date) -> dict[str, pl.DataFrame]:
    """The signals around one series from `since`: cases (newest version per day), livestreams
    featuring it, its promotions and the region's holidays and events."""
    with session_scope(engine) as session:
        regions = _with_ancestors(session, region)
        category = repo.sku_category(session=session, sku=sku)
        cases = _cases(session, region, since)
        events = signal_repo.livestreams_from(session=session, since=since)
        streams = [{"day": e.local_day, "host": e.host, "viewers": e.expected_viewers, "discount": e.discount,
                    "known_at": e.known_at, "event": e.event_id} for e in events
                   if (sku in (e.skus or []) or (not e.skus and e.category == category))
                   and (not e.regions or set(e.regions) & set(regions))]
        promo_frame = signal_repo.read_sku_promotions(session=session, sku=sku, regions=regions, since=since)
        holidays = signal_repo.read_calendar_days(session=session, regions=regions, since=since)
    newest = lambda frame, key: frame.sort("known_at").unique(key, keep="last").sort(key)  # noqa: E731
    stream_frame = pl.DataFrame(streams, schema={"day": pl.Date, "host": pl.String, "viewers": pl.Int64,
                                                 "discount": pl.Float64, "known_at": pl.Datetime("us", "UTC"),
                                                 "event": pl.String}, orient="row")
    return {"cases": cases,
            "livestreams": newest(stream_frame, "event").drop("known_at", "event").sort("day"),
            "promotions": newest(promo_frame, "promo").drop("known_at").sort("start_day"),
            "holidays": holidays.unique().sort("day")}


def series_contributions(engine: Engine, run_id: int, sku: str, region: str) -> pl.DataFrame:
    """Per day and signal feature of one series' forecast in run `run_id`: its contribution (margin
    scale), on the days XGBoost made the stored forecast only (`explain.series_contributions`)."""
    with session_scope(engine) as session:
        rows = explain.series_contributions(session=session, run_ids=[run_id], sku=sku, region=region)
    return rows.drop("run_id")


def top_contributions(contributions: pl.DataFrame) -> pl.DataFrame:
    """Per feature over the given days: mean contribution, the factor it makes on the forecast
    (exp of the mean, the model's log link), its largest absolute value and the day of it."""
    return contributions.group_by("feature").agg(
        pl.col("contribution").mean().alias("mean_contribution"),
        pl.col("contribution").abs().max().alias("largest"),
        pl.col("day").sort_by(pl.col("contribution").abs()).last().alias("largest_on"),
    ).with_columns(pl.col("mean_contribution").exp().round(3).alias("factor")).sort("largest", descending=True)


def series_backtest(engine: Engine, sku: str, region: str) -> pl.DataFrame:
    """This series' metrics per model in the newest complete backtest (all its windows)."""
    with session_scope(engine) as session:
        run = backtest_repo.latest_complete_run(session=session)
        if run is None:
            return pl.DataFrame()
        mine = backtest_repo.series_metrics(session=session, run_id=run.id, sku=sku, region=region,
                                            metrics=["wape", "rmsse", "bias", "coverage_80", "coverage_95"])
    if mine.is_empty():
        return mine
    return mine.pivot(on="metric", index="model", values="value").with_columns(pl.lit(run.id).alias("backtest"))


def shock_flags(engine: Engine) -> pl.DataFrame:
    """Each region's newest regional-shock check that is flagged or was triggered, cleared or raised
    in the last 28 days: region, flag (raised, held, cleared), since, why, the measures, and what the
    published run changed for it (`run_changed`: empty when the run predates the flag or ran
    without the shock policy)."""
    with session_scope(engine) as session:
        checks = shock_repo.latest_checks(session=session)
        run = published_repo.latest_published_run(session=session)
        shock = (run.config.get("shock") or {}) if run is not None else {}
    if checks.is_empty():
        return checks
    recent = checks.filter(pl.col("active") | (pl.col("reason") != "") & (
        pl.col("checked_on") > pl.col("checked_on").max() - dt.timedelta(days=28)))
    rules, regions = shock.get("rules", {}), shock.get("regions", {})
    memory = f"fits the last {rules['window']} days (not 2-3 years), " if rules.get("window") else ""
    changed = {r: (f"run {run.id}: {memory}bands x{rules['band_factor']:g}; "
                   + ", ".join(f"{m} {n}" for m, n in v["models"].items())) for r, v in regions.items()}
    flag = (pl.when(~pl.col("active")).then(pl.lit("cleared")).when("triggered").then(pl.lit("raised"))
            .otherwise(pl.lit("held")))
    return recent.select(
        "region", flag.alias("flag"), pl.col("raised_on").alias("since"), "checked_on", pl.col("reason").alias("why"),
        pl.col("cases_week_per_100k").round(1), pl.col("case_rise").round(1), "breakout_series",
        pl.col("breakout_share").round(2),
        pl.col("region").replace_strict(changed, default="", return_dtype=pl.String).alias("run_changed"),
    ).sort(pl.col("flag") == "cleared", "region")


def _days_before(day: dt.date | None, days: int) -> dt.date:
    """`days` before `day` (or a date before any data when there is none)."""
    return day - dt.timedelta(days=days) if day else dt.date(1900, 1, 1)


def exceptions(engine: Engine, limit: int = 10) -> dict[str, pl.DataFrame]:
    """What a planner should look at first: the largest forecast changes against the previous run
    and the series whose tracked one-day-ahead accuracy over the last 28 days is worst (regional
    shocks: `shock_flags`)."""
    with session_scope(engine) as session:
        runs = published_repo.published_run_ids(session=session, limit=2)
        values = published_repo.read_run_values(session=session, run_ids=runs)
        last_tracked = accuracy_repo.last_tracked_day(session=session)
        tracked = accuracy_repo.read_tracked(  # the last 28 tracked days: from the 27th before the newest
            session=session, columns=("sku_id", "region_id", "yhat", "actual"), lag=1,
            since=_days_before(last_tracked, 27)).rename({"sku_id": "sku", "region_id": "region"})
    changes = pl.DataFrame()
    days = [set(values.filter(pl.col("run_id") == r)["day"]) for r in runs]
    shared = days[0] & days[1] if len(days) == 2 else set()
    if shared:  # (a run published for an earlier cutoff may share no day with the one before)
        both = values.filter(pl.col("day").is_in(list(shared)))
        totals = both.group_by("sku", "region", "run_id").agg(pl.col("yhat").sum()).pivot(
            on="run_id", index=["sku", "region"], values="yhat")
        changes = totals.select("sku", "region", pl.col(str(runs[1])).alias("previous"),
                                pl.col(str(runs[0])).alias("now")).with_columns(
            (pl.col("now") - pl.col("previous")).alias("change"),
            ((pl.col("now") / pl.col("previous") - 1) * 100).round(1).alias("change_pct"),
        ).sort(pl.col("change").abs(), descending=True).head(limit)
    poor = tracked.group_by("sku", "region").agg(
        ((pl.col("yhat") - pl.col("actual")).abs().sum() / pl.col("actual").sum()).alias("wape"),
        pl.col("actual").sum().alias("units"), pl.len().alias("days"),
    ).filter(pl.col("units") > 0).sort("wape", descending=True).head(limit) if not tracked.is_empty() else tracked
    return {"changes": changes, "poor_accuracy": poor}


def daily_totals(engine: Engine) -> pl.DataFrame:
    """Per day of the published horizon: total forecast units, and actual units on the same weekday a year
    earlier (364 days before)."""
    with session_scope(engine) as session:
        frame = published_repo.daily_forecast_totals(session=session)
        if frame.is_empty():
            return pl.DataFrame()
        first, last = frame["day"].min() - dt.timedelta(days=364), frame["day"].max() - dt.timedelta(days=364)
        year_ago = sales_repo.daily_units(session=session, first=first, last=last)
    ago = year_ago.rename({"units": "last_year"}).with_columns(pl.col("day") + pl.duration(days=364))
    return frame.join(ago, on="day", how="left").sort("day")
