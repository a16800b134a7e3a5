"""Coherent totals: reconciled SKU x region forecasts add up to their category, region and total nodes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from dashboard import queries
from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.errors import InvalidInputError
from forecast.pipeline.reconcile import BOTTOM, LEVELS, METHODS, base_forecasts, calibrated, node_name, reconcile
from forecast.pipeline.run import run_forecast
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastRun, Sku

H = 14
BOUNDS = ("lo95", "lo80", "yhat", "hi80", "hi95")


def _hierarchy() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """6 SKUs (3 food, 3 without a category) x 3 regions: series, a year of history, flat base forecasts."""
    rng = np.random.default_rng(0)
    series = pl.DataFrame([(str(i), f"S{s}", f"R{r}", "food" if s < 3 else None)
                           for i, (s, r) in enumerate((s, r) for s in range(6) for r in range(3))],
                          schema=["unique_id", "sku", "region", "category"], orient="row")
    days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 12, 31), eager=True)
    weekly = 3 * np.sin(np.arange(len(days)) / 7 * 2 * np.pi)
    history = pl.concat([pl.DataFrame({"unique_id": uid, "ds": days, "y": rng.poisson(5 + k + weekly).astype(float)})
                         for k, uid in enumerate(series["unique_id"])])
    future = pl.date_range(dt.date(2025, 1, 1), dt.date(2025, 1, H), eager=True)
    bottom = pl.concat([pl.DataFrame({"unique_id": uid, "ds": future, "model": "AutoETS", "yhat": 5.0 + k,
                                      "lo80": 3.0 + k, "hi80": 7.0 + k, "lo95": 2.0 + k, "hi95": 8.0 + k})
                        for k, uid in enumerate(series["unique_id"])])
    return series, history, bottom


def _sums_by(bottom: pl.DataFrame, series: pl.DataFrame, *keys: str) -> pl.DataFrame:
    return bottom.join(series.with_columns(pl.col("category").fill_null("uncategorised")), on="unique_id").group_by(
        *keys, "ds").agg(pl.col("yhat").sum().alias("summed"))


@pytest.mark.parametrize("method", METHODS)
def test_reconciled_rows_add_up_at_every_level_with_ordered_intervals(method: str) -> None:
    series, history, bottom = _hierarchy()
    out = reconcile(base_forecasts(bottom, series, history, h=H), method)
    assert out.bottom.height == bottom.height and set(out.bottom["model"]) == {"AutoETS"}
    assert set(out.totals["level"]) == set(LEVELS) - {BOTTOM}
    nodes = out.totals.with_columns(pl.col("node").str.split("/").alias("parts"))
    total = nodes.filter(pl.col("level") == "total").select("ds", "yhat")
    assert total.join(_sums_by(bottom.drop("yhat").join(out.bottom.select("unique_id", "ds", "yhat"),
                                                        on=["unique_id", "ds"]), series.with_columns(pl.lit(1).alias("one")),
                               "one"), on="ds").select((pl.col("yhat") - pl.col("summed")).abs().max()).item() < 1e-6
    region = nodes.filter(pl.col("level") == "region").select(pl.col("parts").list.last().alias("region"), "ds", "yhat")
    diff = region.join(_sums_by(out.bottom, series, "region"), on=["region", "ds"])
    assert diff.height == 3 * H and (diff["yhat"] - diff["summed"]).abs().max() < 1e-6
    cat_region = nodes.filter(pl.col("level") == "category x region").select(
        pl.col("parts").list.get(1).alias("category"), pl.col("parts").list.get(2).alias("region"), "ds", "yhat")
    diff = cat_region.join(_sums_by(out.bottom, series, "category", "region"), on=["category", "region", "ds"])
    assert diff.height == 2 * 3 * H and (diff["yhat"] - diff["summed"]).abs().max() < 1e-6
    for frame in (out.bottom, out.totals):
        ordered = pl.all_horizontal(pl.col(a) <= pl.col(b) for a, b in zip(BOUNDS, BOUNDS[1:])) & (pl.col("lo95") >= 0)
        assert frame.select(ordered).to_series().all()
    # the aggregate bands are wider than any one series' band under them
    widest_bottom = (out.bottom["hi95"] - out.bottom["lo95"]).max()
    assert (total.join(out.totals.filter(pl.col("level") == "total"), on="ds")
            .select((pl.col("hi95") - pl.col("lo95")).min()).item()) > widest_bottom


def test_bottom_up_keeps_the_series_forecasts_and_mint_ols_is_the_closest_coherent_forecast() -> None:
    series, history, bottom = _hierarchy()
    base = base_forecasts(bottom, series, history, h=H)
    up = reconcile(base, "bottom_up")
    assert (up.bottom.join(bottom, on=["unique_id", "ds"]).select((pl.col("yhat") - pl.col("yhat_right")).abs().max())
            .item() < 1e-9)
    ols = reconcile(base, "mint_ols")
    assert ols.bottom.join(bottom, on=["unique_id", "ds"]).select(
        (pl.col("yhat") - pl.col("yhat_right")).abs().max()).item() > 0.01

    def distance(out) -> float:
        """Summed squared distance of every node's reconciled forecast to its base forecast."""
        nodes = pl.concat([out.totals.select("node", "ds", "yhat"),
                           out.bottom.join(base.bottom, on=["unique_id", "ds"]).select("node", "ds", "yhat")])
        return nodes.join(base.wide, on=["node", "ds"]).select(((pl.col("yhat") - pl.col("base")) ** 2).sum()).item()

    # OLS projects the base forecasts onto the coherent ones: no coherent forecast (bottom-up's
    # included) is closer to them
    assert distance(ols) < distance(up)


