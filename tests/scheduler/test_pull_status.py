"""A sales pull is recorded as it went: `partial` with quarantined rows, `failed` with a file rejected whole,
and listed by `demand jobs --failed` until a later pull of the same source succeeds with new rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from forecast.cli import app
from forecast.errors import InvalidInputError
from forecast.storage import job_repo
from forecast.storage.engine import session_scope
from tests.scheduler.conftest import job_runs

GOOD = "sku,region,day,units\nA1,R01,2026-01-05,3\nA1,R02,2026-01-05,4\n"
SOME_BAD = "sku,region,day,units\nA1,R01,2026-01-06,3\nA1,R01,2026-01-07,lots\nB2,R99,2026-01-07,-2\nB2,R01,,1\n"
ALL_BAD = "sku,region,day,units\nA1,R01,2026-01-08,none\n"


def _pull(cli: CliRunner) -> tuple[int, dict]:
    result = cli.invoke(app, ["scheduler", "run-once", "sales_pull", "--json"])
    return result.exit_code, json.loads(result.stdout)


def _open(cli: CliRunner) -> list[dict]:
    result = cli.invoke(app, ["jobs", "--failed", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def inbox(engine: Engine, configure, tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    configure(sales_drop_dir=folder)
    return folder


def test_quarantined_rows_make_the_pull_partial_and_a_rejected_file_makes_it_failed_until_a_good_pull(
        engine: Engine, inbox: Path, cli: CliRunner) -> None:
    (inbox / "sales_2026-01-06.csv").write_text(SOME_BAD)
    code, partial = _pull(cli)
    assert code == 0 and partial["status"] == "partial" and partial["rows"] == 1 and partial["traceback"] is None
    assert partial["error"].startswith("sales_2026-01-06.csv: 3 rows rejected (line 3: units 'lots' is not a number; "
                                       "line 4: units -2 is negative; and 1 more); see `demand ingest rejected ")
    assert [r["status"] for r in _open(cli)] == ["partial"]

    (inbox / "sales_2026-01-08.csv").write_text(ALL_BAD)
    code, failed = _pull(cli)
    assert code == 1 and failed["status"] == "failed" and failed["traceback"] is None
    assert failed["error"].startswith("sales_2026-01-08.csv: none of the 1 rows is valid (line 2: units 'none' is not "
                                      "a number)")
    assert "Traceback" not in failed["error"] and (inbox / "failed" / "sales_2026-01-08.csv").exists()
    assert [r["id"] for r in _open(cli)] == [failed["id"], partial["id"]]

    code, empty = _pull(cli)  # an empty drop folder proves nothing about the rejected files
    assert code == 0 and empty["status"] == "succeeded" and empty["rows"] == 0
    assert [r["id"] for r in _open(cli)] == [failed["id"], partial["id"]]
    shown = cli.invoke(app, ["jobs", "--failed"], env={"COLUMNS": "400"})
    assert "sales_2026-01-08.csv" in shown.stdout and "partial" in shown.stdout

    (inbox / "sales_2026-01-05.csv").write_text(GOOD)
    code, good = _pull(cli)
    assert code == 0 and good["status"] == "succeeded" and good["rows"] == 2 and good["error"] is None
    assert _open(cli) == []
    assert [r.status for r in job_runs(engine, "sales_pull")] == ["partial", "failed", "succeeded", "succeeded"]


def test_a_later_success_of_another_job_puts_nothing_right(engine: Engine, inbox: Path) -> None:
    from scheduler import jobs

    (inbox / "bad.csv").write_text(ALL_BAD)
    assert jobs.sales_pull() == "failed"
    assert jobs.signals_pull() == "succeeded"  # no signal source configured: nothing to do
    with session_scope(engine) as session:
        assert [(r.job, r.status) for r in job_repo.open_problems(session=session)] == [("sales_pull", "failed")]
        assert job_repo.open_problems(session=session, job="signals_pull") == []


def test_a_pull_that_cannot_run_raises_and_is_recorded_failed(engine: Engine, inbox: Path, configure) -> None:
    from scheduler import jobs

    configure(sales_drop_dir=inbox / "missing", job_retries=0)
    with pytest.raises(InvalidInputError, match=r"sales drop folder .*missing does not exist; create it"):
        jobs._sales_pull_body()
    assert jobs.sales_pull() == "failed"
    run = job_runs(engine, "sales_pull")[-1]
    assert run.error.startswith("InvalidInputError: sales drop folder ") and run.traceback is None
