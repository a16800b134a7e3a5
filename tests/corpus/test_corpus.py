"""The bad-input corpus, table-driven from `manifest.py`, on SQLite and PostgreSQL.

For every file: either the whole file is refused with one line naming the problem and its fix and
the database is exactly as before, or the listed lines are quarantined with their reasons and every
good row is stored with its values. Hostile ids are data: stored verbatim, and no table goes away.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine

from forecast.errors import DemandError
from forecast.settings import load_settings
from scheduler.service import schedules
from tests.corpus.harness import FILES, load_config, run_entry, snapshot, tables_present
from tests.corpus.manifest import CONFIG, ENV, FILE_ENTRIES, Entry


def _assert_one_line(message: str, pattern: str) -> None:
    assert "\n" not in message and "\r" not in message and "\x00" not in message, repr(message)
    assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"


def test_corpus_is_large_and_every_file_is_listed() -> None:
    listed = {e.file for e in FILE_ENTRIES + CONFIG}
    on_disk = {str(p.relative_to(FILES)) for p in FILES.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert len(on_disk) >= 40


@pytest.mark.parametrize("entry", FILE_ENTRIES, ids=lambda e: e.file + (f"[{e.options}]" if e.options else ""))
def test_file_entry(corpus_engine: Engine, entry: Entry) -> None:
    tables = tables_present(corpus_engine)
    before = snapshot(corpus_engine)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{entry.file}.{len(entry.options)}")[-64:]
    outcome = run_entry(corpus_engine, entry.kind, FILES / entry.file, entry.options, name)
    after = snapshot(corpus_engine)
    assert tables_present(corpus_engine) == tables
    if entry.error is not None:
        assert outcome.error is not None, f"accepted as batch {outcome.batch_id}, expected: {entry.error}"
        _assert_one_line(outcome.error, entry.error)
        assert after["counts"] == before["counts"] and after["sales_sha256"] == before["sales_sha256"]
        assert after["rows"] == before["rows"]  # nothing half-applied
        return
    assert outcome.error is None, outcome.error
    assert set(outcome.rejected) == set(entry.rejected), outcome.rejected
    for line, pattern in entry.rejected.items():
        _assert_one_line(outcome.rejected[line], pattern)
    assert outcome.stored == entry.stored  # every good row, with its values, and nothing else
    assert outcome.rows_accepted == len(entry.stored)
    assert after["counts"]["rejected_row"] == before["counts"]["rejected_row"] + len(entry.rejected)
    assert after["counts"]["ingest_batch"] == before["counts"]["ingest_batch"] + 1
    if entry.kind != "sales":
        assert after["sales_sha256"] == before["sales_sha256"]


@pytest.mark.parametrize("entry", CONFIG, ids=lambda e: e.file)
def test_config_entry(entry: Entry) -> None:
    error, names = load_config(FILES / entry.file)
    if entry.error is not None:
        assert error is not None, f"loaded {names}, expected: {entry.error}"
        _assert_one_line(error, entry.error)
    else:
        assert error is None and {(n,) for n in names} == set(entry.stored)


@pytest.mark.parametrize("entry", ENV, ids=lambda e: e.id)
def test_env_entry(entry: Entry, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in entry.env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DemandError) as caught:
        schedules(load_settings(_env_file=None))  # the scheduler's cron check runs on the settings it reads
    _assert_one_line(str(caught.value), entry.error or "")
