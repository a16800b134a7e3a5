"""A small generated scenario loaded into this test's database (sales, master data and signals)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from forecast.demo import DemoScenario, generate_demo
from forecast.demo.sources import write_demo_signals_config
from forecast.ingest import ColumnMapping, ingest_regions, ingest_sales, ingest_skus
from forecast.ingest.signal_config import load_sources
from forecast.ingest.signals import pull_source
from forecast.storage.engine import session_scope


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> DemoScenario:
    """9 SKUs x 2 regions x 400 days, seeded."""
    out = tmp_path_factory.mktemp("scenario")
    scenario = generate_demo(out, seed=3, n_skus=9, n_regions=2, days=400, start=dt.date(2024, 1, 1))
    write_demo_signals_config(out)
    return scenario


@pytest.fixture
def loaded(engine: Engine, small_scenario: DemoScenario) -> Engine:
    """This test's database with the small scenario's sales and signals."""
    with session_scope(engine) as session:
        ingest_regions(small_scenario.regions, session=session)
        ingest_skus(small_scenario.skus, session=session)
        ingest_sales(small_scenario.sales, session=session, mapping=ColumnMapping())
    for source in load_sources(Path(small_scenario.out_dir) / "signals.toml").values():
        with session_scope(engine) as session:
            pull_source(source, session=session)
    return engine
