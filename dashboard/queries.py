"""The dashboard's read-only query layer over the published tables. Pure functions of an engine
(testable without Streamlit); `dashboard.data` caches them for the pages."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine, func, select, text

from forecast.backtest.run import summary_table
from forecast.pipeline import explain
from forecast.pipeline.explain import explain_change
from forecast.pipeline.nodes import level_of, node_name
from forecast.storage import backtest_repo, forecast_repo, job_repo, override_repo, scenario_repo, shock_repo
from forecast.storage.backtest_repo import ALL_WINDOWS
from forecast.storage.engine import session_scope
from forecast.storage.schema import (
    BacktestForecast,
    BacktestMetric,
    CalendarEvent,
    CaseCount,
    ForecastAccuracy,
    ForecastRun,
    ForecastValue,
    JobRun,
    LivestreamEvent,
    Promotion,
    PublishedSeries,
    Region,
    Sales,
    Sku,
)

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
        run = session.scalars(select(ForecastRun).where(ForecastRun.status == "published")
                              .order_by(ForecastRun.published_at.desc()).limit(1)).first()
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
        published = pl.DataFrame(session.execute(select(PublishedSeries.sku_id, PublishedSeries.region_id)).all(),
                                 schema=["sku", "region"], orient="row")
        skus = pl.DataFrame(session.execute(select(Sku.id, Sku.name, Sku.category)).all(),
                            schema=["sku", "sku_name", "category"], orient="row")
        regions = pl.DataFrame(session.execute(select(Region.id, Region.name, Region.parent_id)).all(),
                               schema=["region", "region_name", "parent"], orient="row")
    return published.join(skus, on="sku", how="left").join(regions, on="region", how="left").sort("sku", "region")


def series_forecast(engine: Engine, sku: str, region: str) -> pl.DataFrame:
    """The published forecast of one SKU x region: day, yhat, bands, model, run_id."""
    with session_scope(engine) as session:
        return forecast_repo.read_published(session=session, sku=sku, region=region)


def series_history(engine: Engine, sku: str, region: str, days: int = 365) -> pl.DataFrame:
    """The last `days` of sales of one SKU x region: day, units."""
    with session_scope(engine) as session:
        last = session.scalar(select(func.max(Sales.day)).where(Sales.sku_id == sku, Sales.region_id == region))
        if last is None:
            return pl.DataFrame(schema={"day": pl.Date, "units": pl.Float64})
        rows = session.execute(select(Sales.day, Sales.units).where(
            Sales.sku_id == sku, Sales.region_id == region, Sales.day > last - dt.timedelta(days=days))
            .order_by(Sales.day)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "units": pl.Float64}, orient="row")


def _published_rows():
    """`published_forecast` as SQLAlchemy sees it: forecast values of the run each series points to."""
    v, p = ForecastValue, PublishedSeries
    return select().select_from(v).join(p, (p.run_id == v.run_id) & (p.sku_id == v.sku_id)
                                        & (p.region_id == v.region_id))


def region_totals(engine: Engine) -> pl.DataFrame:
    """Per region x category: forecast units over the published horizon and the same days a year earlier
    (364 days before: the same weekdays), both summed in the database."""
    v, p = ForecastValue, PublishedSeries
    with session_scope(engine) as session:
        first, last = session.execute(_published_rows().add_columns(func.min(v.day), func.max(v.day))).one()
        if first is None:
            return pl.DataFrame()
        forecast = session.execute(_published_rows().add_columns(v.region_id, Sku.category, func.sum(v.yhat))
                                   .join(Sku, Sku.id == v.sku_id, isouter=True)
                                   .group_by(v.region_id, Sku.category)).all()
        year_ago = session.execute(
            select(Sales.region_id, Sku.category, func.sum(Sales.units))
            .join(p, (p.sku_id == Sales.sku_id) & (p.region_id == Sales.region_id))
            .join(Sku, Sku.id == Sales.sku_id, isouter=True)
            .where(Sales.day.between(first - dt.timedelta(days=364), last - dt.timedelta(days=364)))
            .group_by(Sales.region_id, Sku.category)).all()
    keys = {"region": pl.String, "category": pl.String}
    totals = pl.DataFrame(forecast, schema={**keys, "forecast": pl.Float64}, orient="row").join(
        pl.DataFrame(year_ago, schema={**keys, "last_year": pl.Float64}, orient="row"),
        on=["region", "category"], how="left", nulls_equal=True)
    change = ((pl.col("forecast") / pl.col("last_year") - 1) * 100).round(1).alias("change_pct")
    return totals.with_columns(change).sort("region", "category")


def _in_group(query, sku_column, region_column, category: str | None, region: str | None):
    """`query` narrowed to one category and/or region (None: all)."""
    if category is not None:
        query = query.join(Sku, Sku.id == sku_column).where(Sku.category == category)
    if region is not None:
        query = query.where(region_column == region)
    return query


def group_forecast(engine: Engine, category: str | None, region: str | None) -> pl.DataFrame:
    """The published forecast summed over a category and/or region (None: all) per day: yhat, the sums
    of the series' band limits, and how many series. A sum of band limits is the band of the total
    only if all series err together, so it is an upper bound of the total's spread."""
    v = ForecastValue
    sums = [func.sum(c) for c in (v.yhat, v.lo80, v.hi80, v.lo95, v.hi95)]
    query = _in_group(_published_rows().add_columns(v.day, *sums, func.count()), v.sku_id, v.region_id,
                      category, region)
    with session_scope(engine) as session:
        rows = session.execute(query.group_by(v.day).order_by(v.day)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "yhat": pl.Float64, "lo80": pl.Float64, "hi80": pl.Float64,
                                      "lo95": pl.Float64, "hi95": pl.Float64, "series": pl.Int64}, orient="row")


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
        config = session.get(ForecastRun, rows["run_id"][0]).config
    method = config.get("reconciliation", {}).get("method", "")
    return rows.select("day", "yhat", "lo80", "hi80", "lo95", "hi95", "base_yhat", "run_id").with_columns(
        pl.lit(method).alias("method"))


