"""signals.features: hand-checked feature values and point-in-time properties (nothing after the cutoff leaks)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from signals.features import FEATURE_COLUMNS, FEATURE_DOCS, FEATURE_SCHEMA, build_features
from signals.frames import CALENDAR_SCHEMA, CASES_SCHEMA, LIVESTREAM_SCHEMA, PROMOTION_SCHEMA, as_of_instant

D0 = dt.date(2024, 3, 1)
UTC = dt.timezone.utc


def day(i: int) -> dt.date:
    return D0 + dt.timedelta(days=i)


def at(i: int, hour: int = 0) -> dt.datetime:
    """Start of day i (plus hours), UTC."""
    return dt.datetime.combine(day(i), dt.time(), tzinfo=UTC) + dt.timedelta(hours=hour)


def make_panel(series: list[tuple[str, str]], n_days: int, y: list[float] | None = None) -> pl.DataFrame:
    rows = [(sku, region, day(i)) for sku, region in series for i in range(n_days)]
    values = y if y is not None else [float(i) for _ in series for i in range(n_days)]
    return pl.DataFrame(
        {"sku": [r[0] for r in rows], "region": [r[1] for r in rows], "day": [r[2] for r in rows], "y": values},
        schema={"sku": pl.String, "region": pl.String, "day": pl.Date, "y": pl.Float64},
    )


def frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType], **defaults: Any) -> pl.DataFrame:
    return pl.DataFrame([{**{c: None for c in schema}, **defaults, **r} for r in rows], schema=schema, orient="row")


def case(region: str | None, d: int, value: float | None, known: int) -> dict[str, Any]:
    return {"region": region, "source_region": region, "day": day(d), "new_cases_per_100k": value,
            "new_cases": value, "known_at": at(known)}  # fmt: skip


def event(eid: str, d: int, known: int, **kw: Any) -> dict[str, Any]:
    hours = kw.pop("hours", 1)
    base = {"event_id": eid, "host": "Ann", "platform": "tt", "start_at": at(d, 10), "end_at": at(d, 10 + hours),
            "utc_offset": "+00:00", "local_day": day(d), "skus": [], "category": None, "regions": None,
            "expected_viewers": 100, "discount": 0.0, "status": "scheduled", "announced_at": at(known),
            "known_at": at(known)}  # fmt: skip
    return {**base, **kw}


def promo(pid: str, sku: str, region: str | None, start: int, end: int, discount: float, known: int) -> dict[str, Any]:
    return {"promo_id": pid, "sku": sku, "region": region, "start": day(start), "end": day(end),
            "discount": discount, "known_at": at(known)}  # fmt: skip


def cal(region: str | None, d: int, name: str, kind: str, known: int = -365) -> dict[str, Any]:
    return {"region": region, "day": day(d), "name": name, "kind": kind, "known_at": at(known)}


def col(out: pl.DataFrame, name: str, **keys: Any) -> list[Any]:
    return out.filter(**keys)[name].to_list()


# --------------------------------------------------------------------------------------------- cases

CASES_0_TO_9 = [case("CA", d, float(d), d + 1) for d in range(10)]  # day d known at the start of d+1
TRAILING = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]  # 7-day means of days 0..8


def test_case_means_lags_growth_and_hold_projection() -> None:
    out = build_features(make_panel([("A", "CA")], 16), cutoff=day(9), cases=frame(CASES_0_TO_9, CASES_SCHEMA))
    level = out["cases_7d_per_100k"].to_list()
    assert level == TRAILING + [5.0] * 7  # day 9 is known only at day 10: projected from day 8 on
    assert out["cases_projected"].to_list() == [0] * 9 + [1] * 7
    assert out["cases_7d_per_100k_lag7"].to_list() == [0.0] * 7 + TRAILING[:9]
    assert out["cases_7d_per_100k_lag14"].to_list() == [0.0] * 14 + TRAILING[:2]
    growth = out["cases_wow_growth"].to_list()
    assert growth[8] == pytest.approx(math.log(6.0 / 1.5), rel=1e-12)
    assert growth[3] == pytest.approx(math.log(2.5), rel=1e-12)
    assert growth[15] == 0.0  # a week past the data, hold has no growth


@pytest.mark.parametrize(("scenario", "factor"), [("rising", 1.3), ("falling", 0.7)])
def test_case_scenarios_scale_by_weeks_ahead(scenario: str, factor: float) -> None:
    out = build_features(
        make_panel([("A", "CA")], 16), cutoff=day(9), cases=frame(CASES_0_TO_9, CASES_SCHEMA), case_scenario=scenario
    )
    level = out["cases_7d_per_100k"].to_list()
    assert level[15] == pytest.approx(5.0 * factor, rel=1e-12)
    assert level[12] == pytest.approx(5.0 * factor ** (4 / 7), rel=1e-12)
    assert out["cases_wow_growth"][15] == pytest.approx(math.log((5.0 * factor + 1) / 6.0), rel=1e-12)


def test_case_reporting_lag_versions_and_days_before_data() -> None:
    rows = [case("CA", d, 7.0, d + 1) for d in range(3, 8)]
    rows += [case("CA", 8, 70.0, 10)]  # day T-1 = 8, known at T+1 = 10: not visible at cutoff 9
    rows += [case("CA", 5, 100.0, 9), case("CA", 5, 999.0, 10)]  # revision known at T counts, at T+1 not
    out = build_features(make_panel([("A", "CA")], 10), cutoff=day(9), cases=frame(rows, CASES_SCHEMA))
    assert out["cases_projected"].to_list() == [0] * 8 + [1, 1]
    assert out["cases_7d_per_100k"].to_list()[:4] == [0.0, 0.0, 0.0, 7.0]
    assert out["cases_7d_per_100k"][7] == pytest.approx((4 * 7.0 + 100.0) / 5, rel=1e-12)
    later = build_features(make_panel([("A", "CA")], 10), cutoff=day(10), cases=frame(rows, CASES_SCHEMA))
    assert later["cases_projected"].to_list() == [0] * 9 + [1]  # day 9 itself has no data yet
    assert later["cases_7d_per_100k"][8] == pytest.approx((4 * 7.0 + 999.0 + 70.0) / 6, rel=1e-12)


def test_store_finds_cases_at_its_nearest_ancestor_with_data() -> None:
    rows = [case("CA", d, 10.0, 0) for d in range(5)] + [case("s2", d, 2.0, 0) for d in range(5)]
    rows += [case(None, d, 500.0, 0) for d in range(5)]  # unmapped rows are ignored
    parents = {"s1": "CA", "s2": "CA", "CA": "US", "US": None}
    panel = make_panel([("A", "s1"), ("A", "s2"), ("A", "TX")], 5)
    out = build_features(panel, cutoff=day(4), cases=frame(rows, CASES_SCHEMA), region_parents=parents)
    assert col(out, "cases_7d_per_100k", region="s1") == [10.0] * 5
    assert col(out, "cases_7d_per_100k", region="s2") == [2.0] * 5
    assert col(out, "cases_7d_per_100k", region="TX") == [0.0] * 5


# ---------------------------------------------------------------------------------------- livestreams

LS_SERIES = [("A", "r1"), ("B", "r1"), ("B", "r2"), ("C", "r2")]
CATEGORIES = {"A": "toys", "B": "toys", "C": "food"}


def livestream_out() -> pl.DataFrame:
    rows = [
        event("e1", 5, 1, skus=["A"], regions=["r1"], hours=2, expected_viewers=1000, discount=0.2, host="Ann"),
        event("e2", 5, 1, category="toys", expected_viewers=5000, discount=0.1, host="Bo"),  # all regions
        event("e3", 7, 1, skus=["C"], regions=["r2"]),
        event("e3", 8, 2, skus=["C"], regions=["r2"]),  # moved before the cutoff: used
        event("e3", 9, 4, skus=["C"], regions=["r2"]),  # moved after the cutoff: ignored
        event("e4", 6, 1, skus=["B"], regions=["r1"]),
        event("e4", 6, 3, skus=["B"], regions=["r1"], status="cancelled"),
        event("e5", 2, 4, skus=["A", "B", "C"]),  # announced after the cutoff
    ]
    panel = make_panel(LS_SERIES, 10)
    return build_features(
        panel, cutoff=day(3), livestreams=frame(rows, LIVESTREAM_SCHEMA), sku_categories=CATEGORIES
    )


def test_livestream_day_values_sum_max_and_top_host() -> None:
    out = livestream_out()
    a = out.filter(sku="A", day=day(5)).row(0, named=True)
    assert (a["ls_on_air"], a["ls_hours"], a["ls_expected_viewers"], a["ls_discount"]) == (1, 3.0, 6000.0, 0.2)
    assert a["ls_host"] == "Bo"
    b2 = out.filter(sku="B", region="r2", day=day(5)).row(0, named=True)
    assert (b2["ls_on_air"], b2["ls_hours"], b2["ls_host"]) == (1, 1.0, "Bo")
    assert col(out, "ls_on_air", sku="C") == [0] * 8 + [1, 0]
    assert col(out, "ls_on_air", sku="B", region="r1") == [0] * 5 + [1] + [0] * 4  # e4 cancelled
    assert out.filter(ls_on_air=0)["ls_host"].null_count() == out.filter(ls_on_air=0).height


def test_livestream_days_to_next_and_since_last() -> None:
    out = livestream_out()
    assert col(out, "ls_days_to_next", sku="A") == [5, 4, 3, 2, 1, 0, 60, 60, 60, 60]
    assert col(out, "ls_days_since_last", sku="A") == [60] * 5 + [0, 1, 2, 3, 4]
    assert col(out, "ls_days_to_next", sku="C") == [8, 7, 6, 5, 4, 3, 2, 1, 0, 60]


def test_host_uplift_is_each_hosts_past_mean_shrunk_to_all_hosts() -> None:
    """Flat sales of 10; Ann's event on day 35 doubles (21): log 2; Bo's on day 36 changes nothing: 0."""
    y = [10.0] * 70
    y[35] = 21.0
    events = [event("a1", 35, 0, host="Ann", skus=["A"]), event("b1", 36, 0, host="Bo", skus=["A"]),
              event("a2", 50, 0, host="Ann", skus=["A"]), event("b2", 51, 0, host="Bo", skus=["A"]),
              event("c1", 52, 0, host="Cy", skus=["A"]), event("a3", 66, 0, host="Ann", skus=["A"])]
    out = build_features(make_panel([("A", "r1")], 70, y), cutoff=day(60),
                         livestreams=frame(events, LIVESTREAM_SCHEMA))
    uplift = dict(zip(out["day"].to_list(), out["ls_host_uplift"].to_list(), strict=True))
    log2 = math.log(2.0)
    assert uplift[day(35)] == 0.0  # no event before it: nothing known yet, not its own outcome
    assert uplift[day(36)] == pytest.approx(2 * log2 / 2)  # Bo unknown: all hosts' mean, log 2
    assert uplift[day(50)] == pytest.approx((log2 + 2 * (log2 / 2)) / 3)  # Ann: 1 event of log 2, shrunk to log2/2
    # Ann's day-50 event sold the usual 10 (uplift 0), so the mean of all three events before day 51 is log 2 / 3
    assert uplift[day(51)] == pytest.approx((0.0 + 2 * (log2 / 3)) / 3)  # Bo: 1 event of 0
    assert uplift[day(52)] == pytest.approx(log2 / 4)  # Cy never seen: the mean of all four before
    assert uplift[day(66)] == pytest.approx((log2 + 0.0 + 2 * (log2 / 5)) / 4)  # after the cutoff: all 5 events
    assert set(out.filter(ls_on_air=0)["ls_host_uplift"]) == {0.0}


def test_host_uplift_ignores_sales_after_the_cutoff() -> None:
    y = [10.0] * 40
    y[30] = 100.0  # Ann's event on day 30, after the cutoff: its sales are not known
    events = [event("a1", 30, 0, host="Ann", skus=["A"]), event("a2", 35, 0, host="Ann", skus=["A"])]
    out = build_features(make_panel([("A", "r1")], 40, y), cutoff=day(29), livestreams=frame(events, LIVESTREAM_SCHEMA))
    assert out.filter(day=day(35))["ls_host_uplift"].item() == 0.0


def test_price_rel_is_the_price_against_the_regular_one_and_planned_after_the_cutoff() -> None:
    panel = make_panel([("A", "r1")], 14).with_columns(
        pl.Series("price", [10.0, 10.0, 8.0, 10.0, 12.0, 12.0, 9.0, None, 99.0, 99.0, 99.0, 99.0, 99.0, 99.0]))
    promos = [promo("p1", "A", None, 2, 2, 0.2, 0), promo("p2", "A", None, 11, 11, 0.25, 0)]
    events = [event("e1", 6, 0, skus=["A"], discount=0.25), event("e2", 12, 0, skus=["A"], discount=0.1)]
    out = build_features(panel, cutoff=day(7), promotions=frame(promos, PROMOTION_SCHEMA),
                         livestreams=frame(events, LIVESTREAM_SCHEMA))
    rel = out["price_rel"].to_list()
    assert rel[:7] == pytest.approx([1.0, 1.0, 0.8, 1.0, 1.0, 1.0, 0.75])  # regular: 10, then 12 from day 4
    assert rel[7] == 1.0  # price unknown on the cutoff day: the last undiscounted price (12) / 12
    # after the cutoff: prices are never read (99); planned = 12 x (1 - discounts) / 12
    assert rel[8:] == pytest.approx([1.0, 1.0, 1.0, 0.75, 0.9, 1.0])
    assert build_features(make_panel([("A", "r1")], 5), cutoff=day(3))["price_rel"].to_list() == [1.0] * 5


# ---------------------------------------------------------------------------------------- promotions

PROMOS = [
    promo("p1", "A", None, 10, 12, 0.2, 0),
    promo("p2", "A", "r1", 20, 21, 0.3, 5),
    promo("p2", "A", "r1", 20, 21, 0.4, 12),  # revised before the cutoff: used
    promo("p2", "A", "r1", 25, 26, 0.5, 16),  # revised after the cutoff: ignored
    promo("p3", "A", "r2", 3, 4, 0.9, 0),  # another region
]


def promotion_out(y: list[float] | None = None) -> pl.DataFrame:
    panel = make_panel([("A", "r1")], 30, y)
    return build_features(panel, cutoff=day(14), promotions=frame(PROMOS, PROMOTION_SCHEMA))


def test_promotion_flags_discounts_and_days_to_next() -> None:
    out = promotion_out()
    on = [1 if 10 <= d <= 12 or 20 <= d <= 21 else 0 for d in range(30)]
    assert out["promo_on"].to_list() == on
    assert out["promo_discount"][11] == 0.2 and out["promo_discount"][20] == 0.4
    assert out["promo_days_to_next"].to_list()[:14] == [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 7]
    assert out["promo_days_to_next"].to_list()[19:] == [1, 0, 0] + [60] * 8


def test_sales_before_promo_and_last_week_read_only_y_up_to_cutoff() -> None:
    out = promotion_out()
    before = out["sales_7d_before_promo"].to_list()
    assert before[:13] == [42.0] * 13  # days 3..9 before p1 (y = day index)
    assert before[13:] == [None] * 17  # p2's run-up reaches past the cutoff; then nothing upcoming
    last_week = out["sales_last_week"].to_list()
    assert last_week[:4] == [0.0, 0.0, 1.0, 3.0]
    assert last_week[10] == 42.0 and last_week[15] == 77.0
    assert last_week[16:] == [77.0] * 14  # after the cutoff: days 8..14
    masked = promotion_out([float(d) if d <= 14 else 1e9 for d in range(30)])
    assert_frame_equal(masked.drop("y"), out.drop("y"))


# ------------------------------------------------------------------------------------------ calendar


def test_calendar_of_region_ancestors_and_everywhere() -> None:
    rows = [
        cal("CA", 2, "Cesar Chavez Day", "holiday"),
        cal(None, 3, "SuperBowl", "sporting"),
        cal(None, 3, "Christmas Day", "holiday"),
        cal("s1", 4, "SNAP", "snap"),
        cal("TX", 2, "Rodeo", "cultural"),
        cal("CA", 1, "Late", "holiday", known=6),  # known after the cutoff
    ]
    parents = {"s1": "CA", "s2": "TX", "CA": "US", "TX": "US"}
    out = build_features(
        make_panel([("A", "s1"), ("A", "s2")], 5), cutoff=day(5), calendar=frame(rows, CALENDAR_SCHEMA),
        region_parents=parents,
    )  # fmt: skip
    assert col(out, "cal_holiday", region="s1") == [0, 0, 1, 1, 0]
    assert col(out, "cal_event", region="s2") == [0, 0, 1, 1, 0]
    assert col(out, "cal_snap", region="s1") == [0, 0, 0, 0, 1]
    assert col(out, "cal_names", region="s1") == [None, None, "Cesar Chavez Day", "Christmas Day; SuperBowl", "SNAP"]
    assert col(out, "cal_names", region="s2")[2] == "Rodeo"


# -------------------------------------------------------------------------------- layout and errors


def test_missing_signals_give_the_same_columns_with_neutral_values() -> None:
    panel = make_panel([("A", "r1"), ("B", "r2")], 4)
    out = build_features(panel, cutoff=day(2))
    assert out.columns == [*panel.columns, *FEATURE_COLUMNS]
    assert set(FEATURE_DOCS) == set(FEATURE_COLUMNS)
    assert dict(out.select(FEATURE_COLUMNS).schema) == FEATURE_SCHEMA
    row = out.row(0, named=True)
    assert row["ls_days_to_next"] == row["ls_days_since_last"] == row["promo_days_to_next"] == 60
    assert row["ls_host"] is None and row["cal_names"] is None and row["sales_7d_before_promo"] is None
    empty = {"cases": frame([], CASES_SCHEMA), "livestreams": frame([], LIVESTREAM_SCHEMA),
             "promotions": frame([], PROMOTION_SCHEMA), "calendar": frame([], CALENDAR_SCHEMA)}  # fmt: skip
    assert_frame_equal(build_features(panel, cutoff=day(2), **empty), out)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"panel": lambda p: p.drop("y")}, r"panel is missing columns \['y'\]"),
        ({"panel": lambda p: pl.concat([p, p.head(1)])}, r"repeated \(sku, region, day\).*aggregate"),
        ({"panel": lambda p: p.with_columns(pl.col("day").cast(pl.Datetime))}, "expected Date"),
        ({"panel": lambda p: p.with_columns(region=pl.lit(None, pl.String))}, "null sku, region or day"),
        ({"panel": lambda p: p.with_columns(ls_hours=pl.lit(1.0))}, "already has feature columns"),
        ({"case_scenario": "boom"}, "case_scenario 'boom' is unknown"),
        ({"scenario_weekly_rate": 1.5}, r"outside \[0, 1\]"),
        ({"region_parents": {"r1": "X", "X": "r1"}}, "cycle"),
        ({"promotions": pl.DataFrame({"promo_id": ["p"]})}, "promotions is missing columns"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(change: dict[str, Any], message: str) -> None:
    panel = make_panel([("A", "r1")], 3)
    kwargs = dict(change)
    panel = kwargs.pop("panel", lambda p: p)(panel)
    with pytest.raises(ValueError, match=message):
        build_features(panel, cutoff=day(1), **kwargs)


def test_features_follow_their_rows_when_the_panel_is_shuffled() -> None:
    panel = make_panel([("A", "CA"), ("B", "CA")], 16)
    signals = {"cases": frame(CASES_0_TO_9, CASES_SCHEMA), "promotions": frame(PROMOS, PROMOTION_SCHEMA)}
    ordered = build_features(panel, cutoff=day(9), **signals)
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=7)
    out = build_features(shuffled, cutoff=day(9), **signals)
    assert_frame_equal(out.select(panel.columns), shuffled)
    assert_frame_equal(out.sort("sku", "day"), ordered.sort("sku", "day"))


# ----------------------------------------------------------------------------------- properties

SKUS, REGIONS = ["A", "B", "C"], ["s1", "s2", "CA"]
PARENTS = {"s1": "CA", "s2": "CA", "CA": None}
NAMES = ("cases", "livestreams", "promotions", "calendar")


def _case_row(draw: st.DrawFn, n: int, known: dt.datetime) -> dict[str, Any]:
    value = draw(st.one_of(st.none(), st.floats(0, 500)))
    return {**case(draw(st.sampled_from(["s1", "CA", "TX", None])), draw(st.integers(-10, n + 5)), value, 0),
            "known_at": known}  # fmt: skip


def _event_row(draw: st.DrawFn, n: int, known: dt.datetime) -> dict[str, Any]:
    regions = draw(st.one_of(st.none(), st.lists(st.sampled_from([*REGIONS, "TX"]), max_size=2)))
    return {**event(draw(st.sampled_from(["e0", "e1", "e2", "e3"])), draw(st.integers(-5, n + 5)), 0,
                    hours=draw(st.integers(0, 5)), skus=draw(st.lists(st.sampled_from(SKUS), max_size=2)),
                    category=draw(st.sampled_from(["toys", "food", None])), regions=regions,
                    host=draw(st.sampled_from(["Ann", "Bo", None])), expected_viewers=draw(st.integers(0, 9)),
                    discount=draw(st.floats(0, 1)), status=draw(st.sampled_from(["scheduled", "cancelled", "done"]))),
            "known_at": known, "announced_at": known}  # fmt: skip


def _promo_row(draw: st.DrawFn, n: int, known: dt.datetime) -> dict[str, Any]:
    start = draw(st.integers(-10, n + 5))
    return {**promo(draw(st.sampled_from(["p0", "p1", "p2", "p3"])), draw(st.sampled_from(SKUS)),
                    draw(st.sampled_from([None, *REGIONS])), start, start + draw(st.integers(0, 9)),
                    draw(st.floats(0, 1)), 0), "known_at": known}  # fmt: skip


def _cal_row(draw: st.DrawFn, n: int, known: dt.datetime) -> dict[str, Any]:
    kind = draw(st.sampled_from(["holiday", "sporting", "snap", "custom", "religious"]))
    region = draw(st.sampled_from([None, *REGIONS, "TX"]))
    name = draw(st.sampled_from(["X", "Y", "Z"]))
    return {**cal(region, draw(st.integers(-2, n + 2)), name, kind), "known_at": known}


ROWS = {"cases": (_case_row, CASES_SCHEMA), "livestreams": (_event_row, LIVESTREAM_SCHEMA),
        "promotions": (_promo_row, PROMOTION_SCHEMA), "calendar": (_cal_row, CALENDAR_SCHEMA)}  # fmt: skip


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    """A panel (maybe shuffled), a cutoff, signal frames, and others differing only in what is unknown at it."""
    n = draw(st.integers(30, 60))
    series = draw(st.lists(st.tuples(st.sampled_from(SKUS), st.sampled_from(REGIONS)), min_size=2, max_size=3,
                           unique=True))  # fmt: skip
    cutoff = day(draw(st.integers(-3, n + 3)))
    as_of = as_of_instant(cutoff)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    panel = make_panel(series, n, rng.poisson(5.0, len(series) * n).astype(float).tolist())
    panel = panel[rng.permutation(panel.height).tolist()] if draw(st.booleans()) else panel
    hours = st.integers(-24 * 15, 24 * 5).map(lambda h: as_of + dt.timedelta(hours=h))
    late = st.integers(0, 24 * 20).map(lambda h: as_of + dt.timedelta(hours=h))
    base, added, altered = {}, {}, {}
    for name, (row, schema) in ROWS.items():
        rows, alts = [], []
        for _ in range(draw(st.integers(0, 12))):
            known = draw(hours)
            rows.append(row(draw, n, known))
            alts.append(row(draw, n, known) if known >= as_of else rows[-1])
        extra = [row(draw, n, draw(late)) for _ in range(draw(st.integers(1, 5)))]
        at_ = draw(st.integers(0, len(rows)))
        base[name] = frame(rows, schema)
        added[name] = frame(rows[:at_] + extra + rows[at_:], schema)
        altered[name] = frame(alts, schema)
    new_y = pl.Series(rng.poisson(50.0, panel.height).astype(float))
    return {
        "panel": panel, "cutoff": cutoff, "base": base, "added": added, "altered": altered,
        "panel_new_y": panel.with_columns(y=pl.when(pl.col("day") > cutoff).then(new_y).otherwise("y")),
        "options": {"region_parents": PARENTS, "sku_categories": CATEGORIES,
                    "case_scenario": draw(st.sampled_from(["hold", "rising", "falling"])),
                    "scenario_weekly_rate": draw(st.floats(0, 1))},
    }  # fmt: skip


def run(world: dict[str, Any], frames: str = "base", panel: str = "panel") -> pl.DataFrame:
    return build_features(world[panel], cutoff=world["cutoff"], **world[frames], **world["options"])


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(worlds())
def test_point_in_time_features_of_random_worlds(world: dict[str, Any]) -> None:
    """One test (to share each generated world): layout, then (a), (b), (c) leave the output unchanged."""
    base = run(world)
    assert_frame_equal(base.select(world["panel"].columns), world["panel"])  # the panel's rows, in its order
    numeric = [c for c, t in FEATURE_SCHEMA.items() if t != pl.String and c != "sales_7d_before_promo"]
    assert base.select(numeric).null_count().sum_horizontal().item() == 0
    floats = [c for c in numeric if FEATURE_SCHEMA[c] == pl.Float64]
    assert base.select(pl.col(floats).is_nan().any()).sum_horizontal().item() == 0
    assert_frame_equal(run(world, frames="added"), base)  # (a) rows known at or after as_of_instant(cutoff)
    assert_frame_equal(run(world, frames="altered"), base)  # (b) other values in the rows known after it
    assert_frame_equal(run(world, panel="panel_new_y").drop("y"), base.drop("y"))  # (c) other y after cutoff


def test_large_panels_build_the_same_features_on_the_streaming_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import signals.features

    in_memory = livestream_out()
    monkeypatch.setattr(signals.features, "_STREAMING_ROWS", 1)  # every panel counts as large
    assert_frame_equal(livestream_out(), in_memory)


def test_large_panels_are_built_in_parts_of_whole_series_with_every_hosts_uplift(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ann's event for A on day 35 doubles its sales; her event for B on day 50 is valued from it,
    though A and B are built in different parts."""
    import signals.features

    y = [10.0] * 70 * 3
    y[35] = 21.0
    events = [event("a1", 35, 0, host="Ann", skus=["A"]), event("a2", 50, 0, host="Ann", skus=["B"]),
              event("c1", 52, 0, host="Cy", skus=["C"], regions=["r1"])]
    panel = make_panel([("A", "r1"), ("B", "r1"), ("C", "r1")], 70, y)
    signals_ = {"cutoff": day(60), "livestreams": frame(events, LIVESTREAM_SCHEMA),
                "cases": frame(CASES_0_TO_9, CASES_SCHEMA), "promotions": frame(PROMOS, PROMOTION_SCHEMA)}
    whole = build_features(panel, **signals_)
    monkeypatch.setattr(signals.features, "_PART_ROWS", 70)  # one series a part
    assert signals.features._series_blocks(panel, 70) == [(0, 70), (70, 70), (140, 70)]
    parts = build_features(panel, **signals_)
    assert_frame_equal(parts, whole)
    assert parts.filter(sku="B", day=day(50))["ls_host_uplift"].item() == pytest.approx(math.log(2.0))
    shuffled = panel.sample(fraction=1.0, shuffle=True, seed=7)  # series not in blocks: one part
    assert signals.features._series_blocks(shuffled, 70) == [(0, 210)]
    assert_frame_equal(build_features(shuffled, **signals_).sort("sku", "day"), whole.sort("sku", "day"))
