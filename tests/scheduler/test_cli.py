"""`demand scheduler run-once|status` and `demand jobs` through the CLI."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from typer.testing import CliRunner

from forecast.cli import app


def test_run_once_then_status_and_jobs(loaded: Engine, cli: CliRunner, monkeypatch) -> None:
    monkeypatch.setenv("DEMAND_FORECAST_MODELS", '["SeasonalNaive"]')
    monkeypatch.setenv("DEMAND_FORECAST_HORIZON", "7")
    monkeypatch.setenv("DEMAND_SIGNALS_CONFIG", "missing.toml")
    monkeypatch.setenv("DEMAND_SCHEDULE_BACKTEST", "")
    from forecast.settings import get_settings

    get_settings.cache_clear()
    result = cli.invoke(app, ["scheduler", "run-once", "forecast", "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded" and run["rows"] == 18 * 7 and run["instance"].startswith("run-once ")
    assert cli.invoke(app, ["scheduler", "run-once", "accuracy"]).exit_code == 0
    shocks = json.loads(cli.invoke(app, ["scheduler", "run-once", "shocks", "--json"]).stdout)
    assert shocks["status"] == "succeeded" and shocks["message"] == "2 regions checked; flagged: none"

    status = json.loads(cli.invoke(app, ["scheduler", "status", "--json"]).stdout)
    assert status["active"] is None
    by_job = {j["job"]: j for j in status["jobs"]}
    assert by_job["forecast"]["schedule"] == "0 2 * * *" and by_job["backtest"]["schedule"] == "disabled"
    assert by_job["forecast"]["last"]["status"] == "succeeded" and by_job["sales_pull"]["last"] is None

    history = json.loads(cli.invoke(app, ["jobs", "--json"]).stdout)
    assert [h["job"] for h in history] == ["shocks", "accuracy", "forecast"]
    assert json.loads(cli.invoke(app, ["jobs", "--failed", "--json"]).stdout) == []
    table = cli.invoke(app, ["jobs"])
    assert table.exit_code == 0 and "forecast" in table.stdout


def test_a_failing_run_once_exits_1_and_is_listed_as_failed(loaded: Engine, cli: CliRunner, tmp_path) -> None:
    (tmp_path / "signals.toml").write_text('[sources.cases]\nkind = "cases"\nlocation = "http://127.0.0.1:9/c.csv"\n'
                                           'preset = "daily"\ntimeout = 1\nretries = 0\n')
    result = cli.invoke(app, ["scheduler", "run-once", "signals_pull"])
    assert result.exit_code == 1 and "1 of 1 signal sources failed: cases:" in result.stdout
    failed = json.loads(cli.invoke(app, ["jobs", "--failed", "--json"]).stdout)
    assert len(failed) == 1 and failed[0]["status"] == "failed" and failed[0]["retry_at"] is None


def test_unknown_job_exits_2(loaded: Engine, cli: CliRunner) -> None:
    result = cli.invoke(app, ["scheduler", "run-once", "coffee"])
    assert result.exit_code == 2 and "unknown job 'coffee'; choose one of sales_pull" in result.stderr


def test_a_bad_schedule_stops_the_start_with_one_line(loaded: Engine, cli: CliRunner, monkeypatch) -> None:
    monkeypatch.setenv("DEMAND_SCHEDULE_FORECAST", "every night")
    from forecast.settings import get_settings

    get_settings.cache_clear()
    result = cli.invoke(app, ["scheduler", "start"])
    assert result.exit_code == 2 and "schedule 'every night' has 2 fields; give 5" in result.stderr
