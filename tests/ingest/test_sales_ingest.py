"""Sales ingest end to end through the service function, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from forecast.errors import InvalidInputError
from forecast.ingest import ColumnMapping, ingest_sales, resolve_mapping
from forecast.storage import repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import Base, IngestBatch, Region, Sales, Sku

HEADER = "sku,region,day,units,price,on_promo,category,region_parent\n"
GOOD = HEADER + "".join(
    f"{sku},{region},2024-01-0{d},{d + i},1.50,{d % 2},{cat},{parent}\n"
    for i, (sku, cat) in enumerate([("A", "food"), ("B", "toys")])
    for region, parent in [("R1", "North"), ("R2", "South")]
    for d in range(1, 4)
)


def snapshot(engine: Engine) -> dict[str, list]:
    """Every row of every table, to show a failed ingest changed nothing."""
    with engine.connect() as conn:
        return {name: sorted(map(tuple, conn.execute(table.select()).all()), key=repr)
                for name, table in Base.metadata.tables.items()}


def ingest(engine: Engine, path: Path, mapping: ColumnMapping | None = None, **kwargs):
    with session_scope(engine) as session:
        return ingest_sales(path, session=session, mapping=mapping or ColumnMapping(), **kwargs)


def test_good_file_loads_rows_skus_and_region_hierarchy(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    report = ingest(engine, path)
    assert (report.rows_accepted, report.rows_inserted, report.rows_rejected, report.status) == (12, 12, 0, "succeeded")
    assert (report.skus_created, report.regions_created) == (2, 4)
    with session_scope(engine) as session:
        assert session.get(Sku, "B").category == "toys"
        assert session.get(Region, "R2").parent_id == "South"
        row = session.get(Sales, ("B", "R2", __import__("datetime").date(2024, 1, 3)))
        assert (row.units, row.price, row.on_promo, row.batch_id) == (4, 1.5, True, report.batch_id)


def test_same_content_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    (tmp_path / "s.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    first = ingest(engine, tmp_path / "s.csv")
    before = snapshot(engine)
    again = ingest(engine, tmp_path / "s.csv.gz")
    assert again.already_ingested and again.batch_id == first.batch_id
    assert snapshot(engine) == before
    forced = ingest(engine, tmp_path / "s.csv", force=True)
    assert (forced.rows_inserted, forced.rows_updated) == (0, 0)


def test_corrected_file_updates_overlapping_days_only(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    first = ingest(engine, tmp_path / "s.csv")
    correction = HEADER + "A,R1,2024-01-02,99,1.50,0,food,North\nA,R1,2024-01-03,3,1.50,1,food,North\n" \
                          "A,R1,2024-01-04,7,,0,food,North\n"
    (tmp_path / "fix.csv").write_text(correction)
    report = ingest(engine, tmp_path / "fix.csv")
    assert (report.rows_inserted, report.rows_updated) == (1, 1)
    with session_scope(engine) as session:
        rows = session.execute(select(Sales.day, Sales.units, Sales.batch_id).where(Sales.sku_id == "A",
                               Sales.region_id == "R1").order_by(Sales.day)).all()
    assert [(r.units, r.batch_id) for r in rows] == [
        (1, first.batch_id), (99, report.batch_id), (3, first.batch_id), (7, report.batch_id)]


def test_bad_rows_are_quarantined_with_reasons_while_good_rows_land(engine: Engine, tmp_path: Path) -> None:
    bad = HEADER + ("A,R1,2024-01-01,5,1.5,0,food,North\n"
                    "A,R1,2024-13-01,5,1.5,0,food,North\n"
                    "A,R1,2024-01-02,-4,1.5,0,food,North\n"
                    "A,R1,2024-01-03,lots,1.5,0,food,North\n"
                    "B,R1,2024-01-01,1,1.5,0,toys,North\n"
                    "B,R1,2024-01-01,2,1.5,0,toys,North\n")
    (tmp_path / "bad.csv").write_text(bad)
    report = ingest(engine, tmp_path / "bad.csv")
    assert (report.rows_accepted, report.rows_rejected, report.status) == (1, 5, "partial")
    with session_scope(engine) as session:
        rejected = repo.list_rejected_rows(session=session, batch_id=report.batch_id)
        assert [(r.line, r.reason.split(" ")[0]) for r in rejected] == [
            (3, "day"), (4, "units"), (5, "units"), (6, "duplicate"), (7, "duplicate")]
        assert json.loads(rejected[1].raw) == {"sku": "A", "region": "R1", "day": "2024-01-02", "units": "-4",
                                               "price": "1.5", "on_promo": "0", "category": "food",
                                               "region_parent": "North"}
        assert session.scalar(select(func.count()).select_from(Sales)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sku,region,units\nA,R1,3\n", r"missing column\(s\): day"),
        ("", r"file is empty"),
        ("sku,region,day,units\nA,R1,someday,3\n", r"none of the 1 rows is valid"),
        ("sku,region,day,units,category\nA,R1,2024-01-01,1,x\nA,R1,2024-01-02,1,y\n", r"inconsistent master data"),
    ],
)
def test_whole_file_rejection_leaves_the_database_unchanged(engine: Engine, tmp_path: Path, content: str,
                                                            message: str) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    ingest(engine, tmp_path / "s.csv")
    before = snapshot(engine)
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        ingest(engine, tmp_path / "bad.csv")
    assert snapshot(engine) == before


def test_failure_while_writing_rolls_back_the_whole_batch(engine: Engine, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    before = snapshot(engine)

    def boom(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(repo, "add_rejected_rows", boom)  # fails after SKUs, regions and sales were written
    with pytest.raises(RuntimeError, match="disk gone"):
        ingest(engine, tmp_path / "s.csv")
    assert snapshot(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(IngestBatch)) == 0


def test_mapping_pairs_and_date_format(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("item;store;date;qty;dept\nX;S1;03/01/2024;2;D9\n")
    mapping = resolve_mapping(None, ["sku=item", "region=store", "day=date", "units=qty", "attr.dept=dept"],
                              "%d/%m/%Y")
    report = ingest(engine, tmp_path / "m.csv", mapping=mapping, delimiter=";")
    assert report.rows_accepted == 1
    with session_scope(engine) as session:
        assert session.get(Sku, "X").attributes == {"dept": "D9"}
        assert session.scalar(select(Sales.day)).isoformat() == "2024-01-03"


def test_hostile_ids_are_stored_verbatim_and_control_characters_rejected(engine: Engine, tmp_path: Path) -> None:
    hostile = ["x'; DROP TABLE sales; --", 'quo"te', "semi;colon", "<b>html</b>", "ünï ☃"]
    controls = ["new\nline", "unit\x1fseparator"]  # U+001F is the pipeline's sku/region key separator
    lines = "".join(f'"{h.replace(chr(34), chr(34) * 2)}",R1,2024-01-01,1\n' for h in hostile + controls)
    (tmp_path / "h.csv").write_text("sku,region,day,units\n" + lines)
    report = ingest(engine, tmp_path / "h.csv")
    assert (report.rows_accepted, report.rows_rejected) == (len(hostile), len(controls))
    with session_scope(engine) as session:
        assert sorted(session.scalars(select(Sku.id))) == sorted(hostile)
