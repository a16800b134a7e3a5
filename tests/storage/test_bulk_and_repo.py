"""Bulk upsert and master-data repository functions, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from forecast.storage import bulk, repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import IngestBatch, Region, Sales, Sku


def _batch(session) -> int:
    batch = IngestBatch(kind="sales", source="test", sha256="x" * 64, status="succeeded")
    session.add(batch)
    session.flush()
    return batch.id


def _rows(units: list[float], price: float | None = 2.5) -> pl.DataFrame:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(units))]
    return pl.DataFrame({
        "sku_id": ["A"] * len(units), "region_id": ["R1"] * len(units), "day": days,
        "units": units, "price": [price] * len(units), "on_promo": [False] * len(units),
    })


def _seed_master(session) -> None:
    repo.upsert_skus(session=session, skus=[{"id": "A", "category": "food"}])
    repo.upsert_regions(session=session, regions=[{"id": "R1", "parent_id": "P"}])


def test_merge_inserts_then_updates_only_changed_rows(engine: Engine) -> None:
    with session_scope(engine) as session:
        _seed_master(session)
        first = _batch(session)
        assert bulk.merge_sales(session, _rows([1, 2, 3]), batch_id=first) == bulk.MergeCounts(3, 0)
    with session_scope(engine) as session:
        second = _batch(session)
        counts = bulk.merge_sales(session, _rows([1, 5, 3, 4]), batch_id=second)
        assert counts == bulk.MergeCounts(inserted=1, updated=1)
        stored = session.execute(select(Sales.day, Sales.units, Sales.batch_id).order_by(Sales.day)).all()
    assert [(u, b) for _, u, b in stored] == [(1, first), (5, second), (3, first), (4, second)]


def test_merge_with_identical_rows_changes_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        _seed_master(session)
        bulk.merge_sales(session, _rows([1, 2], price=None), batch_id=_batch(session))
    with session_scope(engine) as session:
        assert bulk.merge_sales(session, _rows([1, 2], price=None), batch_id=_batch(session)) == bulk.MergeCounts(0, 0)


def test_failed_merge_leaves_the_table_as_it_was(engine: Engine) -> None:
    with session_scope(engine) as session:
        _seed_master(session)
        bulk.merge_sales(session, _rows([1, 2]), batch_id=_batch(session))
    bad = _rows([7, 8, -1])  # the database's own check refuses negative units
    with pytest.raises(IntegrityError, match="(?i)units_non_negative|check constraint"):
        with session_scope(engine) as session:
            bulk.merge_sales(session, bad, batch_id=_batch(session))
    with session_scope(engine) as session:
        assert session.scalars(select(Sales.units).order_by(Sales.day)).all() == [1, 2]
        assert session.scalar(select(func.count()).select_from(IngestBatch)) == 1


def test_upsert_regions_creates_parents_first_and_updates_given_fields(engine: Engine) -> None:
    with session_scope(engine) as session:
        created = repo.upsert_regions(session=session, regions=[
            {"id": "CA_1", "parent_id": "CA"}, {"id": "CA", "population": 39_000_000}])
        assert created == 2
    with session_scope(engine) as session:
        assert repo.upsert_regions(session=session, regions=[{"id": "CA_1", "name": "Los Angeles"}]) == 0
        ca1 = session.get(Region, "CA_1")
        assert (ca1.name, ca1.parent_id) == ("Los Angeles", "CA")
        assert session.get(Region, "CA").population == 39_000_000


def test_upsert_skus_keeps_fields_not_given(engine: Engine) -> None:
    with session_scope(engine) as session:
        repo.upsert_skus(session=session, skus=[{"id": "A", "category": "food", "attributes": {"dept": "F1"}}])
    with session_scope(engine) as session:
        assert repo.upsert_skus(session=session, skus=[{"id": "A", "name": "Apples"}]) == 0
        sku = session.get(Sku, "A")
        assert (sku.name, sku.category, sku.attributes) == ("Apples", "food", {"dept": "F1"})
