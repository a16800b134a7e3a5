"""`demand forecast run/runs/show` through the CLI."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from typer.testing import CliRunner

from forecast.cli import app


def test_run_show_runs(loaded: Engine, cli: CliRunner) -> None:
    result = cli.invoke(app, ["forecast", "run", "--horizon", "7", "--models", "SeasonalNaive", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["status"], report["series"], report["rows"]) == ("published", 18, 126)
    shown = json.loads(cli.invoke(app, ["forecast", "show", "STA-001", "R01", "--json"]).stdout)
    assert len(shown) == 7 and shown[0]["model"] == "SeasonalNaive" and shown[0]["run_id"] == report["run_id"]
    runs = json.loads(cli.invoke(app, ["forecast", "runs", "--json"]).stdout)
    assert runs[0]["status"] == "published" and runs[0]["series"] == 18 and runs[0]["seconds"] > 0


def test_bad_forecast_input_exits_2(loaded: Engine, cli: CliRunner) -> None:
    for args, message in (
        (["forecast", "run", "--models", "Magic"], "unknown model(s) Magic"),
        (["forecast", "run", "--horizon", "0"], "--horizon must be between 1 and 366"),
        (["forecast", "run", "--cutoff", "yesterday"], "--cutoff 'yesterday' is not a date"),
        (["forecast", "show", "NOPE", "R01"], "no published forecast for SKU 'NOPE'"),
    ):
        result = cli.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1
