"""`demand signals` never prints a location's secrets; `${VAR}` credentials; the size cap (issue 25 items 1, 7c)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from forecast.cli import app

PASSWORD = "Pw-Secret-4417"
TOKEN = "Tok-8c1f0e77"
URL = f"http://user:{PASSWORD}@127.0.0.1:9/cases.csv?token={TOKEN}"
MASKED = "http://user:***@127.0.0.1:9/cases.csv?token=***"
CSV = "region,day,new_cases\nR01,2023-01-01,4\n"


def _invoke(cli: CliRunner, *args: str):
    return cli.invoke(app, list(args))


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and TOKEN not in text, text


def _add(cli: CliRunner, name: str, location: str, *extra: str):
    return _invoke(cli, "signals", "add", name, "--kind", "cases", "--location", location, "--preset", "daily",
                   "--retries", "0", "--timeout", "2", *extra)


def test_pull_list_and_add_never_print_the_secrets_of_a_url(cli: CliRunner) -> None:
    added = _add(cli, "cases", URL)
    assert added.exit_code == 0, added.output
    assert added.stderr == ("warning: source 'cases' has a password and a token written in its location (stored in "
                            "signals.toml as given); write them as ${VAR} and set VAR in the environment instead\n")
    pulled = _invoke(cli, "signals", "pull")
    assert pulled.exit_code == 2
    assert pulled.stderr.startswith(f"error: cases: cannot fetch {MASKED}: ConnectError (")
    assert pulled.stderr.count("\n") == 1
    as_json = _invoke(cli, "signals", "pull", "--json")
    assert json.loads(as_json.stdout)["failed"][0].startswith(f"cases: cannot fetch {MASKED}: ")
    listed = _invoke(cli, "signals", "list", "--json")
    assert json.loads(listed.stdout)[0]["location"] == MASKED
    table = _invoke(cli, "signals", "list")
    assert "user:***@" in table.stdout
    _no_secret(added.output, pulled.output, as_json.output, listed.output, table.output)


def test_pull_reads_a_credential_from_the_environment_or_dotenv(cli: CliRunner, httpserver: HTTPServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/cases.csv", query_string={"token": TOKEN}).respond_with_data(CSV)
    location = httpserver.url_for("/cases.csv").replace("://", "://user:${CASES_PASSWORD}@") + "?token=${CASES_TOKEN}"
    added = _add(cli, "cases", location)
    assert added.exit_code == 0 and added.stderr == ""
    monkeypatch.delenv("CASES_PASSWORD", raising=False)
    monkeypatch.delenv("CASES_TOKEN", raising=False)
    missing = _invoke(cli, "signals", "pull")
    assert missing.exit_code == 2
    assert missing.stderr == ("error: cases: environment variable CASES_PASSWORD is not set (the location reads "
                              "${CASES_PASSWORD}); set it where the service runs, or in its .env\n")
    Path(".env").write_text(f"CASES_TOKEN={TOKEN}\n")  # read like the DEMAND_ settings; the environment wins
    monkeypatch.setenv("CASES_PASSWORD", PASSWORD)
    pulled = _invoke(cli, "signals", "pull")
    assert pulled.exit_code == 0, pulled.output
    assert httpserver.log[0][0].authorization.password == PASSWORD
    listed = _invoke(cli, "signals", "list", "--json")
    assert json.loads(listed.stdout)[0]["location"] == location
    _no_secret(pulled.output, listed.output, Path("signals.toml").read_text())


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_pull_of_dev_zero_stops_at_the_size_cap(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMAND_SIGNAL_MAX_BYTES", "1MiB")
    assert _add(cli, "zero", "/dev/zero").exit_code == 0
    pulled = _invoke(cli, "signals", "pull")
    assert pulled.exit_code == 2
    assert pulled.stderr == ("error: zero: /dev/zero is larger than the 1MiB size cap; if the source really is that "
                             "big, raise DEMAND_SIGNAL_MAX_BYTES (e.g. DEMAND_SIGNAL_MAX_BYTES=2MiB)\n")
