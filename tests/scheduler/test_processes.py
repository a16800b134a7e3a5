"""Two scheduler processes on one database: one runs the jobs; SIGKILL it and the standby takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from tests.scheduler.conftest import QUIET, job_runs, utc, wait_for

LEASE = 2.0


def _start(db_url: str, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, **QUIET, "DEMAND_DATABASE_URL": db_url, "DEMAND_SCHEDULE_ACCURACY": "* * * * * *",
           "DEMAND_SCHEDULER_LEASE_SECONDS": str(LEASE), "DEMAND_SIGNALS_CONFIG": str(tmp_path / "none.toml")}
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-c", "from forecast.cli import main; main()", "scheduler", "start",
                             "--standby"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)


def _instances(engine: Engine) -> Counter:
    return Counter(int(r.instance.rsplit(":", 1)[1]) for r in job_runs(engine))


def test_exactly_one_of_two_schedulers_runs_jobs_and_the_standby_takes_over_after_sigkill(
        engine: Engine, db_url: str, tmp_path: Path) -> None:
    first = _start(db_url, tmp_path, "first")
    second = None
    try:
        wait_for(lambda: _instances(engine).get(first.pid, 0) >= 2, timeout=60, what="the first scheduler's jobs")
        second = _start(db_url, tmp_path, "second")
        time.sleep(8)  # long enough for the second process to start and poll the lock several times
        assert second.poll() is None, (tmp_path / "second.log").read_text()
        assert set(_instances(engine)) == {first.pid}
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.time()
        wait_for(lambda: _instances(engine).get(second.pid, 0) >= 2, timeout=30, what="the standby's jobs")
        took_over = min(utc(r.started_at).timestamp() for r in job_runs(engine)
                        if r.instance.endswith(f":{second.pid}")) - killed_at
        assert took_over <= LEASE + 2.5, f"the standby took {took_over:.1f}s to take over"
        runs = job_runs(engine)
        per_time = Counter((r.job, r.scheduled_for) for r in runs)
        assert max(per_time.values()) == 1, "a job ran twice for one scheduled time"
        assert {r.status for r in runs if r.instance.endswith(f":{first.pid}")} <= {"succeeded", "abandoned"}
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()
        assert "stopped" in (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
