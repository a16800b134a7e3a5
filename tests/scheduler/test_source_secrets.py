"""A scheduled signal pull failing against a URL with secrets records and logs it masked (issue 25 item 1)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.scheduler.conftest import job_runs

PASSWORD = "Pw-Secret-4417"
TOKEN = "Tok-8c1f0e77"
URL = f"http://user:{PASSWORD}@127.0.0.1:9/cases.csv?token={TOKEN}"


def test_a_failing_pull_records_the_masked_url_in_the_job_history(engine: Engine, configure, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from scheduler import jobs
    from scheduler.tracking import STOP

    STOP.clear()  # a scheduler stopped by an earlier test leaves it set
    config = tmp_path / "signals.toml"
    config.write_text(f'[sources.cases]\nkind = "cases"\nlocation = "{URL}"\npreset = "daily"\n'
                      "timeout = 1\nretries = 1\n")
    configure(signals_config=config, job_retries=0)
    caplog.set_level(logging.DEBUG)
    assert jobs.signals_pull() == "failed"
    run = job_runs(engine, "signals_pull")[-1]
    assert run.error.startswith("InvalidInputError: 1 of 1 signal sources failed: cases: cannot fetch "
                                "http://user:***@127.0.0.1:9/cases.csv?token=***: ConnectError (")
    stored = " ".join(str(v) for v in (run.error, run.message, run.traceback))
    assert PASSWORD not in stored and TOKEN not in stored
    assert any("retry 1 of 1" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert PASSWORD not in record.getMessage() and TOKEN not in record.getMessage()
