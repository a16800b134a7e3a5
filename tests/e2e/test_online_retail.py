"""Prophet's online-retail example (30 items, days without a sale absent) through the CLI with the `zero` policy."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from forecast.cli import app

RETAIL_FILE = "prophet_example_online_retail_multivariate.csv"
DEMO_MODELS = ["SeasonalNaive", "AutoTheta", "CrostonOptimized", "XGBoost"]
MODELS = [*DEMO_MODELS, "AutoETS"]


def _ok(cli: CliRunner, *args: str) -> dict:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_online_retail_ingests_forecasts_and_beats_seasonal_naive(cli: CliRunner, shared_data: Path) -> None:
    batch = _ok(cli, "ingest", "sales", str(shared_data / RETAIL_FILE), "--mapping", "sku=item", "--mapping", "day=ds",
                "--mapping", "units=y", "--region", "UK online")
    assert batch["absent"] == "zero" and batch["rows_accepted"] == 7_506  # no zero rows: absent days are no sale
    shapes = _ok(cli, "summary")["series_shapes"]
    assert shapes["series"] == {"live": 30} and shapes["with_unknown_days"] == []
    assert shapes["with_absent_days"] == 30  # every item has days without a sale, filled with 0

    run = _ok(cli, "forecast", "run", "--horizon", "28", *[a for m in DEMO_MODELS for a in ("--models", m)])
    assert run["status"] == "published" and run["rows"] == 30 * 28

    backtest = _ok(cli, "backtest", "run", "--windows", "3", "--horizon", "28", *[a for m in MODELS for a in ("--models", m)])
    scores = {row["model"]: row for row in backtest["summary"]}
    for metric in ("rmsse", "wape"):
        assert scores["Selected"][metric] < scores["SeasonalNaive"][metric], (metric, scores)
        assert scores["AutoETS"][metric] < scores["SeasonalNaive"][metric], (metric, scores)
