"""Shared fixtures: one database per test on SQLite and PostgreSQL, the CLI runner, real data paths."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from forecast.demo import DemoScenario, generate_demo
from forecast.demo.sources import write_demo_signals_config
from forecast.ingest import ColumnMapping, ingest_regions, ingest_sales, ingest_skus
from forecast.ingest.signal_config import load_sources
from forecast.ingest.signals import pull_source
from forecast.settings import get_settings, normalise_database_url
from forecast.storage import migrate
from forecast.storage.engine import make_engine, session_scope

# OpenMP threads that spin while waiting make concurrent xgboost processes 30x slower on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SHARED_DATA = Path(os.environ.get("DEMAND_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow run only when asked for (`-m slow`); the default suite skips them."""
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"shared data: {SHARED_DATA} ({'present' if SHARED_DATA.is_dir() else 'absent'}); CI={IN_CI}"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; tests skip without it, except in CI where its absence is an error."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing in CI; the real-data tests may not skip there")
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set DEMAND_SHARED_DATA to point at it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a PostgreSQL database we may CREATE DATABASE from (skips when unreachable, fails in CI)."""
    url = normalise_database_url(os.environ.get("DEMAND_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        reason = f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set DEMAND_TEST_POSTGRES_URL"
        if IN_CI:
            pytest.fail(reason + " - in CI the PostgreSQL tests may not skip")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return url


def _pg_execute(admin_url: str, sql: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head, cloned for each test."""
    name = f"demand_tpl_{os.getpid()}"
    _pg_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_execute(pg_admin_url, f'CREATE DATABASE "{name}"')
    migrate.upgrade(_with_database(pg_admin_url, name))
    yield name
    _pg_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The engine a storage test runs on (every storage test runs on both)."""
    return request.param


def _fresh_pg(request: pytest.FixtureRequest, template: str | None) -> Iterator[str]:
    admin = request.getfixturevalue("pg_admin_url")
    name = f"demand_t_{uuid.uuid4().hex[:12]}"
    _pg_execute(admin, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    yield _with_database(admin, name)
    _pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str]:
    """A migrated database of its own on `backend` (a SQLite file in `folder`), dropped afterwards."""
    if backend == "sqlite":
        target = folder / "demand.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
    else:
        yield from _fresh_pg(request, request.getfixturevalue("pg_template"))


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database of its own for this test, migrated to head."""
    yield from database_url(request, backend, tmp_path)


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of its own (no tables), for migration tests."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _fresh_pg(request, None)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Engine on this test's own migrated database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    """A CLI runner whose `demand` talks to this test's database, run from a scratch folder."""
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


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
    return load_scenario(engine, small_scenario)


def load_scenario(engine: Engine, small_scenario: DemoScenario) -> Engine:
    """Ingest a generated scenario's master data, sales and signals into `engine`'s database."""
    with session_scope(engine) as session:
        ingest_regions(small_scenario.regions, session=session)
        ingest_skus(small_scenario.skus, session=session)
        ingest_sales(small_scenario.sales, session=session, mapping=ColumnMapping())
    for source in load_sources(Path(small_scenario.out_dir) / "signals.toml").values():
        with session_scope(engine) as session:
            pull_source(source, session=session)
    return engine
