"""A viewer never sees a signal source's secrets on the Overview or Runs page (issue 25 item 1).

A scheduled pull fails against `http://user:<password>@127.0.0.1:9/cases.csv?token=<token>`; its job
history is what the Overview's job health and the Runs page show to every signed-in user.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from forecast.pipeline.run import run_forecast
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope

PASSWORD = "Pw-Secret-4417"
TOKEN = "Tok-8c1f0e77"
URL = f"http://user:{PASSWORD}@127.0.0.1:9/cases.csv?token={TOKEN}"
VIEWER_PASSWORD = "correct horse battery"
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def failed_pull(loaded: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A published run, a viewer, and a scheduled signal pull that failed against the URL above."""
    from scheduler import jobs
    from scheduler.tracking import STOP

    STOP.clear()  # a scheduler stopped by an earlier test leaves it set
    run_forecast(loaded, horizon=7, models=["SeasonalNaive"])
    with session_scope(loaded) as session:
        user_repo.set_user(session=session, username="vic", password=VIEWER_PASSWORD, role="viewer")
    config = tmp_path / "signals.toml"
    config.write_text(f'[sources.cases]\nkind = "cases"\nlocation = "{URL}"\npreset = "daily"\n'
                      "timeout = 1\nretries = 0\n")
    for key, value in {"DATABASE_URL": db_url, "SIGNALS_CONFIG": str(config), "JOB_RETRIES": "0"}.items():
        monkeypatch.setenv(f"DEMAND_{key}", value)
    get_settings.cache_clear()
    assert jobs.signals_pull() == "failed"
    yield
    get_settings.cache_clear()


def _shown(app: AppTest) -> str:
    """Everything the page rendered, without backslashes and invisible format characters (Markdown escapes
    and the word joiners that stop auto-linking would otherwise hide a secret's text from the search)."""
    text = "\n".join(_rendered(app._tree)).replace("\\", "")
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _rendered(node: object) -> Iterator[str]:
    """The text of `node` and of everything under it (protos, and tables' cells)."""
    proto = getattr(node, "proto", None)
    if proto is not None:
        yield str(proto)
    if type(node).__name__ == "Dataframe":
        yield node.value.to_csv()  # type: ignore[attr-defined]
    for child in getattr(node, "children", {}).values():
        yield from _rendered(child)


def test_a_viewer_sees_the_failed_pull_without_its_secrets(failed_pull: None) -> None:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input("vic")
    app.text_input[1].input(VIEWER_PASSWORD)
    app.button[0].click().run()
    assert app.title[0].value == "Overview" and not app.exception
    shown = _shown(app)
    assert PASSWORD not in shown and TOKEN not in shown
    assert "signals_pull failed" in shown and "user:***@127.0.0.1:9/cases.csv?token=***" in shown

    app.switch_page("views/runs.py").run()
    assert app.title[0].value == "Runs and jobs" and not app.exception
    shown = _shown(app)
    assert PASSWORD not in shown and TOKEN not in shown
    assert "user:***@127.0.0.1:9/cases.csv?token=***" in shown
