"""`DEMAND_LOG_LEVEL` and `demand -v` set the level of the service's own log lines (no database)."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forecast.cli.main import SERVICE_LOGGERS, app
from forecast.settings import get_settings

@pytest.fixture
def levels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Run with no DEMAND_LOG_LEVEL (and no .env), and put the loggers' levels back afterwards."""
    names = ("", *SERVICE_LOGGERS)
    saved = {name: logging.getLogger(name).level for name in names}
    monkeypatch.delenv("DEMAND_LOG_LEVEL", raising=False)
    monkeypatch.setenv("DEMAND_DATABASE_URL", f"sqlite:///{tmp_path / 'demand.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _level_after(*args: str) -> int:
    result = CliRunner().invoke(app, [*args, "signals", "list"])
    assert result.exit_code == 0, result.output
    return logging.getLogger("forecast.pipeline").getEffectiveLevel()


@pytest.mark.parametrize(("env", "verbose", "expected"), [
    (None, False, logging.WARNING),
    ("INFO", False, logging.INFO),
    ("debug", False, logging.DEBUG),
    ("ERROR", False, logging.ERROR),
    (None, True, logging.DEBUG),
    ("ERROR", True, logging.DEBUG),  # the command line wins over the environment
])
def test_the_level_follows_the_setting_and_verbose(levels: None, monkeypatch: pytest.MonkeyPatch, env: str | None,
                                                   verbose: bool, expected: int) -> None:
    if env is not None:
        monkeypatch.setenv("DEMAND_LOG_LEVEL", env)
    assert _level_after(*(["-v"] if verbose else [])) == expected
    for name in SERVICE_LOGGERS:
        assert logging.getLogger(name).level == expected


def test_info_lines_reach_stderr_only_when_asked_for(tmp_path: Path) -> None:
    """A real process, as `demand` starts: the handler goes to stderr, INFO lines only when asked for."""
    script = ("import logging, sys; from forecast.cli.main import app; "
              "app(['signals', 'list', '--config', sys.argv[1]], standalone_mode=False); "
              "logging.getLogger('forecast.ingest').info('an info line'); "
              "logging.getLogger('forecast.ingest').warning('a warning')")
    config = tmp_path / "signals.toml"
    config.write_text("")
    base = {"PATH": "/usr/bin:/bin", "DEMAND_DATABASE_URL": f"sqlite:///{tmp_path / 'demand.db'}"}
    for env, shown in (({}, False), ({"DEMAND_LOG_LEVEL": "INFO"}, True)):
        done = subprocess.run([sys.executable, "-c", script, str(config)], cwd=tmp_path, env={**base, **env},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "WARNING forecast.ingest: a warning" in done.stderr
        assert ("INFO forecast.ingest: an info line" in done.stderr) is shown, done.stderr


def test_a_bad_level_is_refused_in_one_line(levels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_LOG_LEVEL", "LOUD")
    result = CliRunner().invoke(app, ["signals", "list"])
    assert result.exit_code == 2
    assert "DEMAND_LOG_LEVEL='LOUD': use one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.output
