"""`demand backtest`: rolling-origin backtests that analysts run, inspect, rerun and compare."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import typer
from rich.table import Table

from forecast.cli.common import (DASK_ADDRESS_OPTION, ENGINE_OPTION, cli_errors, emit_json, execution_options,
                                 migrated_engine, progress_bar, stdout)
from forecast.errors import InvalidInputError
from forecast.storage import backtest_repo
from forecast.storage.engine import session_scope

app = typer.Typer(help="Rolling-origin backtests with the signals as known at each origin.", no_args_is_help=True)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")
N_JOBS = typer.Option(1, min=1, max=8, help="Worker processes for the model libraries.")
SHOWN = ("wrmsse", "rmsse", "mase", "wape", "bias", "coverage_80", "coverage_95", "pinball")


def _print_summary(report: Any) -> None:
    stdout.print(f"backtest {report.run_id} {report.status}: {report.series} series, windows from "
                 f"{', '.join(report.cutoffs)} to {report.data_cutoff}, data as of batch {report.data_batch_id}, "
                 f"in {report.seconds:.1f}s" + (f" (rerun of {report.rerun_of})" if report.rerun_of else ""),
                 highlight=False)
    _print_rows(report.summary, title="over the windows every model has")


def _print_rows(rows: list[dict[str, Any]], *, title: str, key: str = "model") -> None:
    columns = [c for c in SHOWN if rows and c in rows[0]]
    table = Table(key, *columns, title=title)
    for row in rows:
        table.add_row(str(row[key]), *("" if row.get(c) is None else f"{row[c]:.3f}" for c in columns))
    stdout.print(table)


@app.command()
@cli_errors
def run(
    windows: int = typer.Option(3, help="Forecast origins; the last window ends on the last sales day."),
    horizon: int = typer.Option(28, help="Days forecast from each origin."),
    step: int | None = typer.Option(None, help="Days between origins (default: the horizon)."),
    models: list[str] = typer.Option(None, "--models", help="Model names (repeatable); default "
                                     "SeasonalNaive AutoETS AutoTheta CrostonOptimized XGBoost."),
    compare_signals: bool = typer.Option(False, help="Also run the signal-reading models without the signals."),
    select: bool = typer.Option(True, help="Add Selected and Ensemble, chosen per series on earlier windows."),
    selection_metric: str = typer.Option("rmsse", help="rmsse, mase, mae or wape."),
    ensemble_size: int = typer.Option(3, help="Members of the ensemble."),
    ensemble_method: str = typer.Option("inverse_error", help="inverse_error or median."),
    cutoff: str | None = typer.Option(None, help="Last day of actuals, YYYY-MM-DD (default: the last sales day)."),
    n_jobs: int = N_JOBS,
    engine: str = ENGINE_OPTION,
    dask_address: str | None = DASK_ADDRESS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Backtest models on rolling windows and store every forecast and metric."""
    from forecast.backtest import BacktestConfig, run_backtest
    from forecast.backtest.config import DEFAULT_MODELS

    execution, address = execution_options(engine, dask_address)
    try:
        data_cutoff = dt.date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise InvalidInputError(f"--cutoff {cutoff!r} is not a date; use YYYY-MM-DD") from None
    config = BacktestConfig(windows=windows, horizon=horizon, step=step, models=tuple(models or DEFAULT_MODELS),
                            compare_signals=compare_signals, select=select, selection_metric=selection_metric,
                            ensemble_size=ensemble_size, ensemble_method=ensemble_method)
    from forecast.pipeline.forecaster import Forecaster

    Forecaster(list(config.models))  # unknown model names fail here, before anything is written
    database = migrated_engine()
    with progress_bar(enabled=not json_output) as update:
        report = run_backtest(database, config, data_cutoff=data_cutoff, n_jobs=n_jobs, progress=update,
                              execution=execution, dask_address=address)
    emit_json(report.to_dict()) if json_output else _print_summary(report)