def test_calibrated_bands_scale_each_levels_half_widths_by_its_factors() -> None:
    series, history, bottom = _hierarchy()
    totals = reconcile(base_forecasts(bottom, series, history, h=H), "bottom_up").totals
    scaled = calibrated(totals, {"total": {"80": 2.0, "95": 1.5}})  # as read back from a run's JSON config
    joined = scaled.join(totals, on=["level", "node", "ds"], suffix="_raw")
    total = joined.filter(pl.col("level") == "total")
    assert (total["hi95"] - total["yhat"]).to_list() == pytest.approx(((total["hi95_raw"] - total["yhat"]) * 1.5).to_list())
    assert (total["yhat"] - total["lo80"]).to_list() == pytest.approx(
        ((total["yhat"] - total["lo80_raw"]) * 2.0).clip(upper_bound=total["yhat"]).to_list())
    others = joined.filter(pl.col("level") != "total")
    assert others["hi95"].to_list() == others["hi95_raw"].to_list() and scaled.height == totals.height


def test_bad_input_is_refused_with_the_reason() -> None:
    series, history, bottom = _hierarchy()
    with pytest.raises(InvalidInputError, match=r"series \['0'\] have no sku/region/category"):
        base_forecasts(bottom, series.filter(pl.col("unique_id") != "0"), history, h=H)
    with pytest.raises(InvalidInputError, match="unknown reconciliation method 'mint_shrunk'"):
        reconcile(base_forecasts(bottom, series, history, h=H), "mint_shrunk")


