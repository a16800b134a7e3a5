"""Readers of `published_forecast` while new runs publish see one whole run at a time, never a mix."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from forecast.pipeline.run import run_forecast
from forecast.storage.engine import make_engine

READERS = 6


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_readers_never_see_two_runs_at_once(loaded: Engine, db_url: str) -> None:
    first = run_forecast(loaded, horizon=7, models=["SeasonalNaive"]).run_id
    seen: list[tuple[tuple[int, int], ...]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        engine = make_engine(db_url)
        try:
            with engine.connect() as conn:
                while not stop.is_set():
                    rows = conn.execute(text("SELECT run_id, count(*) FROM published_forecast GROUP BY run_id")).all()
                    seen.append(tuple((int(r), int(n)) for r, n in rows))
                    conn.rollback()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=read, daemon=True) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    published = [first]
    for models in (["SeasonalNaive"], ["AutoTheta"], ["SeasonalNaive"], ["AutoTheta"]):
        published.append(run_forecast(loaded, horizon=7, models=models).run_id)
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(seen) > 100  # the readers kept reading through the publishes
    mixed = [s for s in seen if len(s) != 1 or s[0][1] != 18 * 7]
    assert not mixed, mixed[:5]
    assert {s[0][0] for s in seen} <= set(published) and len({s[0][0] for s in seen}) >= 3
