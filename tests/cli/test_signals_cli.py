"""`demand signals add/list/pull/replay` through the real CLI on both engines."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from forecast.cli import app

STATES = "region,name,population\nCA,California,39512223\nTX,Texas,28995881\n"
CASES = "date,state,fips,cases,deaths\n2020-04-01,California,06,100,0\n2020-04-02,California,06,90,0\n" \
        "2020-04-01,Iowa,19,5,0\n"


def _invoke(cli: CliRunner, *args: str):
    return cli.invoke(app, list(args))


def test_add_list_pull_replay(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "states.csv").write_text(STATES)
    (tmp_path / "cases.csv").write_text(CASES)
    assert _invoke(cli, "ingest", "regions", "states.csv").exit_code == 0
    added = _invoke(cli, "signals", "add", "nyt", "--kind", "cases", "--location", "cases.csv", "--preset", "nyt",
                    "--map", "California=CA", "--lag-days", "1")
    assert added.exit_code == 0, added.output
    listed = json.loads(_invoke(cli, "signals", "list", "--json").stdout)
    assert listed[0]["name"] == "nyt" and listed[0]["region_map"] == {"California": "CA"}

    pulled = _invoke(cli, "signals", "pull")
    assert pulled.exit_code == 0, pulled.output
    assert "3 rows read, 3 versions stored" in pulled.stdout
    assert "unmapped regions (kept, region empty): Iowa" in pulled.stdout
    assert "1 downward corrections" in pulled.stdout and "California (CA) 2020-04-02: -10" in pulled.stdout
    again = json.loads(_invoke(cli, "signals", "pull", "nyt", "--json").stdout)
    assert again["reports"][0]["status"] == "unchanged"

    replayed = json.loads(_invoke(cli, "signals", "replay", "nyt", "--json").stdout)
    assert [r["versions_stored"] for r in replayed["reports"]] == [0]


def test_bad_config_and_unknown_source_exit_2(cli: CliRunner) -> None:
    result = _invoke(cli, "signals", "add", "x", "--kind", "weather", "--location", "a.csv")
    assert result.exit_code == 2 and "kind" in result.stderr and result.stderr.count("\n") == 1
    result = _invoke(cli, "signals", "add", "x", "--kind", "cases", "--location", "a.csv")
    assert result.exit_code == 2 and "needs --preset, one of nyt, kr_ds4c, daily" in result.stderr
    result = _invoke(cli, "signals", "add", "x", "--kind", "cases", "--location", "a.csv", "--preset", "nyt",
                     "--map", "California")
    assert result.exit_code == 2 and "is not SOURCE=REGION" in result.stderr
    assert _invoke(cli, "signals", "pull", "nope").exit_code == 2


def test_a_failing_source_does_not_stop_the_others(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "states.csv").write_text(STATES)
    (tmp_path / "cases.csv").write_text(CASES)
    _invoke(cli, "ingest", "regions", "states.csv")
    _invoke(cli, "signals", "add", "broken", "--kind", "cases", "--location", "missing.csv", "--preset", "nyt")
    _invoke(cli, "signals", "add", "good", "--kind", "cases", "--location", "cases.csv", "--preset", "nyt")
    result = _invoke(cli, "signals", "pull", "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert [r["source"] for r in body["reports"]] == ["good"]
    assert body["failed"][0].startswith("broken: ") and "missing.csv" in body["failed"][0]
