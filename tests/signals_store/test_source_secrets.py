"""A pull from a URL with secrets stores only the masked location, on SQLite and PostgreSQL (issue 25 item 1),
and a location past the size cap fails naming the setting (item 7c)."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, LargeBinary, select

from forecast.errors import InvalidInputError
from forecast.ingest.signal_config import SourceConfig
from forecast.ingest.signals import pull_source
from forecast.settings import get_settings
from forecast.storage.engine import session_scope
from forecast.storage.schema import Base, IngestBatch, SignalPayload

PASSWORD = "Pw-Secret-4417"
TOKEN = "Tok-8c1f0e77"
CSV = "region,day,new_cases\nR01,2023-01-01,4\nR02,2023-01-01,7\n"


def _stored_text(engine: Engine) -> str:
    """Every stored value of every table but the raw payload bytes, as text."""
    with engine.connect() as conn:
        return "\n".join(repr(row) for table in Base.metadata.sorted_tables
                         for row in conn.execute(select(*[c for c in table.columns
                                                          if not isinstance(c.type, LargeBinary)])))


def _pull(engine: Engine, config: SourceConfig):
    with session_scope(engine) as session:
        return pull_source(config, session=session)


def test_a_pull_with_secrets_in_the_url_stores_the_masked_location(engine: Engine, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv", query_string={"token": TOKEN}).respond_with_data(CSV)
    url = httpserver.url_for("/cases.csv").replace("://", f"://user:{PASSWORD}@") + f"?token={TOKEN}"
    report = _pull(engine, SourceConfig(name="cases", kind="cases", location=url, preset="daily", retries=0))
    assert report.status == "stored" and report.rows_read == 2
    assert httpserver.log[0][0].authorization.password == PASSWORD
    masked = httpserver.url_for("/cases.csv").replace("://", "://user:***@") + "?token=***"
    with session_scope(engine) as session:
        payload = session.scalars(select(SignalPayload)).one()
        batch = session.scalars(select(IngestBatch)).one()
        assert payload.location == masked
        assert json.loads(batch.options)["location"] == masked
    stored = _stored_text(engine)
    assert PASSWORD not in stored and TOKEN not in stored


def test_a_pull_reads_credentials_from_the_environment_and_stores_none(
        engine: Engine, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/cases.csv", query_string={"token": TOKEN}).respond_with_data(CSV)
    location = httpserver.url_for("/cases.csv").replace("://", "://user:${CASES_PASSWORD}@") + "?token=${CASES_TOKEN}"
    monkeypatch.setenv("CASES_PASSWORD", PASSWORD)
    monkeypatch.setenv("CASES_TOKEN", TOKEN)
    report = _pull(engine, SourceConfig(name="cases", kind="cases", location=location, preset="daily", retries=0))
    assert report.status == "stored" and httpserver.log[0][0].authorization.password == PASSWORD
    with session_scope(engine) as session:
        assert session.scalars(select(SignalPayload.location)).one() == location
    stored = _stored_text(engine)
    assert PASSWORD not in stored and TOKEN not in stored


def test_a_location_past_the_size_cap_names_the_setting(engine: Engine, httpserver: HTTPServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/cases.csv").respond_with_data(CSV + "R03,2023-01-01,1\n" * 100)
    monkeypatch.setenv("DEMAND_SIGNAL_MAX_BYTES", "1KiB")
    get_settings.cache_clear()
    try:
        config = SourceConfig(name="cases", kind="cases", location=httpserver.url_for("/cases.csv") + f"?key={TOKEN}",
                              preset="daily", retries=0)
        with pytest.raises(InvalidInputError, match=r"^http://.*/cases\.csv\?key=\*\*\* is larger than the 1KiB "
                                                    r"size cap; if the source really is that big, raise "
                                                    r"DEMAND_SIGNAL_MAX_BYTES \(e\.g\. DEMAND_SIGNAL_MAX_BYTES=2KiB\)$"):
            _pull(engine, config)
    finally:
        get_settings.cache_clear()
    with session_scope(engine) as session:
        assert session.scalars(select(SignalPayload)).all() == []
