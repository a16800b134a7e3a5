"""Settings: one class, `DEMAND_` prefix, SQLite default, PostgreSQL URLs pointed at psycopg 3."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize(("url", "problem"), [("postgresql://svc@db.internal:5432/demand", "empty"),
                                              ("postgresql://svc:postgres@db.internal:5432/demand", "a well-known default"),
                                              ("postgresql://svc:demo-planner@db.internal/demand", "a well-known default")])
def test_production_refuses_an_empty_or_default_database_password(monkeypatch: pytest.MonkeyPatch, url: str,
                                                                  problem: str) -> None:
    from forecast.settings import SettingsError, load_settings

    monkeypatch.setenv("DEMAND_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMAND_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"DEMAND_DATABASE_URL's password is {problem}; outside development")
    assert "\n" not in message and "svc:" not in message and "db.internal" not in message  # the URL is not echoed
    monkeypatch.setenv("DEMAND_ENVIRONMENT", "development")  # development allows it
    assert load_settings().database_url.endswith("/demand")


def test_production_accepts_a_real_password_and_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    from forecast.settings import load_settings

    monkeypatch.setenv("DEMAND_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMAND_DATABASE_URL", "postgresql://svc:Wq8-long-and-random@db.internal/demand")
    assert load_settings().environment == "production"
    monkeypatch.setenv("DEMAND_DATABASE_URL", "sqlite:///var/demand.db")
    monkeypatch.setenv("DEMAND_READER_PASSWORD", "changeme")
    with pytest.raises(ValueError, match="DEMAND_READER_PASSWORD is empty or a well-known default"):
        load_settings()


def test_a_bad_setting_is_one_line_naming_it_and_a_secret_bearing_value_is_not_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from forecast.settings import SettingsError, load_settings

    monkeypatch.setenv("DEMAND_N_JOBS", "many")
    with pytest.raises(SettingsError, match=r"^DEMAND_N_JOBS='many': Input should be a valid integer"):
        load_settings()
    monkeypatch.delenv("DEMAND_N_JOBS")
    monkeypatch.setenv("DEMAND_DATABASE_URL", "postgresql//svc:Secret-Value@db/demand")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("DEMAND_DATABASE_URL: is not a database URL")
    assert "Secret-Value" not in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_secrets_stay_out_of_the_cli_output_and_logs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture, db_url: str) -> None:
    """A reachable server (trust auth ignores the password), an unreachable one, and a weak password."""
    from sqlalchemy import make_url
    from typer.testing import CliRunner

    from forecast.cli import app
    from forecast.settings import get_settings

    secret = "Wq8-long-and-random"
    reachable = make_url(db_url).set(password=secret).render_as_string(hide_password=False)
    unreachable = make_url(reachable).set(port=1).render_as_string(hide_password=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEMAND_ENVIRONMENT", "production")
    outputs = []
    for url, command in ((reachable, ["db", "current"]), (reachable, ["forecast", "runs"]),
                         (unreachable, ["db", "current"]), (unreachable, ["summary"])):
        monkeypatch.setenv("DEMAND_DATABASE_URL", url)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, command)
        outputs.append(result.output)
        assert secret not in result.output, command
    get_settings.cache_clear()
    assert "postgres:***@127.0.0.1" in outputs[0]
    assert secret not in caplog.text
    monkeypatch.setenv("DEMAND_DATABASE_URL", make_url(reachable).set(password="admin").render_as_string(False))
    weak = CliRunner().invoke(app, ["db", "current"])
    get_settings.cache_clear()
    assert weak.exit_code == 2 and "DEMAND_DATABASE_URL's password is a well-known default" in weak.output
    assert ":admin@" not in weak.output