def group_history(engine: Engine, category: str | None, region: str | None, days: int = 365) -> pl.DataFrame:
    """The last `days` of sales summed over the published series of a category and/or region: day, units."""
    p = PublishedSeries
    with session_scope(engine) as session:
        last = session.scalar(select(func.max(Sales.day)))
        if last is None:
            return pl.DataFrame(schema={"day": pl.Date, "units": pl.Float64})
        query = _in_group(select(Sales.day, func.sum(Sales.units))
                          .join(p, (p.sku_id == Sales.sku_id) & (p.region_id == Sales.region_id))
                          .where(Sales.day > last - dt.timedelta(days=days)), Sales.sku_id, Sales.region_id,
                          category, region)
        rows = session.execute(query.group_by(Sales.day).order_by(Sales.day)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "units": pl.Float64}, orient="row")


def region_cases(engine: Engine, region: str, since: dt.date) -> pl.DataFrame:
    """New cases per 100k in `region` from `since`, the newest version of each day: day, per100k."""
    with session_scope(engine) as session:
        return _cases(session, region, since)


def _cases(session, region: str, since: dt.date) -> pl.DataFrame:
    cases = pl.DataFrame(session.execute(
        select(CaseCount.day, CaseCount.known_at, CaseCount.new_cases_per_100k)
        .where(CaseCount.region_id == region, CaseCount.day >= since)).all(),
        schema={"day": pl.Date, "known_at": pl.Datetime("us", "UTC"), "per100k": pl.Float64}, orient="row")
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
        rows = session.execute(select(BacktestForecast.model, BacktestForecast.sku_id, BacktestForecast.region_id,
                                      BacktestForecast.y, BacktestForecast.yhat, BacktestForecast.lo95,
                                      BacktestForecast.hi95).where(BacktestForecast.run_id == run_id)).all()
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
    frame = pl.DataFrame(rows, schema=["model", "sku", "region", "y", "yhat", "lo95", "hi95"], orient="row")
    frame = frame.with_columns(pl.col("sku").replace_strict(categories, default=None).alias("category"))
    err = pl.col("yhat") - pl.col("y")
    return frame.group_by("model", group).agg(
        (err.abs().sum() / pl.col("y").sum()).alias("wape"), (err.sum() / pl.col("y").sum()).alias("bias"),
        ((pl.col("y") >= pl.col("lo95")) & (pl.col("y") <= pl.col("hi95"))).mean().alias("coverage_95"),
    ).sort(group, "wape")


