"""`demand users add|list`: hashed passwords, roles, one-line refusals."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.storage import user_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import AppUser


def test_users_are_stored_hashed_and_authenticate(engine: Engine, cli: CliRunner) -> None:
    result = cli.invoke(app, ["users", "add", "pia", "--role", "planner", "--password-stdin"],
                        input="s3cret-enough\n")
    assert result.exit_code == 0 and "user pia (planner) added" in result.stdout
    assert cli.invoke(app, ["users", "add", "pia", "--role", "viewer", "--password-stdin"],
                      input="another-one\n").exit_code == 0
    assert json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout) == [{"username": "pia", "role": "viewer"}]
    with session_scope(engine) as session:
        stored = session.scalar(select(AppUser.password_hash))
        assert stored.startswith("$2b$12$") and "another-one" not in stored
        assert user_repo.authenticate(session=session, username="pia", password="another-one") == "viewer"
        assert user_repo.authenticate(session=session, username="pia", password="s3cret-enough") is None
        assert user_repo.authenticate(session=session, username="eve", password="another-one") is None


def test_sign_ins_are_throttled_per_name_and_a_good_one_clears_the_count(engine: Engine) -> None:
    import datetime as dt

    import pytest

    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    at = lambda minutes: start + dt.timedelta(minutes=minutes)  # noqa: E731
    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password="s3cret-enough", role="planner")
    for minute in range(5):  # five wrong guesses, at 09:00 ... 09:04
        with session_scope(engine) as session:
            assert user_repo.authenticate(session=session, username="pia", password="guess", now=at(minute)) is None
    with session_scope(engine) as session, pytest.raises(user_repo.LoginThrottledError, match="try again in 6 minute"):
        user_repo.authenticate(session=session, username="pia", password="s3cret-enough", now=at(9))
    with session_scope(engine) as session:  # another name is unaffected; at 09:15 the first guess left the window
        assert user_repo.authenticate(session=session, username="eve", password="x", now=at(9)) is None
        assert user_repo.authenticate(session=session, username="pia", password="s3cret-enough", now=at(15)) == "planner"
    for minute in range(16, 20):  # the good sign-in cleared the count: four more guesses are not locked out
        with session_scope(engine) as session:
            assert user_repo.authenticate(session=session, username="pia", password="guess", now=at(minute)) is None
    with session_scope(engine) as session:
        assert user_repo.authenticate(session=session, username="pia", password="s3cret-enough", now=at(20)) == "planner"


def test_bad_users_are_refused_with_one_line(engine: Engine, cli: CliRunner) -> None:
    for args, password, message in (
        (["users", "add", "pia"], "short\n", "at least 8 characters"),
        (["users", "add", "pia", "--role", "admin"], "long enough\n", "role 'admin' is unknown"),
        (["users", "add", "pia'; DROP TABLE app_user;--"], "long enough\n", "must be 1-64 letters"),
    ):
        result = cli.invoke(app, [*args, "--password-stdin"], input=password)
        assert result.exit_code == 2 and message in result.stderr, result.output
    assert json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout) == []
