"""One engine per database URL (`st.cache_resource`) and query results for `TTL_SECONDS`
(`st.cache_data`), so page changes read memory, not the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import streamlit as st
from sqlalchemy import Engine

from forecast.settings import get_settings
from forecast.storage.engine import make_engine

__all__ = ["TTL_SECONDS", "engine", "fresh", "per_database"]

TTL_SECONDS = 60
P = ParamSpec("P")
R = TypeVar("R")


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The configured database's engine (read-only use)."""
    return _engine(get_settings().database_url)


def per_database(query: Callable[Concatenate[Engine, P], R]) -> Callable[P, R]:
    """`query` on the configured database, its result cached for `TTL_SECONDS` per database URL and
    arguments (the cache is `query`'s own: it is keyed by `query`'s name)."""
    def on(url: str, *args: P.args, **kwargs: P.kwargs) -> R:
        return query(_engine(url), *args, **kwargs)

    on.__module__, on.__qualname__ = query.__module__, query.__qualname__
    cached = st.cache_data(ttl=TTL_SECONDS, show_spinner=False)(on)

    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        return cached(get_settings().database_url, *args, **kwargs)

    read.__name__, read.__qualname__, read.__doc__ = query.__name__, query.__qualname__, query.__doc__
    return read


def fresh(query: Callable[Concatenate[Engine, P], R]) -> Callable[P, R]:
    """`query` on the configured database, read anew on every call (not cached)."""
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        return query(engine(), *args, **kwargs)

    read.__name__, read.__qualname__, read.__doc__ = query.__name__, query.__qualname__, query.__doc__
    return read
