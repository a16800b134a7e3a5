"""`demand users add|list|disable|enable|remove`: hashed passwords, roles, one-line refusals, sign-in
throttling that holds under parallel attempts, and the server-side dashboard sessions a change ends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from forecast.cli import app
from forecast.storage import user_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import AppUser, DashboardSession


def test_users_are_stored_hashed_and_authenticate(engine: Engine, cli: CliRunner) -> None:
    result = cli.invoke(app, ["users", "add", "pia", "--role", "planner", "--password-stdin"],
                        input="s3cret-enough\n")
    assert result.exit_code == 0 and "user pia (planner) added" in result.stdout
    assert cli.invoke(app, ["users", "add", "pia", "--role", "viewer", "--password-stdin"],
                      input="another-one\n").exit_code == 0
    assert json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout) == [
        {"username": "pia", "role": "viewer", "disabled": False}]
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


@pytest.mark.parametrize("transactions", [1, 2])
def test_parallel_wrong_sign_ins_for_one_name_check_at_most_the_allowed_passwords(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, transactions: int) -> None:
    """20 sign-ins at once for one name, each on its own connection: the count of failures and the
    failure's record are one step, so no more than `max_failures` passwords are ever checked. In one
    transaction (`authenticate`) or in two, as the dashboard signs in (the attempt reserved and
    committed, then the password checked)."""
    import threading

    import bcrypt

    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password="s3cret-enough", role="planner")
    checked, lock, real = [], threading.Lock(), bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        with lock:
            checked.append(1)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    start, outcomes = threading.Barrier(20), []

    def attempt() -> None:
        start.wait()
        try:
            if transactions == 1:
                with session_scope(engine) as session:
                    outcome = user_repo.authenticate(session=session, username="pia", password="a guess")
            else:
                with session_scope(engine) as session:
                    user_repo.reserve_sign_in(session=session, username="pia")
                with session_scope(engine) as session:
                    outcome = user_repo.check_sign_in(session=session, username="pia", password="a guess")
        except user_repo.LoginThrottledError:
            outcome = "throttled"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome = repr(exc)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(map(str, outcomes)) == ["None"] * 5 + ["throttled"] * 15, outcomes
    assert len(checked) == 5


def test_users_are_disabled_enabled_and_removed_and_their_sessions_end(engine: Engine, cli: CliRunner) -> None:
    with session_scope(engine) as session:
        for name, role in (("pia", "planner"), ("vic", "viewer")):
            user_repo.set_user(session=session, username=name, password="s3cret-enough", role=role)
        tokens = {name: user_repo.start_session(session=session, username=name, role=role, max_minutes=60)
                  for name, role in (("pia", "planner"), ("vic", "viewer"))}
    result = cli.invoke(app, ["users", "disable", "pia"])
    assert result.exit_code == 0 and "user pia disabled; its dashboard sessions are signed out" in result.stdout
    assert "was already disabled" in cli.invoke(app, ["users", "disable", "pia"]).stdout
    listed = [line.split() for line in cli.invoke(app, ["users", "list"]).stdout.splitlines()]
    assert listed == [["pia", "planner", "disabled"], ["vic", "viewer"]]
    with session_scope(engine) as session:
        with pytest.raises(user_repo.SessionEndedError, match="account disabled"):
            user_repo.resume_session(session=session, token=tokens["pia"], max_minutes=60)
        assert user_repo.resume_session(session=session, token=tokens["vic"], max_minutes=60) == ("vic", "viewer")
        assert user_repo.authenticate(session=session, username="pia", password="s3cret-enough") is None
    assert cli.invoke(app, ["users", "enable", "pia"]).exit_code == 0
    with session_scope(engine) as session:
        assert user_repo.authenticate(session=session, username="pia", password="s3cret-enough") == "planner"
        with pytest.raises(user_repo.SessionEndedError):  # enabling does not bring an ended session back
            user_repo.resume_session(session=session, token=tokens["pia"], max_minutes=60)

    result = cli.invoke(app, ["users", "remove", "vic"])
    assert result.exit_code == 0 and "user vic removed" in result.stdout
    with session_scope(engine) as session, pytest.raises(user_repo.SessionEndedError, match="account changed"):
        user_repo.resume_session(session=session, token=tokens["vic"], max_minutes=60)
    assert [u["username"] for u in json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout)] == ["pia"]
    for verb in ("remove", "disable", "enable"):
        result = cli.invoke(app, ["users", verb, "vic"])
        assert result.exit_code == 2 and result.stderr.strip() == (
            "error: user 'vic' does not exist; `demand users list` shows the users"), result.output


def test_a_dashboard_session_ends_when_its_user_changes_signs_out_or_grows_old(engine: Engine) -> None:
    import datetime as dt

    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password="s3cret-enough", role="planner")
        first = user_repo.start_session(session=session, username="pia", role="planner", max_minutes=60, now=start)
        second = user_repo.start_session(session=session, username="pia", role="planner", max_minutes=60, now=start)
        assert user_repo.resume_session(session=session, token=first, max_minutes=60,
                                        now=start + dt.timedelta(minutes=59)) == ("pia", "planner")
        with pytest.raises(user_repo.SessionEndedError, match="expired"):
            user_repo.resume_session(session=session, token=first, max_minutes=60, now=start + dt.timedelta(minutes=61))
        user_repo.end_session(session=session, token=second)
        with pytest.raises(user_repo.SessionEndedError, match="signed out"):
            user_repo.resume_session(session=session, token=second, max_minutes=60, now=start)
        with pytest.raises(user_repo.SessionEndedError):
            user_repo.resume_session(session=session, token="a guessed token", max_minutes=60)
        third = user_repo.start_session(session=session, username="pia", role="planner", max_minutes=60)
        user_repo.set_user(session=session, username="pia", password="s3cret-enough", role="planner")  # new password
        with pytest.raises(user_repo.SessionEndedError, match="account changed"):
            user_repo.resume_session(session=session, token=third, max_minutes=60)
        stored = session.scalars(select(DashboardSession.token_hash)).all()
        assert third not in stored and len(stored[0]) == 64  # only hashes are kept
