"""Dashboard users: add or update one (bcrypt-hashed password), check a login. Callers commit.

Sign-ins are throttled per name tried: after `max_failures` wrong passwords within
`window_minutes`, the name is refused without checking the password until the oldest of those
failures is `window_minutes` old. The failures are rows of `login_failure`, so every dashboard
process sees the same count; a good sign-in clears the name's failures.
"""

from __future__ import annotations

import datetime as dt
import math

import bcrypt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forecast.errors import DemandError, InvalidInputError
from forecast.storage.schema import USER_ROLES, AppUser, LoginFailure, utcnow

__all__ = ["MIN_PASSWORD_LENGTH", "LoginThrottledError", "authenticate", "list_users", "set_user"]

MIN_PASSWORD_LENGTH = 8
BCRYPT_ROUNDS = 12
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


def _secret(password: str) -> bytes:
    """The bytes bcrypt reads: it uses the first 72 and refuses longer input."""
    return password.encode("utf-8")[:72]


def set_user(*, session: Session, username: str, password: str, role: str) -> bool:
    """Create the user, or replace its password and role; True when it was new.

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
    return False


class LoginThrottledError(DemandError):
    """Too many failed sign-ins for a name; `minutes` until it may try again."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many failed sign-ins for this user; try again in {minutes} minute(s)")
        self.minutes = minutes


def authenticate(*, session: Session, username: str, password: str, max_failures: int = 5,
                 window_minutes: float = 15.0, now: dt.datetime | None = None) -> str | None:
    """The user's role when the password matches, else None (same work for unknown users); a
    failure is recorded.

    Raises:
        LoginThrottledError: `max_failures` failures for this name within `window_minutes`.
    """
    now = now or utcnow()
    name = username[:64]
    window = dt.timedelta(minutes=window_minutes)
    count, oldest = session.execute(select(func.count(LoginFailure.id), func.min(LoginFailure.failed_at)).where(
        LoginFailure.username == name, LoginFailure.failed_at > now - window)).one()
    if count >= max_failures:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
        raise LoginThrottledError(max(1, math.ceil((oldest + window - now).total_seconds() / 60)))
    user = session.get(AppUser, username)
    stored = user.password_hash.encode("ascii") if user else _DUMMY_HASH
    matches = bcrypt.checkpw(_secret(password), stored)
    if user is not None and matches:
        session.execute(delete(LoginFailure).where(LoginFailure.username == name))
        return user.role
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - dt.timedelta(days=1)))
    session.add(LoginFailure(username=name, failed_at=now))
    return None


def list_users(*, session: Session) -> list[tuple[str, str]]:
    """(username, role) of every user."""
    return [tuple(r) for r in session.execute(select(AppUser.username, AppUser.role).order_by(AppUser.username))]
