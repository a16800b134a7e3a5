"""Operator mistakes: a damaged SQLite file, a URL pointing into a missing folder, SQL echo left on while
adding a user. Each gets one line and an exit code, and nothing is changed or leaked."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from forecast.cli import app
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import make_engine, session_scope
from forecast.storage.schema import AppUser

DEMAND = str(Path(sys.executable).parent / "demand")
PASSWORD = "echo-test-Pa55word"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _garbage_header(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(b"garbage!" * 64)


def _truncated(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _stub(path: Path) -> None:
    os.truncate(path, 50)


DAMAGES: dict[str, Callable[[Path], None]] = {"garbage_header": _garbage_header, "truncated": _truncated,
                                              "truncated_to_50_bytes": _stub}
COMMANDS = (["summary"], ["db", "check"], ["db", "current"], ["db", "upgrade"], ["users", "list"],
            ["forecast", "runs"])


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_sqlite_file_is_one_line_exit_3_and_left_byte_for_byte(cli: CliRunner, db_url: str,
                                                                          damage: str) -> None:
    database = Path(make_url(db_url).database)
    DAMAGES[damage](database)
    before, files = _digest(database), sorted(os.listdir(database.parent))
    for args in COMMANDS:
        result = cli.invoke(app, args)
        assert result.exit_code == 3, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(f"error: the database file {database} is damaged ("), (args, lines[0])
        assert "restore it from a backup" in lines[0] and "move it away" in lines[0]
        assert _digest(database) == before, f"`demand {' '.join(args)}` changed the damaged file"
        assert sorted(os.listdir(database.parent)) == files, "side files (-wal, -shm, -journal) were left"


def test_a_sqlite_url_into_a_missing_folder_is_refused_and_nothing_is_created(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"
    monkeypatch.setenv("DEMAND_DATABASE_URL", f"sqlite:///{missing / 'demand.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        for args in (["db", "upgrade"], ["summary"], ["db", "current"]):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 3, (args, result.output)
            assert result.stderr.strip() == (
                f"error: the folder {missing} of the SQLite database {missing / 'demand.db'} does not exist; "
                f"create it (mkdir -p {missing}) or fix DEMAND_DATABASE_URL"), result.stderr
            assert not (tmp_path / "missing").exists()
    finally:
        get_settings.cache_clear()


def test_the_default_embedded_database_still_gets_its_folder(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    """`make demo` on a fresh clone: `demand db upgrade` creates var/ for the default SQLite file."""
    monkeypatch.delenv("DEMAND_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "var" / "demand.db").is_file()
    finally:
        get_settings.cache_clear()


def test_sql_echo_never_shows_a_password_or_its_hash(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DEMAND_DATABASE_URL": db_url, "DEMAND_SQL_ECHO": "true", "DEMAND_LOG_LEVEL": "DEBUG"}
    out = ""
    for args in (["-v", "users", "add", "pia", "--role", "planner", "--password-stdin"],
                 ["-v", "users", "add", "pia", "--role", "viewer", "--password-stdin"], ["-v", "users", "list"]):
        done = subprocess.run([DEMAND, *args], input=PASSWORD + "\n", env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out += done.stdout + done.stderr
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        stored = session.scalar(select(AppUser.password_hash).where(AppUser.username == "pia"))
    engine.dispose()
    assert "INSERT INTO app_user" in out and "UPDATE app_user" in out  # the echo was on
    assert stored and stored not in out and stored[7:] not in out  # nor the hash without its `$2b$12$`
    assert PASSWORD not in out


def test_debug_logging_of_the_engine_never_shows_a_password_or_its_hash(
        engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """Whatever a deployment sets its log levels to: parameters and result rows of the users' table stay out."""
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
    with session_scope(engine) as session:
        assert user_repo.authenticate(session=session, username="pia", password=PASSWORD) == "planner"
    with session_scope(engine) as session:
        stored = session.scalar(select(AppUser.password_hash))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "INSERT INTO app_user" in logged and "FROM app_user" in logged  # statements were logged
    assert stored not in logged and stored[7:] not in logged and PASSWORD not in logged