def tracked_by(engine: Engine, by: str) -> pl.DataFrame:
    """Tracked accuracy of what was published (forecast_accuracy) per lag and `by` (lag, model,
    category or region): rows, WAPE, bias (share of actuals), 80% and 95% coverage."""
    a = ForecastAccuracy
    with session_scope(engine) as session:
        rows = session.execute(select(a.lag, a.model, Sku.category, a.region_id.label("region"), a.yhat, a.actual,
                                      a.lo80, a.hi80, a.lo95, a.hi95).join(Sku, Sku.id == a.sku_id)).all()
    frame = pl.DataFrame(rows, schema=["lag", "model", "category", "region", "yhat", "actual", "lo80", "hi80", "lo95",
                                       "hi95"], orient="row")
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
        hosts = session.scalars(select(LivestreamEvent.host).distinct().order_by(LivestreamEvent.host)).all()
        skus = session.scalars(select(Sku.id).order_by(Sku.id)).all()
        regions = session.scalars(select(Region.id).order_by(Region.id)).all()
        last = session.scalar(select(func.max(Sales.day)))
    return {"hosts": list(hosts), "skus": list(skus), "regions": list(regions), "last_day": [str(last)]}


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
    a = ForecastAccuracy
    with session_scope(engine) as session:
        tracked = pl.DataFrame(session.execute(select(a.sku_id, a.region_id, a.day, a.lag, a.yhat, a.actual)).all(),
                               schema=["sku_id", "region_id", "day", "lag", "yhat", "actual"], orient="row")
        overrides = override_repo.list_overrides(session=session)
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
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
    f = BacktestForecast
    with session_scope(engine) as session:
        rows = session.execute(select(f.window_no, f.sku_id, f.region_id, f.day, f.model, f.y, f.yhat).where(
            f.run_id == run_id)).all()
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
    frame = pl.DataFrame(rows, schema=["window", "sku", "region", "day", "model", "y", "yhat"], orient="row")
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


