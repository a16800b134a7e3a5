"""Signal pulls into bitemporal storage on SQLite and PostgreSQL: idempotence, versions, as-of reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from forecast.ingest.signal_config import SourceConfig
from forecast.ingest.signals import pull_source, replay_source
from forecast.storage import repo, signal_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import CaseCorrection, CaseCount, IngestBatch, SignalPayload
from signals.errors import SignalError
from signals.frames import as_of_instant
from signals.sources import SnapshotSource

UTC = dt.timezone.utc
STATES = "region,name,population\nCA,California,39512223\nTX,Texas,28995881\nWI,Wisconsin,5822434\nIA,Iowa,3155070\n"


def _setup_master(engine: Engine, tmp_path: Path) -> None:
    from forecast.ingest import ingest_regions

    (tmp_path / "states.csv").write_text(STATES)
    with session_scope(engine) as session:
        ingest_regions(tmp_path / "states.csv", session=session)
        repo.upsert_skus(session=session, skus=[{"id": s, "category": "electronics"} for s in ("A1", "B2")])


def _pull(engine: Engine, config: SourceConfig, fetcher=None):
    with session_scope(engine) as session:
        return pull_source(config, session=session, fetcher=fetcher)


def _snapshot(text: str, fetched: str) -> SnapshotSource:
    return SnapshotSource(text, location="snapshot.csv", fetched_at=dt.datetime.fromisoformat(fetched))


NYT = SourceConfig(name="nyt", kind="cases", location="x", preset="nyt",
                   region_map={"California": "CA", "Texas": "TX", "Wisconsin": "WI"})


def test_nyt_pull_stores_daily_cases_and_iowa_sums_to_its_last_cumulative(engine: Engine, tmp_path: Path,
                                                                          shared_data: Path) -> None:
    _setup_master(engine, tmp_path)
    config = NYT.model_copy(update={"location": str(shared_data / "nyt_covid_us_states_cumulative.csv")})
    report = _pull(engine, config)
    assert report.status == "stored" and report.rows_rejected == 0
    assert "Iowa" in report.unmapped and "California" not in report.unmapped
    raw = pl.read_csv(shared_data / "nyt_covid_us_states_cumulative.csv")
    with session_scope(engine) as session:
        frame = signal_repo.load_case_counts(session=session)
        corrections = session.execute(select(CaseCorrection.source_region, func.sum(CaseCorrection.amount))
                                      .group_by(CaseCorrection.source_region)).all()
    corrections = dict(corrections)
    for state in ("Iowa", "California", "Missouri"):
        last = raw.filter(pl.col("state") == state).sort("date")["cases"][-1]
        stored = frame.filter(pl.col("source_region") == state)
        assert stored["new_cases"].min() >= 0
        assert stored["new_cases"].sum() == pytest.approx(last - corrections.get(state, 0.0))
    assert corrections["Missouri"] < 0  # Missouri's cumulative series goes down; Iowa's never does
    named = {c["source_region"] for c in report.corrections}
    assert named == set(corrections)
    ca = frame.filter(pl.col("region") == "CA").sort("day")
    assert ca["new_cases_per_100k"][-1] == pytest.approx(ca["new_cases"][-1] / 39512223 * 1e5)
    assert set(frame.filter(pl.col("source_region") == "Iowa")["region"].to_list()) == {None}


def test_pull_is_idempotent_and_a_revision_is_a_new_version(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    text = "date,state,fips,cases,deaths\n2020-04-01,California,06,100,0\n2020-04-02,California,06,150,0\n"
    first = _pull(engine, NYT, _snapshot(text, "2020-04-03T08:00:00+00:00"))
    assert (first.versions_stored, first.versions_unchanged) == (2, 0)
    again = _pull(engine, NYT, _snapshot(text, "2020-04-04T08:00:00+00:00"))
    assert again.status == "unchanged"
    revised = text.replace("150", "180") + "2020-04-03,California,06,200,0\n"
    third = _pull(engine, NYT, _snapshot(revised, "2020-04-05T08:00:00+00:00"))
    assert (third.versions_stored, third.versions_unchanged) == (2, 1)  # 04-02 revised, 04-03 new
    with session_scope(engine) as session:
        before = signal_repo.load_case_counts(session=session, as_of=as_of_instant(dt.date(2020, 4, 4)))
        after = signal_repo.load_case_counts(session=session)
        assert session.scalar(select(func.count()).select_from(SignalPayload)) == 2
    assert before.sort("day")["new_cases"].to_list() == [100, 50]  # the revision is not visible yet on 04-04
    latest = after.sort("known_at").group_by("day").last().sort("day")
    assert latest["new_cases"].to_list() == [100, 80, 20]
    revision = after.filter((pl.col("day") == dt.date(2020, 4, 2)) & (pl.col("new_cases") == 80))
    assert revision["known_at"][0] == dt.datetime(2020, 4, 5, 8, tzinfo=UTC)


def test_replay_applies_a_new_region_map_without_new_versions(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    text = "date,state,fips,cases,deaths\n2020-04-01,Iowa,19,10,0\n2020-04-02,Iowa,19,12,0\n"
    assert _pull(engine, NYT, _snapshot(text, "2020-04-03T08:00:00+00:00")).unmapped == ["Iowa"]
    mapped = NYT.model_copy(update={"region_map": {**NYT.region_map, "Iowa": "IA"}})
    with session_scope(engine) as session:
        reports = replay_source(mapped, session=session)
    assert [(r.versions_stored, r.unmapped) for r in reports] == [(0, [])]
    with session_scope(engine) as session:
        frame = signal_repo.load_case_counts(session=session)
    assert frame["region"].to_list() == ["IA", "IA"]
    assert frame["new_cases_per_100k"].to_list() == pytest.approx([10 / 3155070 * 1e5, 2 / 3155070 * 1e5])


def test_unknown_region_in_the_map_is_kept_unmapped_with_a_note(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    config = NYT.model_copy(update={"region_map": {"California": "NOPE"}})
    report = _pull(engine, config, _snapshot("date,state,fips,cases,deaths\n2020-04-01,California,06,5,0\n",
                                             "2020-04-02T00:00:00+00:00"))
    assert report.unmapped == ["California"]
    assert any("unknown region 'NOPE'" in n for n in report.notes)


def test_april_2020_cutoff_sees_no_case_count_reported_after_it(engine: Engine, tmp_path: Path,
                                                                 shared_data: Path) -> None:
    _setup_master(engine, tmp_path)
    _pull(engine, NYT.model_copy(update={"location": str(shared_data / "nyt_covid_us_states_cumulative.csv")}))
    cutoff = dt.date(2020, 4, 15)
    with session_scope(engine) as session:
        seen = signal_repo.load_case_counts(session=session, as_of=as_of_instant(cutoff))
        everything = signal_repo.load_case_counts(session=session)
    assert seen["known_at"].max() < as_of_instant(cutoff)
    assert seen["day"].max() == dt.date(2020, 4, 14)  # one day of reporting lag
    assert everything["day"].max() > dt.date(2023, 1, 1)


EVENTS = (
    "event_id,host,platform,start,end,skus,category,regions,expected_viewers,discount,status,announced_at\n"
    "E1,Mia,Douyin,2024-03-05T19:00:00+08:00,2024-03-05T21:00:00+08:00,A1,,CA,1000,0.1,scheduled,2024-02-20T10:00:00+08:00\n"
    "E2,Leo,Taobao,2024-03-06T19:00:00+08:00,2024-03-06T18:00:00+08:00,A1,,all,1000,0.1,scheduled,2024-02-20T10:00:00+08:00\n"
    "E3,Leo,Taobao,2024-03-07T19:00:00+08:00,2024-03-07T20:00:00+08:00,ZZ9,,all,1000,0.1,scheduled,2024-02-20T10:00:00+08:00\n"
    "E4,Leo,Taobao,2024-03-08T19:00:00,2024-03-08T20:00:00,B2,,all,1000,0.1,scheduled,2024-02-20T10:00:00+08:00\n"
)
LIVE = SourceConfig(name="live", kind="livestreams", location="x")


def test_livestream_schedule_keeps_good_events_and_lists_bad_ones(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    report = _pull(engine, LIVE, _snapshot(EVENTS, "2024-02-21T00:00:00+00:00"))
    assert (report.versions_stored, report.rows_rejected) == (1, 3)
    with session_scope(engine) as session:
        rejected = repo.list_rejected_rows(session=session, batch_id=report.batch_id)
        reasons = {json.loads(r.raw)["event_id"]: r.reason for r in rejected}
    assert "ends before it starts" in reasons["E2"]
    assert "unknown SKU(s) 'ZZ9'" in reasons["E3"]
    assert "has no time zone" in reasons["E4"]


def test_an_event_update_is_a_new_version_visible_from_its_announced_at(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    header, first = EVENTS.splitlines()[:2]
    _pull(engine, LIVE, _snapshot(f"{header}\n{first}\n", "2024-02-21T00:00:00+00:00"))
    update = first.replace("1000", "50000").replace("2024-02-20T10:00:00+08:00", "2024-03-01T09:00:00+00:00")
    cancel = first.replace("scheduled", "cancelled").replace("2024-02-20T10:00:00+08:00", "2024-03-04T09:00:00+00:00")
    report = _pull(engine, LIVE, _snapshot(f"{header}\n{first}\n{update}\n{cancel}\n", "2024-03-04T10:00:00+00:00"))
    assert (report.versions_stored, report.versions_unchanged) == (2, 1)
    with session_scope(engine) as session:
        def latest(day: dt.date) -> dict:
            frame = signal_repo.load_livestreams(session=session, as_of=as_of_instant(day))
            return frame.sort("known_at").row(-1, named=True)
        assert latest(dt.date(2024, 2, 29))["expected_viewers"] == 1000
        assert latest(dt.date(2024, 3, 1))["expected_viewers"] == 50000
        assert latest(dt.date(2024, 3, 4))["status"] == "cancelled"


def test_promotions_and_holidays_are_stored(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    promos = "promo_id,sku,region,start,end,discount\nP1,A1,CA,2024-05-01,2024-05-07,0.2\nP2,XX,CA,2024-05-01,2024-05-07,0.2\n"
    report = _pull(engine, SourceConfig(name="promo", kind="promotions", location="x", lead_days=10),
                   _snapshot(promos, "2024-04-01T00:00:00+00:00"))
    assert (report.versions_stored, report.rows_rejected) == (1, 1)
    holidays = SourceConfig(name="hol", kind="holidays", region_map={"CA": "US-CA"}, years=[2020])
    assert _pull(engine, holidays).versions_stored > 8
    with session_scope(engine) as session:
        promo = signal_repo.load_promotions(session=session).row(0, named=True)
        calendar = signal_repo.load_calendar(session=session)
    assert promo["known_at"] == dt.datetime(2024, 4, 21, tzinfo=UTC)  # start - lead days
    christmas = calendar.filter(pl.col("day") == dt.date(2020, 12, 25))
    assert christmas["region"].to_list() == ["CA"] and christmas["kind"].to_list() == ["holiday"]


def test_unreachable_http_source_fails_cleanly_and_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    _setup_master(engine, tmp_path)
    config = NYT.model_copy(update={"location": "http://127.0.0.1:9/cases.csv", "timeout": 0.5, "retries": 1})
    with pytest.raises(SignalError, match=r"cannot fetch http://127\.0\.0\.1:9/cases\.csv: .* after 2 attempts"):
        _pull(engine, config)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(SignalPayload)) == 0
        assert session.scalar(select(func.count()).select_from(IngestBatch)) == 0
        assert session.scalar(select(func.count()).select_from(CaseCount)) == 0


def test_http_source_is_pulled_from_a_real_local_server(engine: Engine, tmp_path: Path, httpserver) -> None:
    _setup_master(engine, tmp_path)
    httpserver.expect_request("/cases.csv").respond_with_data(
        "date,state,fips,cases,deaths\n2020-04-01,Texas,48,7,0\n", content_type="text/csv")
    report = _pull(engine, NYT.model_copy(update={"location": httpserver.url_for("/cases.csv")}))
    assert (report.status, report.versions_stored) == ("stored", 1)
    with session_scope(engine) as session:
        assert signal_repo.load_case_counts(session=session)["region"].to_list() == ["TX"]
