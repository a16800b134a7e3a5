"""The pages' cached reads: each query has its own cache, keyed by the database URL and its arguments."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import streamlit as st

from dashboard.data import cache


def test_a_query_is_cached_per_database_url_and_arguments_and_apart_from_the_others(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, int]] = []

    def first(engine: object, x: int) -> tuple[str, str, int]:
        calls.append(("first", str(engine), x))
        return calls[-1]

    def second(engine: object, x: int) -> tuple[str, str, int]:
        calls.append(("second", str(engine), x))
        return calls[-1]

    settings = SimpleNamespace(database_url="sqlite:///one.db")
    monkeypatch.setattr(cache, "get_settings", lambda: settings)
    monkeypatch.setattr(cache, "_engine", lambda url: f"engine of {url}")
    st.cache_data.clear()
    cached_first, cached_second, fresh_first = cache.per_database(first), cache.per_database(second), cache.fresh(first)

    assert cached_first(1) == cached_first(1) == ("first", "engine of sqlite:///one.db", 1)
    assert cached_second(1) == ("second", "engine of sqlite:///one.db", 1)
    assert cached_first(2)[2] == 2
    settings.database_url = "sqlite:///two.db"
    assert cached_first(1) == ("first", "engine of sqlite:///two.db", 1)
    assert len(calls) == 4
    monkeypatch.setattr(cache, "engine", lambda: "the engine")
    fresh_first(1), fresh_first(1)
    assert calls[-2:] == [("first", "the engine", 1)] * 2
    assert cached_first.__name__ == "first" and cached_first.__doc__ == first.__doc__
