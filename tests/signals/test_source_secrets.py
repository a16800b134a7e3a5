"""Secrets in a source's location never reach a message, a log line or a payload; `${VAR}` credentials.

Issue 25 item 1: a location such as `http://user:Secret@127.0.0.1:9/cases.csv?token=Tok` showed the
password and the token wherever it was printed. Real local HTTP servers, no mocks, no network.
"""

from __future__ import annotations

import logging
import socket

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from signals.errors import SignalError
from signals.sources import HttpSource, open_source

PASSWORD = "Pw-Secret-4417"
TOKEN = "Tok-8c1f0e77"
CSV = "region,day,new_cases\nR01,2023-01-01,4\n"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_secret(text: str) -> None:
    assert PASSWORD not in text and TOKEN not in text, text


def test_an_unreachable_url_with_secrets_fails_and_logs_without_them(caplog: pytest.LogCaptureFixture) -> None:
    port = _unused_port()
    url = f"http://user:{PASSWORD}@127.0.0.1:{port}/cases.csv?region=CA&token={TOKEN}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SignalError, match=rf"^cannot fetch http://user:\*\*\*@127\.0\.0\.1:{port}/cases\.csv"
                                          r"\?region=CA&token=\*\*\*: ConnectError \(.*\) after 2 attempts; ") as info:
        HttpSource(url, timeout=1.0, retries=1, backoff=0, sleep=lambda _: None).fetch()
    _no_secret(str(info.value))
    assert any(r.levelno == logging.WARNING and "retry 1 of 1" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        _no_secret(record.getMessage())


def test_a_fetched_payload_keeps_the_masked_location_and_the_server_got_the_secrets(
        httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request("/cases.csv", query_string={"token": TOKEN}).respond_with_data(CSV)
    url = httpserver.url_for("/cases.csv").replace("://", f"://user:{PASSWORD}@") + f"?token={TOKEN}"
    caplog.set_level(logging.DEBUG)  # httpx logs every request's URL at INFO
    payload = HttpSource(url, timeout=2.0).fetch()
    assert payload.content == CSV.encode()
    assert payload.location == httpserver.url_for("/cases.csv").replace("://", "://user:***@") + "?token=***"
    assert httpserver.log[0][0].authorization.password == PASSWORD
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # the test server's access log is not ours
    assert any(r.name == "httpx" and "HTTP Request: GET" in r.getMessage() for r in ours)
    for record in ours:
        _no_secret(record.getMessage())


def test_an_error_answer_names_the_masked_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv").respond_with_data("no", status=403)
    url = httpserver.url_for("/cases.csv") + f"?api_key={TOKEN}&sig={PASSWORD}"
    with pytest.raises(SignalError, match=r"/cases\.csv\?api_key=\*\*\*&sig=\*\*\*: HTTP 403 \w+ after 1 attempt"):
        HttpSource(url).fetch()


def test_credentials_come_from_the_environment_at_fetch_time(httpserver: HTTPServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(CSV)

    httpserver.expect_request("/cases.csv").respond_with_handler(handler)
    location = (httpserver.url_for("/cases.csv").replace("://", "://api:${CASES_PASSWORD}@")
                + "?token=${CASES_TOKEN}&region=CA")
    source = open_source(location, timeout=2.0)
    monkeypatch.setenv("CASES_PASSWORD", "p@ss:w/rd#1")  # characters that must be escaped in a URL
    monkeypatch.setenv("CASES_TOKEN", "t&k=1 2")
    payload = source.fetch()
    assert seen[0].authorization.password == "p@ss:w/rd#1"
    assert seen[0].args.to_dict() == {"token": "t&k=1 2", "region": "CA"}
    assert payload.location == location  # the placeholders, never their values
    assert "CASES_TOKEN" in repr(source) and "t&k" not in repr(source)


def test_a_whole_url_may_come_from_the_environment(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/cases.csv", query_string={"token": TOKEN}).respond_with_data(CSV)
    monkeypatch.setenv("CASES_URL", httpserver.url_for("/cases.csv") + f"?token={TOKEN}")
    assert open_source("${CASES_URL}").fetch().location == "${CASES_URL}"
    monkeypatch.setenv("CASES_URL", f"http://user:{PASSWORD}@127.0.0.1:{_unused_port()}/x.csv?token={TOKEN}")
    with pytest.raises(SignalError, match=r"^cannot fetch \$\{CASES_URL\}: ConnectError \(.*\) after 1 attempt; ") as info:
        open_source("${CASES_URL}", retries=0).fetch()
    _no_secret(str(info.value))


def test_a_missing_environment_variable_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASES_TOKEN", raising=False)
    source = open_source("http://127.0.0.1:9/cases.csv?token=${CASES_TOKEN}", retries=0)
    with pytest.raises(SignalError, match=r"^environment variable CASES_TOKEN is not set \(the location reads "
                                          r"\$\{CASES_TOKEN\}\); set it where the service runs, or in its \.env$"):
        source.fetch()


def test_a_file_path_may_read_a_folder_from_the_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cases.csv").write_text(CSV)
    monkeypatch.setenv("SIGNAL_DIR", str(tmp_path))
    assert open_source("${SIGNAL_DIR}/cases.csv").fetch().content == CSV.encode()
