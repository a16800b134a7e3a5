"""One database per engine for the whole corpus module, seeded once (each case compares before and after)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from forecast.storage.engine import make_engine
from tests.conftest import BACKENDS, database_url
from tests.corpus.harness import seed


@pytest.fixture(scope="module", params=BACKENDS)
def corpus_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database on SQLite or PostgreSQL with the baseline master data and sales."""
    folder = tmp_path_factory.mktemp(f"corpus_{request.param}")
    urls = database_url(request, request.param, folder)
    engine = make_engine(next(urls))
    seed(engine, folder)
    yield engine
    engine.dispose()
    next(urls, None)  # drops the PostgreSQL database
