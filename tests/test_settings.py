"""Settings: one class, `DEMAND_` prefix, SQLite default, PostgreSQL URLs pointed at psycopg 3."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forecast.settings import Settings, normalise_database_url


def test_default_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMAND_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite:///var/demand.db"


@pytest.mark.parametrize("given", ["postgres://u:p@h:5432/db", "postgresql://u:p@h:5432/db",
                                   "postgresql+psycopg2://u:p@h:5432/db", " postgresql+psycopg://u:p@h:5432/db "])
def test_postgres_urls_use_psycopg3(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("DEMAND_DATABASE_URL", given)
    assert Settings(_env_file=None).database_url == "postgresql+psycopg://u:p@h:5432/db"


def test_other_urls_are_unchanged() -> None:
    assert normalise_database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_empty_url_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_DATABASE_URL", "  ")
    with pytest.raises(ValidationError, match="DEMAND_DATABASE_URL is empty; unset it for the SQLite default"):
        Settings(_env_file=None)
