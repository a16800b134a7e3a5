"""The `demand` command: exit codes, one-line errors, --json, --help everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from forecast.cli import app
from tests.ingest.test_sales_ingest import GOOD, snapshot
from forecast.storage.engine import make_engine

BAD_INPUTS = {
    # name: (content, exit code, stderr or stdout fragment, rows rejected when loaded)
    "missing_key_column": (b"sku,region,units\nA,R1,3\n", 2,
                           "missing column(s): day; the file has ['sku', 'region', 'units']", None),
    "empty_file": (b"", 2, "file is empty", None),
    "wrong_encoding": ("sku,region,day,units\nCaf\xe9,R1,2024-01-01,3\n".encode("latin-1"), 2,
                       "not valid utf-8", None),
    "unparseable_dates": (b"sku,region,day,units\nA,R1,2024-01-01,3\nA,R1,2024-02-31,3\n", 0, "1 rejected", 1),
    "negative_units": (b"sku,region,day,units\nA,R1,2024-01-01,3\nA,R1,2024-01-02,-3\n", 0, "1 rejected", 1),
    "non_numeric_units": (b"sku,region,day,units\nA,R1,2024-01-01,3\nA,R1,2024-01-02,three\n", 0, "1 rejected", 1),
    "duplicate_keys": (b"sku,region,day,units\nA,R1,2024-01-01,3\nA,R1,2024-01-01,4\nB,R1,2024-01-01,1\n", 0,
                       "2 rejected", 2),
}


def invoke(cli: CliRunner, *args: str):
    return cli.invoke(app, list(args))


def test_every_command_has_help() -> None:
    root = get_command(app)

    def walk(command: click.Command, path: list[str]):
        yield path
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    runner = CliRunner()
    for path in walk(root, []):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_its_reason_and_exit_code(cli: CliRunner, db_url: str, tmp_path: Path, case: str) -> None:
    content, code, fragment, rejected = BAD_INPUTS[case]
    engine = make_engine(db_url)
    before = snapshot(engine)
    (tmp_path / "bad.csv").write_bytes(content)
    result = invoke(cli, "ingest", "sales", "bad.csv")
    assert result.exit_code == code, result.output
    if code:
        assert result.stderr.startswith("error: bad.csv: ")
        assert fragment in result.stderr and result.stderr.count("\n") == 1
        assert snapshot(engine) == before
    else:
        assert fragment in result.stdout and "demand ingest rejected 1" in result.stdout
        listed = json.loads(invoke(cli, "ingest", "rejected", "1", "--json").stdout)
        assert len(listed) == rejected and all(r["reason"] for r in listed)
    engine.dispose()


def test_ingest_json_twice_reports_already_ingested(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    first = json.loads(invoke(cli, "ingest", "sales", "s.csv", "--json").stdout)
    assert first["rows_inserted"] == 12 and not first["already_ingested"]
    second = invoke(cli, "ingest", "sales", "s.csv")
    assert second.exit_code == 0 and "already ingested as batch 1" in second.stdout
    summary = json.loads(invoke(cli, "summary", "--json").stdout)
    assert (summary["sales_rows"], summary["series"], summary["batches"]) == (12, 4, 1)
    batches = json.loads(invoke(cli, "ingest", "batches", "--json").stdout)
    assert [b["status"] for b in batches] == ["succeeded"]


def test_unknown_preset_and_bad_mapping_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(GOOD)
    result = invoke(cli, "ingest", "sales", "s.csv", "--preset", "m6")
    assert result.exit_code == 2 and "unknown preset 'm6'; choose one of: m5" in result.stderr
    result = invoke(cli, "ingest", "sales", "s.csv", "--mapping", "sku")
    assert result.exit_code == 2 and "is not CANONICAL=COLUMN" in result.stderr
    result = invoke(cli, "ingest", "rejected", "42")
    assert result.exit_code == 2 and "no batch 42" in result.stderr


def test_master_data_commands(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "regions.csv").write_text("region,name,parent,population\nN,North,,100\nR1,Town,N,60\n")
    assert json.loads(invoke(cli, "ingest", "regions", "regions.csv", "--json").stdout) == {"regions_created": 2}
    (tmp_path / "skus.csv").write_text("sku,name,category,colour\nA,Apple,food,red\nA,Again,food,\n")
    result = invoke(cli, "ingest", "skus", "skus.csv")
    assert result.exit_code == 2 and "sku appears more than once on line(s) 2, 3" in result.stderr
    (tmp_path / "regions.csv").write_text("region,population\nR1,-5\n")
    result = invoke(cli, "ingest", "regions", "regions.csv")
    assert result.exit_code == 2 and "population is not a non-negative integer on line(s) 2" in result.stderr
    (tmp_path / "skus.csv").write_bytes(b"sku,name\nA,Apple\nB\x1fC,Bad\n")
    result = invoke(cli, "ingest", "skus", "skus.csv")
    assert result.exit_code == 2 and "sku contains a control character (tab, line break, NUL, ...) on line(s) 3" in result.stderr


def test_unmigrated_database_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from forecast.settings import get_settings

    monkeypatch.setenv("DEMAND_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["summary"])
        assert result.exit_code == 3
        assert "is at migration none, code expects" in result.stderr and "demand db upgrade" in result.stderr
        assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
        current = json.loads(CliRunner().invoke(app, ["db", "current", "--json"]).stdout)
        assert current["up_to_date"] is True
        assert CliRunner().invoke(app, ["db", "downgrade", "base"]).exit_code == 0
        assert json.loads(CliRunner().invoke(app, ["db", "current", "--json"]).stdout)["current"] is None
    finally:
        get_settings.cache_clear()
