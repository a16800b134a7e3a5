"""One active scheduler per database.

- PostgreSQL: a session-level advisory lock on a connection the holder keeps open. When the holder
  dies its connection closes and the server releases the lock at once.
- SQLite: a lease in the `scheduler_lock` row. The holder renews it every third of the lease; a
  standby takes the row once `expires_at` has passed.

Both write the row, so `demand scheduler status` can say who is active.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from forecast.storage import lock_repo
from forecast.storage.engine import is_postgres, session_scope
from forecast.storage.schema import utcnow

__all__ = ["AdvisoryLock", "LeaseLock", "ServiceLock", "make_lock"]

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
ADVISORY_KEY = 0x64656D616E64  # "demand"; advisory locks are per database, so one key serves all


class ServiceLock(Protocol):
    """Held by the active scheduler."""

    previous_owner: str | None
    """Who held the lock before this instance took it (its running jobs are abandoned)."""

    def acquire(self) -> bool:
        """Take the lock if it is free; True when this instance holds it."""

    def renew(self) -> bool:
        """Extend the hold; False when it was lost (the instance must stop running jobs)."""

    def release(self) -> None:
        """Let a standby take over now."""


class LeaseLock:
    """The `scheduler_lock` row as a lease (SQLite, or any database without advisory locks)."""

    def __init__(self, engine: Engine, owner: str, lease_seconds: float) -> None:
        self.engine, self.owner, self.lease = engine, owner, dt.timedelta(seconds=lease_seconds)
        self.previous_owner: str | None = None

    def _write(self, *, take_expired: bool) -> bool:
        now = utcnow()
        lease = {"name": LOCK_NAME, "owner": self.owner, "now": now, "until": now + self.lease}
        with session_scope(self.engine) as session:
            before = lock_repo.lease_owner(session=session, name=LOCK_NAME)
            taken = lock_repo.take_lease(session=session, take_expired=take_expired, **lease)
            if taken and take_expired:
                self.previous_owner = before
            if taken or not take_expired:
                return taken
            if not lock_repo.insert_lease(session=session, **lease):
                return False
            self.previous_owner = None
            return True

    def acquire(self) -> bool:
        """Take the row if nobody holds it or its lease ran out."""
        return self._write(take_expired=True)

    def renew(self) -> bool:
        """Extend this instance's lease; False when another instance took the row."""
        return self._write(take_expired=False)

    def release(self) -> None:
        """Expire this instance's lease now."""
        with session_scope(self.engine) as session:
            lock_repo.expire_lease(session=session, name=LOCK_NAME, owner=self.owner, now=utcnow())


class AdvisoryLock:
    """A PostgreSQL advisory lock held on a dedicated connection; the lease row only informs."""

    def __init__(self, engine: Engine, owner: str, lease_seconds: float) -> None:
        self.engine, self.owner, self.lease_seconds = engine, owner, lease_seconds
        self.connection: Connection | None = None
        self.row = LeaseLock(engine, owner, lease_seconds)
        self.previous_owner: str | None = None

    def acquire(self) -> bool:
        """Try the advisory lock; on success record this instance in the row."""
        if self.connection is None:
            self.connection = self.engine.connect()
        got = lock_repo.try_advisory_lock(connection=self.connection, key=ADVISORY_KEY)
        self.connection.commit()
        if got:
            with session_scope(self.engine) as session:
                self.previous_owner = lock_repo.lease_owner(session=session, name=LOCK_NAME)
            self._record()
        return got

    def _record(self) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            lock_repo.record_holder(session=session, name=LOCK_NAME, owner=self.owner, now=now,
                                    until=now + dt.timedelta(seconds=self.lease_seconds))

    def renew(self) -> bool:
        """Check the lock's connection is alive (it holds the lock while it is) and refresh the row."""
        if self.connection is None:
            return False
        try:
            lock_repo.ping(connection=self.connection)
            self.connection.commit()
        except DBAPIError as exc:
            logger.error("lost the scheduler lock's connection: %s", str(exc).splitlines()[0])
            self.connection = None
            return False
        return self.row.renew()

    def release(self) -> None:
        """Unlock and close the connection; expire the row."""
        if self.connection is not None:
            try:
                lock_repo.advisory_unlock(connection=self.connection, key=ADVISORY_KEY)
                self.connection.commit()
                self.connection.close()
            except DBAPIError:
                pass
            self.connection = None
        self.row.release()


def make_lock(engine: Engine, owner: str, lease_seconds: float) -> ServiceLock:
    """The engine's kind of lock: advisory on PostgreSQL, a lease row elsewhere."""
    kind = AdvisoryLock if is_postgres(engine) else LeaseLock
    return kind(engine, owner, lease_seconds)
