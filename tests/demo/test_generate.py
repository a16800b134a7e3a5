"""Tests for the synthetic demo scenario: format of every file, determinism, and the planted effects."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forecast.demo import DemoScenario, generate_demo
from forecast.errors import InvalidInputError

SMALL = {"n_skus": 12, "n_regions": 4, "days": 400}
SALES_COLUMNS = ["sku", "region", "day", "units", "price", "on_promo", "category"]
FILES = ("regions", "skus", "sales", "case_counts", "livestreams", "promotions", "ground_truth")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return generate_demo(tmp_path_factory.mktemp("small"), seed=3, **SMALL)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    return generate_demo(tmp_path_factory.mktemp("default"))


def _raw_sales(scenario: DemoScenario) -> pl.DataFrame:
    return pl.read_csv(scenario.sales, infer_schema=False)


def _sales(scenario: DemoScenario) -> pl.DataFrame:
    return pl.read_csv(scenario.sales, try_parse_dates=True)


@dataclass
class Cube:
    """Sales as dense SKU × region × day arrays, with the days touched by promotions or events."""

    skus: list[str]
    regions: list[str]
    start: dt.date
    units: np.ndarray  # NaN before launch
    promo_busy: np.ndarray  # promoted days and the pre-promotion dip
    event_busy: np.ndarray  # days of any event, done or cancelled


def _cube(s: DemoScenario) -> Cube:
    sales = _sales(s)
    skus = pl.read_csv(s.skus)["sku"].to_list()
    regions = sorted(sales["region"].unique().to_list())
    days = (s.last_day - s.first_day).days + 1
    units = np.full((len(skus), len(regions), days), np.nan)
    si = sales["sku"].replace_strict({k: i for i, k in enumerate(skus)}).to_numpy()
    ri = sales["region"].replace_strict({k: i for i, k in enumerate(regions)}).to_numpy()
    di = np.array([(d - s.first_day).days for d in sales["day"].to_list()])
    units[si, ri, di] = sales["units"].to_numpy()
    cube = Cube(skus, regions, s.first_day, units, np.zeros(units.shape, bool), np.zeros(units.shape, bool))
    for p in pl.read_csv(s.promotions, try_parse_dates=True).iter_rows(named=True):
        r = slice(None) if p["region"] == "all" else regions.index(p["region"])
        d0, d1 = (p["start"] - s.first_day).days, (p["end"] - s.first_day).days
        cube.promo_busy[skus.index(p["sku"]), r, max(0, d0 - 3): d1 + 1] = True
    for e in pl.read_csv(s.livestreams).iter_rows(named=True):
        si, ri, d = _event_cells(e, cube, pl.read_csv(s.skus, try_parse_dates=True))
        cube.event_busy[np.ix_(si, ri, [d])] = True
    return cube


def _event_cells(event: dict, cube: Cube, skus: pl.DataFrame) -> tuple[list[int], list[int], int]:
    day = dt.datetime.fromisoformat(event["start"]).date()
    d = (day - cube.start).days
    if event["skus"]:
        names = event["skus"].split(";")
    else:
        names = skus.filter((pl.col("category") == event["category"]) & (pl.col("launch_day") <= day))["sku"]
    regions = cube.regions if event["regions"] == "all" else event["regions"].split(";")
    return [cube.skus.index(n) for n in names], [cube.regions.index(r) for r in regions], d


def _measured_uplift(s: DemoScenario, cube: Cube, events: pl.DataFrame) -> float:
    """Units on the events' days over the mean of the same weekday ±4 weeks without events or promotions."""
    skus = pl.read_csv(s.skus, try_parse_dates=True)
    on_day = baseline = 0.0
    busy = cube.promo_busy | cube.event_busy
    for e in events.iter_rows(named=True):
        si, ri, d = _event_cells(e, cube, skus)
        for s_i in si:
            for r_i in ri:
                if cube.promo_busy[s_i, r_i, d] or np.isnan(cube.units[s_i, r_i, d]):
                    continue
                around = [d + 7 * k for k in (-4, -3, -2, -1, 1, 2, 3, 4) if 0 <= d + 7 * k < cube.units.shape[2]]
                clean = [x for x in around if not busy[s_i, r_i, x] and not np.isnan(cube.units[s_i, r_i, x])]
                if len(clean) >= 3:
                    on_day += cube.units[s_i, r_i, d]
                    baseline += float(np.mean(cube.units[s_i, r_i, clean]))
    assert baseline > 0, "no event cell had a clean baseline"
    return on_day / baseline


