"""The statements of the scheduler's lock (`scheduler.lock`): the `scheduler_lock` row as a lease, and
PostgreSQL's session-level advisory lock on a connection its holder keeps open. Functions never commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forecast.storage.schema import SchedulerLock

__all__ = ["advisory_unlock", "expire_lease", "insert_lease", "lease_owner", "ping", "record_holder", "take_lease",
           "try_advisory_lock"]


def lease_owner(*, session: Session, name: str) -> str | None:
    """Who holds (or last held) lock `name` (None when the row does not exist)."""
    return session.scalar(select(SchedulerLock.owner).where(SchedulerLock.name == name))


def take_lease(*, session: Session, name: str, owner: str, now: dt.datetime, until: dt.datetime,
               take_expired: bool) -> bool:
    """Renew `owner`'s lease of lock `name` to `until` (and, with `take_expired`, take it from a holder
    whose lease ran out, as acquired now); False when no row was `owner`'s (or free)."""
    mine = SchedulerLock.owner == owner
    return bool(session.execute(
        update(SchedulerLock)
        .where(SchedulerLock.name == name, or_(mine, SchedulerLock.expires_at < now) if take_expired else mine)
        .values(owner=owner, renewed_at=now, expires_at=until,
                acquired_at=SchedulerLock.acquired_at if not take_expired else now)).rowcount)


def insert_lease(*, session: Session, name: str, owner: str, now: dt.datetime, until: dt.datetime) -> bool:
    """Create lock `name`'s row held by `owner` (in a savepoint); False when another instance did first."""
    try:
        with session.begin_nested():
            session.add(SchedulerLock(name=name, owner=owner, acquired_at=now, renewed_at=now, expires_at=until))
    except IntegrityError:
        return False
    return True


def expire_lease(*, session: Session, name: str, owner: str, now: dt.datetime) -> None:
    """End `owner`'s lease of lock `name` at `now`."""
    session.execute(update(SchedulerLock).where(SchedulerLock.name == name, SchedulerLock.owner == owner)
                    .values(expires_at=now))


def record_holder(*, session: Session, name: str, owner: str, now: dt.datetime, until: dt.datetime) -> None:
    """Write `owner` into lock `name`'s row as acquired now (PostgreSQL: the advisory lock's holder)."""
    session.execute(text(
        "INSERT INTO scheduler_lock (name, owner, acquired_at, renewed_at, expires_at) "
        "VALUES (:name, :owner, :now, :now, :expires) ON CONFLICT (name) DO UPDATE SET "
        "owner = excluded.owner, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, "
        "expires_at = excluded.expires_at"),
        {"name": name, "owner": owner, "now": now, "expires": until})


def try_advisory_lock(*, connection: Connection, key: int) -> bool:
    """Take PostgreSQL's session-level advisory lock `key` on `connection` if it is free."""
    return bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())


def advisory_unlock(*, connection: Connection, key: int) -> None:
    """Release advisory lock `key` held on `connection`."""
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def ping(*, connection: Connection) -> None:
    """A trivial statement: raises when `connection` is gone."""
    connection.execute(text("SELECT 1"))
