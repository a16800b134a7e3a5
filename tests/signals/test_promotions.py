"""Promotions: parsing, every rejection reason, known_at from announced_at or the lead days."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.errors import SignalError
from signals.frames import PROMOTION_SCHEMA, REJECTED_SCHEMA
from signals.promotions import COLUMNS, parse_promotions

UTC = dt.timezone.utc
SKUS = {"A1", "B2"}
REGIONS = {"R01", "R02"}
BASE = {"promo_id": "PR-1", "sku": "A1", "region": "R01", "start": "2024-03-05", "end": "2024-03-11",
        "discount": "0.2", "announced_at": ""}


def payload(*rows: dict[str, Any], columns: tuple[str, ...] = COLUMNS) -> pl.DataFrame:
    """A frame as `signals.sources.read_payload` gives it: strings plus the line (header = 1)."""
    frame = pl.DataFrame({c: [r.get(c) for r in rows] for c in columns}, schema={c: pl.String for c in columns})
    return frame.with_columns(pl.Series("line", range(2, 2 + len(rows)), dtype=pl.Int64))


def row(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def parse(*rows: dict[str, Any], **kwargs: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    return parse_promotions(payload(*rows), **{"known_skus": SKUS, "known_regions": REGIONS, **kwargs})


def test_good_promotion_follows_the_contract_with_lead_days() -> None:
    promos, rejected = parse(row())
    assert promos.schema == pl.Schema(PROMOTION_SCHEMA) and rejected.schema == pl.Schema(REJECTED_SCHEMA)
    assert rejected.is_empty()
    assert promos.to_dicts() == [{"promo_id": "PR-1", "sku": "A1", "region": "R01", "start": dt.date(2024, 3, 5),
                                  "end": dt.date(2024, 3, 11), "discount": 0.2,
                                  "known_at": dt.datetime(2024, 2, 27, tzinfo=UTC)}]


def test_lead_days_and_missing_optional_columns() -> None:
    raw = payload(row(), columns=("promo_id", "sku", "start", "end", "discount"))
    promos, _ = parse_promotions(raw, known_skus=SKUS, lead_days=0)
    assert promos.select("region", "known_at").row(0) == (None, dt.datetime(2024, 3, 5, tzinfo=UTC))


@pytest.mark.parametrize(("announced", "known_at"), [
    ("2024-02-01", dt.datetime(2024, 2, 1, tzinfo=UTC)),
    ("2024-02-01T09:30:00", dt.datetime(2024, 2, 1, 9, 30, tzinfo=UTC)),
    ("2024-02-01T09:30:00+08:00", dt.datetime(2024, 2, 1, 1, 30, tzinfo=UTC)),
    ("2024-02-01T09:30Z", dt.datetime(2024, 2, 1, 9, 30, tzinfo=UTC)),
])
def test_announced_at_is_known_at_utc_when_no_offset(announced: str, known_at: dt.datetime) -> None:
    promos, _ = parse(row(announced_at=announced))
    assert promos["known_at"][0] == known_at


@pytest.mark.parametrize("region", ["", "all", "All", None])
def test_empty_or_all_region_is_every_region(region: str | None) -> None:
    promos, _ = parse(row(region=region))
    assert promos["region"][0] is None


@pytest.mark.parametrize(("text", "value"), [("20%", 0.2), ("0", 0.0), ("1", 1.0), (" 0.35 ", 0.35), ("100%", 1.0)])
def test_discount_forms(text: str, value: float) -> None:
    promos, _ = parse(row(discount=text))
    assert promos["discount"][0] == pytest.approx(value)


def test_one_day_promotion_is_fine() -> None:
    promos, rejected = parse(row(end="2024-03-05"))
    assert rejected.is_empty() and promos.height == 1


@pytest.mark.parametrize(("changes", "reason"), [
    ({"end": "2024-03-04"}, "ends before it starts (end 2024-03-04 is before start 2024-03-05)"),
    ({"sku": "Z9"}, "unknown SKU 'Z9'"),
    ({"region": "R99"}, "unknown region 'R99'"),
    ({"discount": "1.5"}, "discount '1.5' is not between 0 and 1; write e.g. 0.2 or 20%"),
    ({"discount": "-0.1"}, "discount '-0.1' is not between 0 and 1; write e.g. 0.2 or 20%"),
    ({"discount": "120%"}, "discount '120%' is not between 0 and 1; write e.g. 0.2 or 20%"),
    ({"discount": "half"}, "discount 'half' is not between 0 and 1; write e.g. 0.2 or 20%"),
    ({"discount": ""}, "discount is empty; write e.g. 0.2 or 20%"),
    ({"start": "2024-02-30"}, "start '2024-02-30' is not an ISO date; use YYYY-MM-DD like 2024-03-05"),
    ({"end": "11/03/2024"}, "end '11/03/2024' is not an ISO date; use YYYY-MM-DD like 2024-03-05"),
    ({"start": ""}, "start is empty; use an ISO date like 2024-03-05"),
    ({"announced_at": "last week"},
     "announced_at 'last week' is not an ISO date or time; use e.g. 2024-02-20 or 2024-02-20T09:00:00Z"),
    ({"promo_id": ""}, "promo_id is empty"),
    ({"sku": " "}, "sku is empty"),
])
def test_each_rejection_reason(changes: dict[str, Any], reason: str) -> None:
    promos, rejected = parse(row(**changes))
    assert promos.is_empty() and rejected["reason"].to_list() == [reason]


def test_reasons_joined_good_rows_kept_raw_kept() -> None:
    bad = row(promo_id="PR-2", sku="Z9", discount="2", end="2024-01-01")
    promos, rejected = parse(row(), bad)
    assert promos["promo_id"].to_list() == ["PR-1"]
    assert rejected.row(0) == (3, json.dumps(bad), (
        "unknown SKU 'Z9'; ends before it starts (end 2024-01-01 is before start 2024-03-05); "
        "discount '2' is not between 0 and 1; write e.g. 0.2 or 20%"))


def test_unknown_regions_pass_without_a_reference_list() -> None:
    promos, rejected = parse_promotions(payload(row(region="R99")), known_skus=SKUS)
    assert rejected.is_empty() and promos["region"].to_list() == ["R99"]


def test_same_promo_and_known_at_keeps_the_last_line_a_later_one_is_a_version() -> None:
    promos, rejected = parse(row(discount="0.1"), row(discount="0.3"),
                             row(discount="0.25", announced_at="2024-03-01"))
    assert promos.select("discount", "known_at").rows() == [(0.3, dt.datetime(2024, 2, 27, tzinfo=UTC)),
                                                           (0.25, dt.datetime(2024, 3, 1, tzinfo=UTC))]
    assert rejected.select("line", "reason").rows() == [
        (2, "duplicate of line 3 (same promo_id and known_at); the later line wins")]


def test_missing_required_columns_raise_naming_them() -> None:
    with pytest.raises(SignalError, match=r"promotion file is missing column\(s\) end, discount; the file has "
                                          r"promo_id, sku, start and needs the header"):
        parse_promotions(payload(row(), columns=("promo_id", "sku", "start")), known_skus=SKUS)


def test_negative_lead_days_raise() -> None:
    with pytest.raises(SignalError, match=r"lead_days=-1 is negative; pass 0 or more days"):
        parse(row(), lead_days=-1)


def test_header_only_gives_empty_frames() -> None:
    promos, rejected = parse()
    assert promos.is_empty() and promos.schema == pl.Schema(PROMOTION_SCHEMA) and rejected.is_empty()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), st.text(max_size=10), st.sampled_from(
    ["A1", "R01", "all", "2024-03-05", "2024-03-09", "20%", "0.5", "1.01"])) for c in COLUMNS}), max_size=5))
def test_every_row_is_kept_or_rejected(rows: list[dict[str, Any]]) -> None:
    promos, rejected = parse(*rows)
    assert promos.height + rejected.height == len(rows)
    assert promos.filter(pl.col("end") < pl.col("start")).is_empty()
    assert promos["discount"].is_between(0, 1).all()
    assert not rejected["reason"].str.contains("\n").any()