def test_a_reconciled_run_publishes_totals_that_add_up(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
    report = run_forecast(loaded, horizon=H, models=["SeasonalNaive", "AutoTheta"], reconcile="mint_wls_struct")
    assert report.reconciliation.method == "mint_wls_struct" and report.reconciliation.chosen_by == "asked"
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
        totals = forecast_repo.read_published_totals(session=session)
        config = session.get(ForecastRun, report.run_id).config
    assert config["reconciliation"]["method"] == "mint_wls_struct"
    assert set(totals["run_id"]) == {report.run_id}
    assert report.reconciliation.nodes == totals["node"].n_unique() == 1 + 2 + len(set(categories.values())) * 3
    by_region = published.group_by("region", "day").agg(pl.col("yhat").sum().alias("summed")).join(
        totals.filter(pl.col("level") == "region").with_columns(pl.col("node").str.split("/").list.last().alias("region")),
        on=["region", "day"])
    assert by_region.height == 2 * H and (by_region["yhat"] - by_region["summed"]).abs().max() < 1e-6
    assert set(published["model"]) <= {"SeasonalNaive", "AutoTheta"}  # the base model's name is kept


def test_an_unreconciled_run_leaves_the_published_totals_of_the_last_reconciled_one(loaded: Engine) -> None:
    first = run_forecast(loaded, horizon=7, models=["SeasonalNaive"], reconcile="bottom_up")
    with session_scope(loaded) as session:
        assert set(forecast_repo.read_published_totals(session=session)["run_id"]) == {first.run_id}
    later = run_forecast(loaded, horizon=7, models=["SeasonalNaive"], reconcile="off")
    assert later.reconciliation is None
    with session_scope(loaded) as session:
        # the later run published every series, so the reconciled run is superseded: no totals disagree with it
        assert forecast_repo.read_published_totals(session=session).is_empty()
    with pytest.raises(InvalidInputError, match="--reconcile 'mintrace' is unknown; use auto, off or one of"):
        run_forecast(loaded, horizon=7, models=["SeasonalNaive"], reconcile="mintrace")


SLASHED = {"S0": "home/garden", "S1": "O'Brien \"deli\"", "S2": "Zürich|Nord", "S3": "a b/c"}
"""SKU (and category) names with the characters hierarchicalforecast's node ids would trip on."""
SLASHED_REGIONS = {"R0": "CA/SF", "R1": "Zürich|Nord", "R2": "O'Brien \"deli\""}


def _slashed() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """`_hierarchy` with SKU, region and category names holding `/`, `|`, quotes, spaces and non-ASCII."""
    series, history, bottom = _hierarchy()
    return series.with_columns(
        pl.col("sku").replace(SLASHED), pl.col("region").replace(SLASHED_REGIONS),
        pl.when(pl.col("sku") == "S0").then(pl.lit("home/garden")).when(pl.col("sku") == "S4")
        .then(pl.lit("Zürich|Nord")).otherwise(pl.col("category")).alias("category")), history, bottom


@pytest.mark.parametrize("method", METHODS)
def test_names_with_slashes_quotes_and_non_ascii_reconcile_under_their_real_names(method: str) -> None:
    series, history, bottom = _slashed()
    out = reconcile(base_forecasts(bottom, series, history, h=H), method)
    assert out.bottom.height == bottom.height
    named = set(out.totals.select("level", "node").unique().iter_rows())
    categories = ["food", "home/garden", "uncategorised", "Zürich|Nord"]
    assert named == {("total", "total"), *(("category", node_name(c)) for c in categories),
                     *(("region", node_name(r)) for r in SLASHED_REGIONS.values()),
                     *(("category x region", node_name(c, r)) for c in categories for r in SLASHED_REGIONS.values())}
    summed = _sums_by(out.bottom, series, "category", "region").with_columns(
        pl.struct("category", "region").map_elements(lambda k: node_name(k["category"], k["region"]),
                                                     return_dtype=pl.String).alias("node"))
    diff = out.totals.filter(pl.col("level") == "category x region").join(summed, on=["node", "ds"])
    assert diff.height == 4 * 3 * H and (diff["yhat"] - diff["summed"]).abs().max() < 1e-6


def test_two_nodes_that_read_the_same_joined_by_slashes_are_stored_escaped() -> None:
    series, history, bottom = _hierarchy()
    # category a/b in region c and category a in region b/c: both `total/a/b/c` when joined
    series = series.with_columns(
        pl.when(pl.col("unique_id") == "0").then(pl.lit("a/b")).when(pl.col("unique_id") == "4")
        .then(pl.lit("a")).otherwise(pl.col("category")).alias("category"),
        pl.when(pl.col("unique_id") == "0").then(pl.lit("c")).when(pl.col("unique_id") == "4")
        .then(pl.lit("b/c")).otherwise(pl.col("region")).alias("region"))
    totals = reconcile(base_forecasts(bottom, series, history, h=H), "bottom_up").totals
    cat_region = set(totals.filter(pl.col("level") == "category x region")["node"])
    assert {r"total/a\/b/c", r"total/a/b\/c"} <= cat_region and "total/a/b/c" not in cat_region
    assert node_name("a/b", "c", escaped=True) == r"total/a\/b/c"
    assert node_name("a\\", "x", escaped=True) == r"total/a\\/x"
    # the other levels are unambiguous, so they keep the plain names
    assert {"total/a/b", "total/b/c"} <= set(totals.filter(pl.col("level") != "category x region")["node"])


def _slashed_files(scenario: DemoScenario, folder: Path) -> dict[str, Path]:
    """The scenario's master data and sales with slashed, quoted and non-ASCII names."""
    regions = {"R01": "CA/SF", "R02": "Zürich|Nord"}
    skus = {"STA-001": "home/garden", "STA-002": "O'Brien \"deli\""}
    frames = {"regions": pl.read_csv(scenario.regions).with_columns(pl.col("region").replace(regions)),
              "skus": pl.read_csv(scenario.skus).with_columns(
                  pl.col("sku").replace(skus), pl.col("category").replace({"staples": "home/garden"})),
              "sales": pl.read_csv(scenario.sales).with_columns(
                  pl.col("sku").replace(skus), pl.col("region").replace(regions),
                  pl.col("category").replace({"staples": "home/garden"}))}
    paths = {kind: folder / f"{kind}.csv" for kind in frames}
    for kind, frame in frames.items():
        frame.write_csv(paths[kind])
    return paths


def test_a_run_and_a_backtest_reconcile_slashed_names(cli: CliRunner, engine: Engine, small_scenario: DemoScenario,
                                                      tmp_path: Path) -> None:
    paths = _slashed_files(small_scenario, tmp_path)
    for kind in ("regions", "skus", "sales"):
        assert (result := cli.invoke(app, ["ingest", kind, str(paths[kind])])).exit_code == 0, result.output
    result = cli.invoke(app, ["forecast", "run", "--models", "SeasonalNaive", "--horizon", "7", "--reconcile", "auto"])
    assert result.exit_code == 0, result.output
    with session_scope(engine) as session:
        totals = forecast_repo.read_published_totals(session=session)
        published = forecast_repo.read_published(session=session)
    nodes = set(totals.select("level", "node").unique().iter_rows())
    assert {("category", "total/home/garden"), ("region", "total/CA/SF"), ("region", "total/Zürich|Nord"),
            ("category x region", "total/home/garden/CA/SF")} <= nodes
    shown = queries.group_reconciled(engine, "home/garden", "CA/SF")  # what the Explorer's Totals view shows
    assert shown.height == 7
    by_day = published.join(_categories(engine), on="sku").filter(
        (pl.col("category") == "home/garden") & (pl.col("region") == "CA/SF")).group_by("day").agg(pl.col("yhat").sum())
    assert (shown.join(by_day, on="day").select((pl.col("yhat") - pl.col("yhat_right")).abs().max()).item()) < 1e-6

    backtest = cli.invoke(app, ["backtest", "run", "--windows", "3", "--horizon", "7", "--models", "SeasonalNaive",
                                "--models", "CrostonOptimized"])
    assert backtest.exit_code == 0, backtest.output
    scored = cli.invoke(app, ["backtest", "reconcile", "--methods", "bottom_up", "--json"])
    assert scored.exit_code == 0, scored.output
    levels = {row["level"] for row in json.loads(scored.stdout)["table"]}
    assert levels == set(LEVELS)


def _categories(engine: Engine) -> pl.DataFrame:
    with session_scope(engine) as session:
        return pl.DataFrame(session.execute(select(Sku.id, Sku.category)).all(), schema=["sku", "category"],
                            orient="row")
