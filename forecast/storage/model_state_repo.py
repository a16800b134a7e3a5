"""Fitted models kept by a run (`model_state`), pickled with a digest checked before unpickling.

Pickle runs code when it loads, so a payload is only unpickled when its SHA-256 matches the one
stored beside it (a truncated or altered payload is refused with an error, never loaded) and the
table is written by the service alone (the digest catches corruption, not someone who can write
both columns). Functions never commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import pickle
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.errors import DemandError
from forecast.storage.schema import ModelState

__all__ = ["CorruptModelStateError", "KeptModel", "load_kept", "save_kept"]

logger = logging.getLogger(__name__)


class CorruptModelStateError(DemandError):
    """A stored model's payload does not match its digest."""


@dataclass(frozen=True)
class KeptModel:
    """A model loaded from `model_state`: the run that fitted it, the day it was fitted through, the object."""

    run_id: int
    trained_through: dt.date
    model: Any


def save_kept(*, session: Session, run_id: int, family: str, trained_through: dt.date, model: Any) -> int:
    """Store `model` for `run_id` and `family`; returns its size in bytes."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    session.add(ModelState(run_id=run_id, family=family, trained_through=trained_through, size_bytes=len(payload),
                           sha256=hashlib.sha256(payload).hexdigest(), payload=payload))
    session.flush()
    return len(payload)


def load_kept(*, session: Session, run_ids: list[int], family: str, oldest: dt.date,
              before: dt.date, limit: int | None = 1, skip: int = 0) -> list[KeptModel]:
    """The `family` models of `run_ids` fitted through a day in [oldest, before), newest first: `limit`
    of them (None: all) after the newest `skip`; empty if none.

    Raises:
        CorruptModelStateError: a payload does not match its stored digest (none is unpickled then), or
            does not unpickle.
    """
    if not run_ids:
        return []
    query = select(ModelState).where(
        ModelState.run_id.in_(run_ids), ModelState.family == family, ModelState.trained_through >= oldest,
        ModelState.trained_through < before).order_by(ModelState.trained_through.desc(), ModelState.id.desc())
    rows = session.scalars(query.limit(limit).offset(skip)).all()
    for row in rows:
        if hashlib.sha256(row.payload).hexdigest() != row.sha256:
            raise CorruptModelStateError(
                f"model_state {row.id} ({family} of run {row.run_id}) does not match its SHA-256; it was not loaded. "
                "delete that row or run with --refit-days 0")
    return [KeptModel(row.run_id, row.trained_through, _unpickled(row)) for row in rows]


def _unpickled(row: ModelState) -> Any:
    """The row's model (its digest already checked).

    Raises:
        CorruptModelStateError: it no longer unpickles (e.g. stored by another version of its library).
    """
    try:
        return pickle.loads(row.payload)  # noqa: S301 - the digest was checked
    except Exception as exc:  # noqa: BLE001 - any failure to load means "refit"
        raise CorruptModelStateError(
            f"model_state {row.id} ({row.family} of run {row.run_id}) does not unpickle here "
            f"({type(exc).__name__}: {exc}), likely stored under other library versions; delete that row") from exc
