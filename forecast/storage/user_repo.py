"""Dashboard users: add or update one (bcrypt-hashed password), check a login. Callers commit."""

from __future__ import annotations

import bcrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.storage.schema import USER_ROLES, AppUser

__all__ = ["MIN_PASSWORD_LENGTH", "authenticate", "list_users", "set_user"]

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


def authenticate(*, session: Session, username: str, password: str) -> str | None:
    """The user's role when the password matches, else None (same work for unknown users)."""
    user = session.get(AppUser, username)
    stored = user.password_hash.encode("ascii") if user else _DUMMY_HASH
    matches = bcrypt.checkpw(_secret(password), stored)
    return user.role if user is not None and matches else None


def list_users(*, session: Session) -> list[tuple[str, str]]:
    """(username, role) of every user."""
    return [tuple(r) for r in session.execute(select(AppUser.username, AppUser.role).order_by(AppUser.username))]