def _with_ancestors(session, region: str) -> list[str]:
    """`region` and the regions above it (a plan or a promotion may name a parent)."""
    parents = dict(session.execute(select(Region.id, Region.parent_id)).all())
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
        category = session.scalar(select(Sku.category).where(Sku.id == sku))
        cases = _cases(session, region, since)
        events = session.execute(select(LivestreamEvent).where(LivestreamEvent.local_day >= since,
                                                               LivestreamEvent.status != "cancelled")).scalars().all()
        streams = [{"day": e.local_day, "host": e.host, "viewers": e.expected_viewers, "discount": e.discount,
                    "known_at": e.known_at, "event": e.event_id} for e in events
                   if (sku in (e.skus or []) or (not e.skus and e.category == category))
                   and (not e.regions or set(e.regions) & set(regions))]
        promos = session.execute(select(Promotion.promo_id, Promotion.start_day, Promotion.end_day, Promotion.discount,
                                        Promotion.known_at).where(
            Promotion.sku_id == sku, Promotion.end_day >= since,
            (Promotion.region_id.is_(None)) | Promotion.region_id.in_(regions))).all()
        holidays = session.execute(select(CalendarEvent.day, CalendarEvent.name, CalendarEvent.kind).where(
            CalendarEvent.day >= since, (CalendarEvent.region_key == "*") | CalendarEvent.region_id.in_(regions))).all()
    newest = lambda frame, key: frame.sort("known_at").unique(key, keep="last").sort(key)  # noqa: E731
    stream_frame = pl.DataFrame(streams, schema={"day": pl.Date, "host": pl.String, "viewers": pl.Int64,
                                                 "discount": pl.Float64, "known_at": pl.Datetime("us", "UTC"),
                                                 "event": pl.String}, orient="row")
    promo_frame = pl.DataFrame(promos, schema={"promo": pl.String, "start_day": pl.Date, "end_day": pl.Date,
                                               "discount": pl.Float64, "known_at": pl.Datetime("us", "UTC")},
                               orient="row")
    return {"cases": cases,
            "livestreams": newest(stream_frame, "event").drop("known_at", "event").sort("day"),
            "promotions": newest(promo_frame, "promo").drop("known_at").sort("start_day"),
            "holidays": pl.DataFrame(holidays, schema={"day": pl.Date, "name": pl.String, "kind": pl.String},
                                     orient="row").unique().sort("day")}


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
    m = BacktestMetric
    with session_scope(engine) as session:
        run = backtest_repo.latest_complete_run(session=session)
        if run is None:
            return pl.DataFrame()
        rows = session.execute(select(m.model, m.metric, m.value).where(  # the primary key's prefix: an index seek
            m.run_id == run.id, m.window_no == ALL_WINDOWS, m.sku_id == sku, m.region_id == region, m.step == 0,
            m.metric.in_(["wape", "rmsse", "bias", "coverage_80", "coverage_95"]))).all()
    mine = pl.DataFrame(rows, schema={"model": pl.String, "metric": pl.String, "value": pl.Float64}, orient="row")
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
        run = session.scalars(select(ForecastRun).where(ForecastRun.status == "published")
                              .order_by(ForecastRun.published_at.desc()).limit(1)).first()
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
        runs = session.execute(select(ForecastRun.id).where(ForecastRun.published_at.is_not(None))
                               .order_by(ForecastRun.published_at.desc()).limit(2)).scalars().all()
        values = pl.DataFrame(session.execute(select(ForecastValue.run_id, ForecastValue.sku_id,
                                                     ForecastValue.region_id, ForecastValue.day, ForecastValue.yhat)
                                              .where(ForecastValue.run_id.in_(runs))).all(),
                              schema=["run_id", "sku", "region", "day", "yhat"], orient="row")
        last_tracked = session.scalar(select(func.max(ForecastAccuracy.day)))
        tracked = pl.DataFrame(session.execute(select(ForecastAccuracy.sku_id, ForecastAccuracy.region_id,
                                                      ForecastAccuracy.yhat, ForecastAccuracy.actual).where(
            ForecastAccuracy.lag == 1, ForecastAccuracy.day > _days_before(last_tracked, 28)))
            .all(), schema=["sku", "region", "yhat", "actual"], orient="row")
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
        forecast = session.execute(text("SELECT day, sum(yhat) FROM published_forecast GROUP BY day ORDER BY day"))
        forecast = forecast.all()
        if not forecast:
            return pl.DataFrame()
        frame = pl.DataFrame([(d if isinstance(d, dt.date) else dt.date.fromisoformat(d), v) for d, v in forecast],
                             schema={"day": pl.Date, "forecast": pl.Float64}, orient="row")
        first, last = frame["day"].min() - dt.timedelta(days=364), frame["day"].max() - dt.timedelta(days=364)
        year_ago = session.execute(select(Sales.day, func.sum(Sales.units)).where(Sales.day.between(first, last))
                                   .group_by(Sales.day)).all()
    ago = pl.DataFrame(year_ago, schema={"day": pl.Date, "last_year": pl.Float64}, orient="row").with_columns(
        pl.col("day") + pl.duration(days=364))
    return frame.join(ago, on="day", how="left").sort("day")