# --- determinism and arguments --------------------------------------------------------------------


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a", seed=11, **SMALL)
    b = generate_demo(tmp_path / "b", seed=11, **SMALL)
    c = generate_demo(tmp_path / "c", seed=12, **SMALL)
    for name in FILES:
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    for name in ("sales", "case_counts", "livestreams", "promotions", "ground_truth"):
        assert getattr(a, name).read_bytes() != getattr(c, name).read_bytes(), name


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_skus": 3}, r"n_skus=3: expected 9 to 999"),
    ({"n_regions": 1}, r"n_regions=1: expected 2 to 99"),
    ({"days": 30}, r"days=30: expected 180 to 3660"),
    ({"n_skus": 500, "n_regions": 50}, r"n_skus × n_regions × days = 27,400,000 is more than 12,000,000"),
])
def test_out_of_range_sizes_are_rejected(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        generate_demo(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_scenario_counts_match_the_files(small: DemoScenario) -> None:
    assert small.n_sales_rows == _raw_sales(small).height
    assert small.n_events == pl.read_csv(small.livestreams).height
    assert small.n_promotions == pl.read_csv(small.promotions).height
    assert (small.first_day, small.last_day) == (dt.date(2023, 1, 1), dt.date(2023, 1, 1) + dt.timedelta(days=399))
    assert json.loads(small.ground_truth.read_text())["seed"] == 3
    summary = json.loads(json.dumps(small.to_dict()))
    assert summary["sales"] == str(small.sales) and summary["last_day"] == "2024-02-04"
    assert summary["n_sales_rows"] == small.n_sales_rows


# --- sales ------------------------------------------------------------------------------------------


def test_sales_have_exactly_the_canonical_columns_and_types(small: DemoScenario) -> None:
    raw = _raw_sales(small)
    assert raw.columns == SALES_COLUMNS
    assert raw["day"].str.to_date("%Y-%m-%d", strict=True).dt.to_string("%Y-%m-%d").equals(raw["day"])
    assert raw["units"].str.contains(r"^\d+$").all()
    assert raw["price"].str.contains(r"^\d+\.\d{2}$").all()
    assert set(raw["on_promo"].unique()) == {"0", "1"}
    assert set(raw["category"].unique()) == {"staples", "fashion", "electronics"}


def test_one_row_per_sku_region_day_from_launch_in_leaf_regions_only(small: DemoScenario) -> None:
    sales = _sales(small)
    assert sales.select(pl.struct("sku", "region", "day").is_unique().all()).item()
    regions = pl.read_csv(small.regions)
    assert set(sales["region"]) == set(regions.filter(pl.col("parent").is_not_null())["region"])
    skus = pl.read_csv(small.skus, try_parse_dates=True)
    spans = sales.group_by("sku", "region").agg(pl.len(), pl.col("day").min().alias("first"))
    expected = skus.select("sku", "launch_day", n=(pl.lit(small.last_day) - pl.col("launch_day")).dt.total_days() + 1)
    joined = spans.join(expected, on="sku")
    assert joined.height == len(skus) * small.n_regions
    assert (joined["len"] == joined["n"]).all() and (joined["first"] == joined["launch_day"]).all()
    assert sales.join(skus, on="sku").select((pl.col("category") == pl.col("category_right")).all()).item()


def test_on_promo_is_one_exactly_on_promoted_days_and_price_is_discounted(small: DemoScenario) -> None:
    sales, cube = _sales(small), _cube(small)
    promos = pl.read_csv(small.promotions, try_parse_dates=True)
    days = promos.select("sku", "region", "discount", day=pl.date_ranges("start", "end")).explode("day")
    days = pl.concat([days.filter(pl.col("region") != "all"),
                      days.filter(pl.col("region") == "all").drop("region").join(
                          pl.DataFrame({"region": cube.regions}), how="cross").select(days.columns)])
    flagged = sales.filter(pl.col("on_promo") == 1).select("sku", "region", "day")
    assert flagged.sort(pl.all()).equals(days.select("sku", "region", "day").sort(pl.all()))
    assert ((promos["end"] - promos["start"]).dt.total_days() + 1).is_between(3, 14).all()
    assert promos["discount"].is_between(0.1, 0.4).all()
    base = pl.read_csv(small.skus).select("sku", "base_price")
    promoted = sales.filter(pl.col("on_promo") == 1).join(base, on="sku")
    assert (promoted["price"] < promoted["base_price"]).all()


def test_slow_movers_are_mostly_zero_and_spread_across_categories(small: DemoScenario) -> None:
    skus = pl.read_csv(small.skus)
    slow = skus.filter(pl.col("behaviour") == "slow_mover")
    assert slow["category"].n_unique() >= 2
    stats = _sales(small).filter(pl.col("sku").is_in(slow["sku"].implode())).group_by("sku", "region").agg(
        zero=(pl.col("units") == 0).mean(), mean=pl.col("units").mean())
    assert stats.height == slow.height * small.n_regions
    assert (stats["zero"] > 0.6).all() and (stats["mean"] < 0.5).all()
    regular = _sales(small).filter(~pl.col("sku").is_in(slow["sku"].implode()))
    assert regular["units"].mean() > 2


def test_skus_have_ids_categories_and_late_fashion_launches(default: DemoScenario) -> None:
    skus = pl.read_csv(default.skus, try_parse_dates=True)
    assert skus.columns == ["sku", "name", "category", "behaviour", "base_price", "launch_day"]
    assert skus["sku"].str.contains(r"^(STA|FAS|ELE)-\d{3}$").all()
    prefix = skus["sku"].str.slice(0, 3).replace_strict({"STA": "staples", "FAS": "fashion", "ELE": "electronics"})
    assert (prefix == skus["category"]).all()
    late = skus.filter(pl.col("launch_day") > default.first_day)
    assert late.height >= 2 and set(late["category"]) == {"fashion"}
    truth = json.loads(default.ground_truth.read_text())
    assert set(truth["late_launches"]) == set(late["sku"])


# --- master data and case counts -----------------------------------------------------------------


def test_parent_populations_are_the_sum_of_their_children(default: DemoScenario) -> None:
    regions = pl.read_csv(default.regions)
    assert regions.columns == ["region", "name", "parent", "population"]
    parents, leaves = regions.filter(pl.col("parent").is_null()), regions.filter(pl.col("parent").is_not_null())
    assert 2 <= parents.height <= 3 and leaves.height == default.n_regions
    assert set(leaves["parent"]) == set(parents["region"])
    sums = leaves.group_by("parent").agg(pl.col("population").sum()).rename({"parent": "region"})
    assert parents.select("region", "population").sort("region").equals(sums.sort("region"))
    assert leaves["population"].is_between(300_000, 9_000_000).all()


def test_case_counts_are_integers_reported_later_with_one_late_wave(default: DemoScenario) -> None:
    raw = pl.read_csv(default.case_counts, infer_schema=False)
    assert raw.columns == ["region", "day", "new_cases", "reported_at"]
    assert raw["new_cases"].str.contains(r"^\d+$").all()
    cases = pl.read_csv(default.case_counts, try_parse_dates=True)
    lag = (cases["reported_at"] - cases["day"]).dt.total_days()
    assert lag.is_between(1, 3).all() and lag.n_unique() == 3
    days = (default.last_day - default.first_day).days + 1
    assert cases.height == days * default.n_regions
    pop = pl.read_csv(default.regions).select("region", "population")
    rate = cases.join(pop, on="region").sort("region", "day").with_columns(
        per_100k=(pl.col("new_cases") / pl.col("population") * 1e5).rolling_mean(7).over("region"))
    early = rate.filter(pl.col("day") < default.first_day + dt.timedelta(days=int(days * 2 / 3)))
    assert early["per_100k"].max() < 1
    peaks = rate.group_by("region").agg(pl.col("per_100k").max(), pl.col("day").sort_by("per_100k").last())
    assert peaks["per_100k"].min() > 10 and peaks["per_100k"].max() > 2 * peaks["per_100k"].min()
    assert 10 <= (peaks["day"].max() - peaks["day"].min()).days <= 50


# --- livestreams and the planted effects ------------------------------------------------------------


def test_livestream_schedule_format(default: DemoScenario) -> None:
    events = pl.read_csv(default.livestreams)
    assert 80 <= events.height <= 150 and 3 <= events["host"].n_unique() <= 4
    assert set(events["status"]) == {"done", "cancelled"} and (events["status"] == "done").mean() > 0.85
    assert events["discount"].is_between(0, 0.3).all()
    skus = pl.read_csv(default.skus)
    category = dict(zip(skus["sku"], skus["category"]))
    for e in events.iter_rows(named=True):
        start, end = dt.datetime.fromisoformat(e["start"]), dt.datetime.fromisoformat(e["end"])
        announced = dt.datetime.fromisoformat(e["announced_at"])
        assert start.utcoffset() is not None and announced.utcoffset() is not None
        assert start.date() == end.date() and 1 <= (end - start).total_seconds() / 3600 <= 4
        assert 3 <= (start - announced).days <= 21
        featured = e["skus"].split(";") if e["skus"] else []
        assert len(featured) <= 4 and all(category[s] == e["category"] for s in featured)
    share = events["category"].value_counts(normalize=True)
    assert share.filter(pl.col("category").is_in(["electronics", "fashion"]))["proportion"].sum() > 0.7


def test_done_events_lift_demand_in_the_order_of_host_uplift(default: DemoScenario) -> None:
    cube, events = _cube(default), pl.read_csv(default.livestreams)
    truth = json.loads(default.ground_truth.read_text())["livestreams"]
    hosts = truth["hosts"]
    measured = {h: _measured_uplift(default, cube, events.filter((pl.col("host") == h) & (pl.col("status") == "done")))
                for h in hosts}
    for host, value in measured.items():
        planted = np.mean([a["multiplier"] for a in truth["applied"].values()
                           if a["host"] == host and a["status"] == "done"])
        assert value > 1.2, (host, value)
        assert abs(value / planted - 1) < 0.25, (host, value, planted)
    by_uplift = sorted(hosts, key=lambda h: hosts[h]["base_uplift"])
    assert measured[by_uplift[-1]] > measured[by_uplift[0]] * 1.5


def test_cancelled_events_have_no_effect(default: DemoScenario) -> None:
    cube, events = _cube(default), pl.read_csv(default.livestreams)
    truth = json.loads(default.ground_truth.read_text())["livestreams"]["applied"]
    cancelled = events.filter(pl.col("status") == "cancelled")
    assert cancelled.height >= 2
    assert all(truth[e]["multiplier"] == 1.0 for e in cancelled["event_id"])
    assert 0.85 < _measured_uplift(default, cube, cancelled) < 1.15


def test_epidemic_lifts_staples_and_electronics_and_cuts_fashion(default: DemoScenario) -> None:
    """Difference in differences: (peak / same days a year before) / (pre-wave / same days a year before)."""
    cube = _cube(default)
    epi = json.loads(default.ground_truth.read_text())["epidemic"]["regions"]
    skus = pl.read_csv(default.skus, try_parse_dates=True)
    clean = np.where(cube.promo_busy | cube.event_busy, np.nan, cube.units)
    ratios = {}
    for category in ("staples", "fashion", "electronics"):
        rows = skus.filter((pl.col("category") == category) & (pl.col("behaviour") != "slow_mover")
                           & (pl.col("launch_day") == default.first_day))
        si = [cube.skus.index(s) for s in rows["sku"]]
        sums = np.zeros(4)
        for r, region in enumerate(cube.regions):
            peak, sigma = epi[region]["peak_day_index"], epi[region]["sigma_days"]
            pre = int(peak - 3 * sigma) - 42
            windows = [range(peak - 10, peak + 11), range(peak - 374, peak - 353),
                       range(pre, pre + 28), range(pre - 364, pre - 336)]
            sums += [np.nanmean(clean[np.ix_(si, [r], list(w))]) for w in windows]
        ratios[category] = (sums[0] / sums[1]) / (sums[2] / sums[3])
    assert ratios["staples"] > 1.15, ratios
    assert ratios["electronics"] > 1.05, ratios
    assert ratios["fashion"] < 0.85, ratios
