"""Dashboard users: add, update, disable, enable or remove one (bcrypt-hashed password), check a
sign-in, and the server-side record of each dashboard session. Callers commit.

Sign-ins are throttled per name tried: after `max_failures` wrong passwords within
`window_minutes`, the name is refused without checking the password until the oldest of those
failures is `window_minutes` old. The failures are rows of `login_failure`, so every dashboard
process sees the same count. Counting them and recording the attempt are one step under a per-name
lock (`reserve_sign_in`): the attempt is recorded as a failure *before* the password is checked,
and a good password then clears the name's failures (`check_sign_in`). So parallel sign-ins cannot
check more passwords than the limit allows.

A signed-in dashboard session is a `dashboard_session` row; the browser's session keeps only a
random token (its SHA-256 is stored). `resume_session` is read on every rerun and planner action: a
changed role or password, a disabled or removed user, a sign-out or the session's age ends it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from typing import NamedTuple

import bcrypt
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from forecast.errors import DemandError, InvalidInputError
from forecast.storage.schema import USER_ROLES, AppUser, DashboardSession, LoginFailure, utcnow

__all__ = ["MIN_PASSWORD_LENGTH", "LoginThrottledError", "SessionEndedError", "SignedIn", "UserRow", "authenticate",
           "check_sign_in", "end_session", "list_users", "remove_user", "reserve_sign_in", "resume_session",
           "set_disabled", "set_user", "start_session"]

MIN_PASSWORD_LENGTH = 8
BCRYPT_ROUNDS = 12
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=BCRYPT_ROUNDS))
_SIGN_IN_LOCK = 0x6C6F67  # "log": pg_advisory_xact_lock(_SIGN_IN_LOCK, hashtext(name)), one lock per name
_TOUCH_EVERY = dt.timedelta(minutes=1)
"""`last_seen_at` is written at most this often per session, not on every rerun."""


class UserRow(NamedTuple):
    """A user as `demand users list` shows it."""

    username: str
    role: str
    disabled: bool


class SignedIn(NamedTuple):
    """A live dashboard session's user and the role it signed in with."""

    username: str
    role: str


def _secret(password: str) -> bytes:
    """The bytes bcrypt reads: it uses the first 72 and refuses longer input."""
    return password.encode("utf-8")[:72]


def _existing(session: Session, username: str) -> AppUser:
    user = session.get(AppUser, username)
    if user is None:
        raise InvalidInputError(f"user {username!r} does not exist; `demand users list` shows the users")
    return user


def _end_user_sessions(session: Session, username: str, reason: str, now: dt.datetime | None = None) -> int:
    """End every open dashboard session of `username`; how many were open."""
    ended = session.execute(update(DashboardSession).where(
        DashboardSession.username == username, DashboardSession.ended_at.is_(None)).values(
        ended_at=now or utcnow(), end_reason=reason))
    return ended.rowcount or 0