@app.command()
@cli_errors
def reconcile(
    run_id: int | None = typer.Argument(None, help="The backtest (default: the newest complete one)."),
    model: str = typer.Option("Selected", help="The model whose SKU x region forecasts are reconciled."),
    methods: list[str] = typer.Option(None, "--methods", help="Reconciliation methods (repeatable); default "
                                      "bottom_up mint_ols mint_wls_struct."),
    n_jobs: int = N_JOBS,
    json_output: bool = JSON_OPTION,
) -> None:
    """Reconcile a backtest's forecasts with the category, region and total levels by each method and
    score every level before and after; `forecast run --reconcile auto` then uses the best method."""
    from forecast.backtest.reconcile import reconcile_backtest
    from forecast.pipeline.reconcile import METHODS

    database = migrated_engine()
    with progress_bar(enabled=not json_output) as update:
        report = reconcile_backtest(database, run_id, model=model, methods=methods or METHODS, n_jobs=n_jobs,
                                    progress=update)
    if json_output:
        emit_json(report.to_dict())
        return
    columns = [c for c in ("rmsse", "mase", "wape", "coverage_80", "coverage_95") if report.table and c in report.table[0]]
    table = Table("level", "method", *columns, title=f"backtest {report.run_id}, {report.model}, windows "
                  f"{', '.join(map(str, report.windows))}: mean over the nodes of each level and the windows")
    for row in report.table:
        table.add_row(row["level"], row["method"], *("" if row.get(c) is None else f"{row[c]:.3f}" for c in columns))
    stdout.print(table)
    stdout.print(f"best: {report.best} (lowest RMSSE averaged over the levels); `demand forecast run --reconcile auto` "
                 "uses it", highlight=False)


@app.command()
@cli_errors
def rerun(run_id: int = typer.Argument(..., help="The backtest to run again."), n_jobs: int = N_JOBS,
          engine: str = ENGINE_OPTION, dask_address: str | None = DASK_ADDRESS_OPTION,
          json_output: bool = JSON_OPTION) -> None:
    """Run a stored backtest again with its config and the data as it was known then; say whether it matches."""
    from forecast.backtest import rerun_backtest

    execution, address = execution_options(engine, dask_address)
    database = migrated_engine()
    with progress_bar(enabled=not json_output) as update:
        report = rerun_backtest(database, run_id, n_jobs=n_jobs, progress=update, execution=execution,
                                dask_address=address)
    with session_scope(database) as session:
        before = backtest_repo.read_metrics(session=session, run_id=run_id)
        after = backtest_repo.read_metrics(session=session, run_id=report.run_id)
    same = _difference(before, after)
    if json_output:
        emit_json({**report.to_dict(), "matches_original": same["identical"], "max_abs_difference": same["max"]})
        return
    _print_summary(report)
    verdict = "the same numbers" if same["identical"] else f"different numbers (largest difference {same['max']:.3g})"
    stdout.print(f"rerun of {run_id}: {verdict} over {same['rows']:,} metric rows", highlight=False)


def _difference(a: pl.DataFrame, b: pl.DataFrame) -> dict[str, Any]:
    """Whether two runs' metric rows are identical, and their largest difference."""
    keys = [c for c in backtest_repo.METRIC_COLUMNS if c != "value"]
    joined = a.join(b, on=keys, how="full", suffix="_b", nulls_equal=True, coalesce=True)
    worst = joined.select((pl.col("value") - pl.col("value_b")).abs().max()).item()
    return {"identical": a.equals(b), "max": worst or 0.0, "rows": a.height}


def _summary_rows(run_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], pl.DataFrame]:
    from forecast.backtest.run import summary_table

    with session_scope(migrated_engine()) as session:
        run = backtest_repo.get_run(session=session, run_id=run_id)
        info = {"id": run.id, "status": run.status, "created_at": run.created_at, "data_cutoff": run.data_cutoff,
                "data_batch_id": run.data_batch_id, "config": run.config, "series": run.series_count,
                "seconds": run.duration_seconds, "code_version": run.code_version, "rerun_of": run.rerun_of,
                "error": run.error}
        metrics = backtest_repo.read_metrics(session=session, run_id=run_id, pooled_only=True)
    return info, (summary_table(metrics) if not metrics.is_empty() else []), metrics


