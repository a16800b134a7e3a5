"""`demand db grant-reader`: a PostgreSQL role that reads the published views and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, make_url
from typer.testing import CliRunner

from forecast.cli.main import app
from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings

FORBIDDEN_READS = ["sales", "forecast_value", "forecast_run", "published_series", "app_user", "model_state",
                   "ingest_batch", "rejected_row", "case_count", "forecast_override"]
FORBIDDEN_WRITES = [
    "INSERT INTO forecast_value (run_id, sku_id, region_id, day, yhat, lo80, hi80, lo95, hi95, model) "
    "VALUES (1, 'x', 'y', '2026-01-01', 1, 1, 1, 1, 1, 'm')",
    "UPDATE published_series SET run_id = 1",
    "DELETE FROM forecast_override",
    "TRUNCATE forecast_value",
    "CREATE TABLE mine (x int)",
    "DROP VIEW published_forecast",
]


@pytest.fixture
def reader(db_url: str) -> Iterator[str]:
    """A fresh role name, dropped afterwards."""
    name = f"reader_{uuid.uuid4().hex[:8]}"
    yield name
    admin = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


def _as(db_url: str, role: str) -> psycopg.Connection:
    url = make_url(db_url).set(drivername="postgresql", username=role, password="s3cret-reader-pw")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_reader_role_selects_the_published_views_only(cli: CliRunner, loaded: Engine, db_url: str,
                                                         reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    monkeypatch.setenv("DEMAND_READER_PASSWORD", "s3cret-reader-pw")
    get_settings.cache_clear()
    result = cli.invoke(app, ["db", "grant-reader", reader])
    assert result.exit_code == 0, result.output
    assert f"role {reader} created: SELECT on published_forecast, published_forecast_adjusted, published_total only" in result.output
    assert "s3cret" not in result.output

    with _as(db_url, reader) as conn:
        assert conn.execute("SELECT count(*) FROM published_forecast").fetchone() == (18 * 7,)
        assert conn.execute("SELECT count(*) FROM published_forecast_adjusted").fetchone() == (18 * 7,)
        for table in FORBIDDEN_READS:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
        for statement in FORBIDDEN_WRITES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)

    again = cli.invoke(app, ["db", "grant-reader", reader])  # idempotent: updates, grants nothing more
    assert again.exit_code == 0 and f"role {reader} updated" in again.output
    with _as(db_url, reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM sales LIMIT 1")


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize(("role", "message"), [
    ("robert'); drop table sales; --", "is not a plain identifier"),
    ("Reader", "is not a plain identifier"),
    ("postgres", "is a superuser or the service's own role"),
])
def test_bad_reader_names_are_refused_in_one_line(cli: CliRunner, role: str, message: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_READER_PASSWORD", "pw-that-is-fine")
    get_settings.cache_clear()
    result = cli.invoke(app, ["db", "grant-reader", role])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_grant_reader_on_sqlite_says_it_needs_postgresql(cli: CliRunner) -> None:
    result = cli.invoke(app, ["db", "grant-reader", "reader", "--no-login"])
    assert result.exit_code == 2 and "grant-reader needs PostgreSQL" in result.output


LEAK = """
CREATE FUNCTION public.leak_{role}(run_id bigint) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN RAISE NOTICE 'run %', run_id; RETURN true; END $$
"""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_readers_leaky_function_sees_only_published_rows(cli: CliRunner, loaded: Engine, db_url: str,
                                                           reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack: a cheap function in a WHERE clause, pushed below the view's join, printed every
    row of a draft and a superseded run. The reader may not create one (no TEMPORARY), and one
    granted to it by an admin is evaluated only on published rows (security_barrier views)."""
    superseded = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    published = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    draft = run_forecast(loaded, horizon=7, models=["SeasonalNaive"], publish=False).run_id
    monkeypatch.setenv("DEMAND_READER_PASSWORD", "s3cret-reader-pw")
    get_settings.cache_clear()
    assert cli.invoke(app, ["db", "grant-reader", reader, "--statement-timeout", "2",
                            "--connection-limit", "3"]).exit_code == 0
    admin = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(LEAK.format(role=reader))
        conn.execute(f'GRANT EXECUTE ON FUNCTION public.leak_{reader}(bigint) TO "{reader}"')
    try:
        with _as(db_url, reader) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TEMP TABLE mine (x int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
            seen: list[str] = []
            conn.add_notice_handler(lambda notice: seen.append(notice.message_primary))
            for view, column in (("published_forecast", "run_id"), ("published_forecast_adjusted", "run_id"),
                                 ("published_total", "run_id")):
                conn.execute(f"SELECT * FROM {view} WHERE leak_{reader}({column})").fetchall()
            assert seen and set(seen) == {f"run {published}"}, (superseded, draft, sorted(set(seen)))
            assert conn.execute("SHOW statement_timeout").fetchone() == ("2s",)
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("SELECT pg_sleep(5)")
        conns = [_as(db_url, reader) for _ in range(3)]
        try:
            with pytest.raises(psycopg.OperationalError, match="too many connections"):
                _as(db_url, reader)
        finally:
            for c in conns:
                c.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP FUNCTION public.leak_{reader}(bigint)")