def set_user(*, session: Session, username: str, password: str, role: str) -> bool:
    """Create the user, or replace its password and role and end its dashboard sessions; True when
    it was new. A disabled user stays disabled.

    Raises:
        InvalidInputError: bad name, short password or unknown role.
    """
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise InvalidInputError(f"user name {username!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if role not in USER_ROLES:
        raise InvalidInputError(f"role {role!r} is unknown; use one of {', '.join(USER_ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    hashed = bcrypt.hashpw(_secret(password), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")
    user = session.get(AppUser, username)
    if user is None:
        session.add(AppUser(username=username, password_hash=hashed, role=role))
        return True
    user.password_hash, user.role = hashed, role
    _end_user_sessions(session, username, "account changed")
    return False


def set_disabled(*, session: Session, username: str, disabled: bool) -> bool:
    """Disable the user (no sign-in; its dashboard sessions end) or enable it again; False when it
    already was.

    Raises:
        InvalidInputError: no such user.
    """
    user = _existing(session, username)
    if (user.disabled_at is not None) == disabled:
        return False
    user.disabled_at = utcnow() if disabled else None
    if disabled:
        _end_user_sessions(session, username, "account disabled")
    return True


def remove_user(*, session: Session, username: str) -> None:
    """Delete the user and its dashboard sessions (the overrides and scenarios it made keep its name).

    Raises:
        InvalidInputError: no such user.
    """
    user = _existing(session, username)
    session.execute(delete(DashboardSession).where(DashboardSession.username == username))
    session.delete(user)


class LoginThrottledError(DemandError):
    """Too many failed sign-ins for a name; `minutes` until it may try again."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many failed sign-ins for this user; try again in {minutes} minute(s)")
        self.minutes = minutes


def reserve_sign_in(*, session: Session, username: str, max_failures: int = 5, window_minutes: float = 15.0,
                    now: dt.datetime | None = None) -> None:
    """Record a sign-in attempt for `username` as a failure, unless the name has `max_failures`
    within `window_minutes`: the count and the record are one step under a per-name lock held until
    the caller's transaction ends (PostgreSQL: an advisory transaction lock per name; SQLite: the
    database's write lock, which this function's first statement, a write, takes). Commit it before
    checking the password (`check_sign_in`) so the lock is held for milliseconds, not a bcrypt check.

    Raises:
        LoginThrottledError: `max_failures` failures for this name within `window_minutes`.
    """
    now = now or utcnow()
    name = username[:64]
    window = dt.timedelta(minutes=window_minutes)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
                        {"space": _SIGN_IN_LOCK, "name": name})
    # A write first: on SQLite it takes the write lock (BEGIN IMMEDIATE), so the count below is current.
    # Failures older than a day go; rows another sign-in is deleting are skipped (PostgreSQL), not waited for.
    stale = select(LoginFailure.id).where(LoginFailure.failed_at < now - dt.timedelta(days=1))
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(stale.with_for_update(skip_locked=True))))
    count, oldest = session.execute(select(func.count(LoginFailure.id), func.min(LoginFailure.failed_at)).where(
        LoginFailure.username == name, LoginFailure.failed_at > now - window)).one()
    if count >= max_failures:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
        raise LoginThrottledError(max(1, math.ceil((oldest + window - now).total_seconds() / 60)))
    session.add(LoginFailure(username=name, failed_at=now))
    session.flush()


def check_sign_in(*, session: Session, username: str, password: str) -> str | None:
    """After `reserve_sign_in`: the user's role when the password matches and the user is enabled,
    which clears the name's failures; else None, the reserved failure stays (same work for unknown
    and disabled users)."""
    user = session.get(AppUser, username)
    usable = user is not None and user.disabled_at is None
    stored = user.password_hash.encode("ascii") if usable else _DUMMY_HASH
    matches = bcrypt.checkpw(_secret(password), stored)
    if not (usable and matches):
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.username == username[:64]))
    return user.role


def authenticate(*, session: Session, username: str, password: str, max_failures: int = 5,
                 window_minutes: float = 15.0, now: dt.datetime | None = None) -> str | None:
    """`reserve_sign_in` and `check_sign_in` in the caller's one transaction (the name's lock is held
    through the password check): the role when the password matches, else None.

    Raises:
        LoginThrottledError: `max_failures` failures for this name within `window_minutes`.
    """
    reserve_sign_in(session=session, username=username, max_failures=max_failures, window_minutes=window_minutes,
                    now=now)
    return check_sign_in(session=session, username=username, password=password)


def list_users(*, session: Session) -> list[UserRow]:
    """Every user, role and whether it is disabled."""
    rows = session.execute(select(AppUser.username, AppUser.role, AppUser.disabled_at).order_by(AppUser.username))
    return [UserRow(name, role, disabled_at is not None) for name, role, disabled_at in rows]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC


class SessionEndedError(DemandError):
    """A dashboard session that may not be used any more; `reason` says why (`account changed`,
    `account disabled`, `expired`, `signed out`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the dashboard session has ended ({reason}); sign in again")
        self.reason = reason


def start_session(*, session: Session, username: str, role: str, max_minutes: float,
                  now: dt.datetime | None = None) -> str:
    """Record a dashboard sign-in; the token its browser session keeps (only a hash is stored).
    Sessions a day past `max_minutes` are deleted."""
    now = now or utcnow()
    session.execute(delete(DashboardSession).where(
        DashboardSession.created_at < now - dt.timedelta(minutes=max_minutes, days=1)))
    token = secrets.token_urlsafe(32)
    session.add(DashboardSession(token_hash=_token_hash(token), username=username, role=role, created_at=now,
                                 last_seen_at=now))
    session.flush()
    return token


def resume_session(*, session: Session, token: str, max_minutes: float, now: dt.datetime | None = None) -> SignedIn:
    """The user of the live session `token` (one indexed lookup; `last_seen_at` written at most once a
    minute).

    Raises:
        SessionEndedError: no such session, or it ended (signed out, the user changed, was disabled
            or removed), or it is older than `max_minutes`.
    """
    now = now or utcnow()
    found = session.execute(
        select(DashboardSession, AppUser.role, AppUser.disabled_at)
        .join(AppUser, AppUser.username == DashboardSession.username)
        .where(DashboardSession.token_hash == _token_hash(token))).one_or_none()
    if found is None:  # a removed user's sessions go with it
        raise SessionEndedError("account changed")
    record, role, disabled_at = found
    if record.ended_at is not None:
        raise SessionEndedError(record.end_reason or "signed out")
    if disabled_at is not None:
        raise SessionEndedError("account disabled")
    if role != record.role:
        raise SessionEndedError("account changed")
    if _aware(record.created_at) + dt.timedelta(minutes=max_minutes) < now:
        raise SessionEndedError("expired")
    if _aware(record.last_seen_at) + _TOUCH_EVERY < now:
        record.last_seen_at = now
    return SignedIn(record.username, record.role)


def end_session(*, session: Session, token: str, reason: str = "signed out") -> None:
    """End the session `token` (nothing when it is unknown or already ended)."""
    session.execute(update(DashboardSession).where(
        DashboardSession.token_hash == _token_hash(token), DashboardSession.ended_at.is_(None)).values(
        ended_at=utcnow(), end_reason=reason))