@app.command()
@cli_errors
def show(run_id: int = typer.Argument(...),
         by: str = typer.Option("model", help="model, window, step or level (WRMSSE per aggregation level)."),
         json_output: bool = JSON_OPTION) -> None:
    """A stored backtest: its config and metrics by model, window, horizon step or WRMSSE level."""
    info, summary, metrics = _summary_rows(run_id)
    rows = summary if by == "model" else _breakdown(metrics, by)
    if json_output:
        emit_json({**info, "by": by, "rows": rows})
        return
    stdout.print(f"backtest {info['id']} {info['status']}: {info['series']} series, data cutoff {info['data_cutoff']}, "
                 f"batch {info['data_batch_id']}, config {info['config']}", highlight=False)
    if info["error"]:
        stdout.print(f"error: {info['error']}", markup=False)
    _print_rows(rows, title=f"by {by}", key="model" if by == "model" else "row")


def _breakdown(metrics: pl.DataFrame, by: str) -> list[dict[str, Any]]:
    if by == "window":
        rows = metrics.filter((pl.col("step") == 0) & ((pl.col("metric") != "wrmsse") | (pl.col("region_id") == "WRMSSE")))
        label = pl.format("{} window {}", "model", "window_no")
    elif by == "step":
        rows = metrics.filter((pl.col("step") > 0) & (pl.col("window_no") >= 0))
        rows = rows.group_by("model", "step", "metric").agg(pl.col("value").mean())
        label = pl.format("{} step {}", "model", "step")
    elif by == "level":
        rows = metrics.filter((pl.col("metric") == "wrmsse") & (pl.col("window_no") == -1))
        rows = rows.with_columns(pl.col("value").alias("wrmsse")).select("model", "region_id", "wrmsse")
        return rows.sort("region_id", "model").select(pl.format("{} {}", "model", "region_id").alias("row"),
                                                       "wrmsse").to_dicts()
    else:
        raise InvalidInputError(f"--by {by!r} is unknown; use model, window, step or level")
    wide = rows.with_columns(label.alias("row")).pivot(on="metric", index="row", values="value", aggregate_function="first")
    return wide.sort("row").to_dicts()


@app.command()
@cli_errors
def compare(run_a: int = typer.Argument(...), run_b: int = typer.Argument(...), json_output: bool = JSON_OPTION) -> None:
    """Two backtests side by side: each model's metrics in A and B and the change."""
    summaries = {side: {r["model"]: r for r in _summary_rows(run)[1]} for side, run in (("a", run_a), ("b", run_b))}
    models = list(dict.fromkeys([*summaries["a"], *summaries["b"]]))
    rows = [{"model": m, **{f"{k}_{side}": summaries[side].get(m, {}).get(k) for side in ("a", "b") for k in SHOWN}}
            for m in models]
    if json_output:
        emit_json({"a": run_a, "b": run_b, "rows": rows})
        return
    table = Table("model", *(f"{m} A → B" for m in ("wrmsse", "rmsse", "wape", "coverage_95")),
                  title=f"backtest {run_a} → {run_b}")
    for r in rows:
        cells = []
        for m in ("wrmsse", "rmsse", "wape", "coverage_95"):
            x, y = r.get(f"{m}_a"), r.get(f"{m}_b")
            cells.append(f"{'' if x is None else f'{x:.3f}'} → {'' if y is None else f'{y:.3f}'}")
        table.add_row(r["model"], *cells)
    stdout.print(table)


@app.command()
@cli_errors
def runs(limit: int = typer.Option(20, min=1), json_output: bool = JSON_OPTION) -> None:
    """Backtest runs, newest first."""
    with session_scope(migrated_engine()) as session:
        rows = [{"id": r.id, "status": r.status, "created_at": r.created_at, "data_cutoff": r.data_cutoff,
                 "data_batch_id": r.data_batch_id, "windows": r.config.get("windows"), "horizon": r.config.get("horizon"),
                 "models": r.config.get("models"), "series": r.series_count, "seconds": r.duration_seconds,
                 "rerun_of": r.rerun_of, "error": r.error} for r in backtest_repo.list_runs(session=session, limit=limit)]
    if json_output:
        emit_json(rows)
        return
    table = Table("id", "status", "created", "data cutoff", "windows", "horizon", "series", "seconds", "rerun of")
    for r in rows:
        table.add_row(str(r["id"]), r["status"], f"{r['created_at']:%Y-%m-%d %H:%M}", str(r["data_cutoff"]),
                      str(r["windows"]), str(r["horizon"]), str(r["series"]), f"{r['seconds'] or 0:.1f}",
                      str(r["rerun_of"] or ""))
    stdout.print(table if rows else "no backtests yet; run `demand backtest run`")
