"""Connectors and payload parsing: files, snapshots and a real local HTTP server (no mocks, no network)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import socket
import time
from pathlib import Path

import httpx
import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from signals.errors import SignalError
from signals.sources import (
    FileSource,
    HttpSource,
    Payload,
    SignalSource,
    SnapshotSource,
    open_source,
    read_payload,
    sniff_format,
)

CSV = "region,day,new_cases\nR01,2023-01-01,4\nR02,2023-01-01,7\n"
UTC = dt.timezone.utc


def _payload(content: bytes | str, fmt: str | None = None) -> Payload:
    return SnapshotSource(content, location="test", format=fmt).fetch()


# --- sniffing and payloads ------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "expected"), [
    (b"a,b\n1,2\n", "csv"),
    (b"  \n [{\"a\": 1}]", "json"),
    (b"{\"rows\": []}", "json"),
    (b"\xef\xbb\xbf[{\"a\": 1}]", "json"),
    (b"PAR1....", "parquet"),
    (gzip.compress(b"a,b\n1,2\n"), "csv"),
    (gzip.compress(b"[]"), "json"),
])
def test_sniff_format_tells_the_format_from_the_content(content: bytes, expected: str) -> None:
    body, fmt = sniff_format(content)
    assert fmt == expected
    assert body[:2] != b"\x1f\x8b"


def test_corrupt_gzip_is_a_signal_error() -> None:
    with pytest.raises(SignalError, match=r"^cannot decompress broken\.gz: .*; re-download the file"):
        sniff_format(b"\x1f\x8b\x08\x00garbage", "broken.gz")


def test_payload_rejects_an_unknown_format() -> None:
    with pytest.raises(SignalError, match=r"^unknown payload format 'xml' for x; use one of csv, parquet, json$"):
        Payload(b"", "x", dt.datetime.now(UTC), "xml")


def test_payload_time_is_aware_utc() -> None:
    plus8 = dt.datetime(2024, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    naive = dt.datetime(2024, 1, 1)  # how SQLite gives a stored payload's time back: naive UTC
    for given in (plus8, naive):
        fetched_at = Payload(b"", "x", given, "csv").fetched_at
        assert fetched_at == dt.datetime(2024, 1, 1, tzinfo=UTC) and fetched_at.tzinfo is dt.timezone.utc


def test_snapshot_source_returns_the_same_payload_every_time() -> None:
    at = dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    source = SnapshotSource(CSV, location="snap", fetched_at=at)
    first, second = source.fetch(), source.fetch()
    assert isinstance(source, SignalSource)
    assert first == second
    assert (first.content, first.location, first.fetched_at, first.format) == (CSV.encode(), "snap", at, "csv")
    assert SnapshotSource(gzip.compress(b"[]")).fetch().format == "json"
    assert SnapshotSource("a\n1\n", format="json").fetch().format == "json"  # an explicit format wins
    assert SnapshotSource(b"a\n").fetch().fetched_at.tzinfo is not None


def test_snapshot_source_rejects_bad_options() -> None:
    with pytest.raises(SignalError, match=r"unknown format 'xls' for snapshot; use one of csv, parquet, json or None"):
        SnapshotSource("a", format="xls")
    assert SnapshotSource("a", fetched_at=dt.datetime(2024, 1, 1)).fetch().fetched_at == dt.datetime(2024, 1, 1, tzinfo=UTC)


# --- files ----------------------------------------------------------------------------------------

def _write_all_formats(tmp_path: Path) -> dict[str, Path]:
    frame = pl.DataFrame({"region": ["R01", "R02"], "day": ["2023-01-01"] * 2, "new_cases": [4, 7]})
    paths = {name: tmp_path / name for name in ("c.csv", "c.csv.gz", "c.parquet", "c.json")}
    paths["c.csv"].write_text(CSV)
    paths["c.csv.gz"].write_bytes(gzip.compress(CSV.encode()))
    frame.write_parquet(paths["c.parquet"])
    paths["c.json"].write_text(json.dumps(frame.to_dicts()))
    return paths


def test_file_source_reads_every_format_to_the_same_frame(tmp_path: Path) -> None:
    paths = _write_all_formats(tmp_path)
    frames = {}
    for name, path in paths.items():
        payload = FileSource(path).fetch()
        assert payload.location == str(path)
        assert payload.fetched_at.tzinfo is not None
        frames[payload.format] = read_payload(payload)
    assert sorted(frames) == ["csv", "json", "parquet"]
    expected = pl.DataFrame({"line": [2, 3], "region": ["R01", "R02"], "day": ["2023-01-01"] * 2, "new_cases": ["4", "7"]})
    for frame in frames.values():
        assert frame.equals(expected)
        assert frame.schema["line"] == pl.Int64


def test_file_source_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SignalError, match=r"cannot read .*nope\.csv: no such file; check the path"):
        FileSource(tmp_path / "nope.csv").fetch()


def test_file_source_names_an_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(SignalError, match=r"cannot read .*: .*; check the path and its permissions"):
        FileSource(tmp_path).fetch()  # a directory


def test_open_source_picks_the_connector(tmp_path: Path) -> None:
    http = open_source("https://example.org/cases.csv", timeout=2.0, retries=1)
    assert isinstance(http, HttpSource) and (http.timeout, http.retries) == (2.0, 1)
    assert isinstance(open_source("HTTP://example.org/x"), HttpSource)
    local = open_source(str(tmp_path / "cases.csv"), timeout=2.0)  # HTTP options are ignored for files
    assert isinstance(local, FileSource) and local.path == tmp_path / "cases.csv"


# --- read_payload ---------------------------------------------------------------------------------

def test_csv_keeps_every_value_as_text_and_counts_lines_from_the_header() -> None:
    frame = read_payload(_payload("\ufeffid,code,amount\n1,007,1e3\n\n2,,\n,,\n3,x,-4\n"))
    assert frame.columns == ["line", "id", "code", "amount"]
    assert frame["line"].to_list() == [2, 4, 6]  # the blank line 3 and the empty row 5 are dropped
    assert frame["code"].to_list() == ["007", None, "x"]
    assert all(dtype == pl.String for name, dtype in frame.schema.items() if name != "line")


def test_csv_header_only_gives_an_empty_frame() -> None:
    frame = read_payload(_payload("a,b\n"))
    assert frame.columns == ["line", "a", "b"] and frame.height == 0


def test_csv_in_another_encoding() -> None:
    frame = read_payload(_payload("region\nJeollabuk-dö\n".encode("latin-1")), encoding="latin-1")
    assert frame["region"].to_list() == ["Jeollabuk-dö"]


@pytest.mark.parametrize(("content", "kwargs", "message"), [
    (b"region\nJeju\xe9\n", {}, r"^cannot decode test as utf-8: .*; pass the file's encoding \(e\.g\. encoding='latin-1'\)$"),
    (b"a\n", {"encoding": "no-such-codec"}, r"^cannot decode test as no-such-codec: .*; pass the file's encoding"),
    (b"  \n", {}, r"^test is empty; expected a CSV header line and data rows$"),
    (b"a,b\n1,2,3\n", {}, r"^cannot parse test as CSV: .*; check the delimiter and that every row has as many fields"),
    (b"a,b,a\n1,2,3\n", {}, r"^test repeats column\(s\) 'a' in its header; give every column a unique name$"),
    (b"line,a\n1,2\n", {}, r"^test has a column named 'line', which the reader reserves for row numbers; rename it$"),
])
def test_bad_csv_is_a_one_line_signal_error(content: bytes, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(SignalError, match=message) as info:
        read_payload(_payload(content, "csv"), **kwargs)
    assert "\n" not in str(info.value)


def test_parquet_columns_become_text() -> None:
    frame = pl.DataFrame({
        "n": [1, None], "x": [1.5, 2.0], "ok": [True, False], "day": [dt.date(2024, 1, 2)] * 2,
        "skus": [["A", "B"], []], "meta": [{"k": 1}, {"k": 2}],
    }).with_columns(pair=pl.Series([[1, 2], [3, 4]], dtype=pl.Array(pl.Int64, 2)))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    out = read_payload(_payload(buffer.getvalue()))
    assert out.to_dicts() == [
        {"line": 2, "n": "1", "x": "1.5", "ok": "true", "day": "2024-01-02", "skus": "A;B", "meta": '{"k":1}', "pair": "1;2"},
        {"line": 3, "n": None, "x": "2.0", "ok": "false", "day": "2024-01-02", "skus": "", "meta": '{"k":2}', "pair": "3;4"},
    ]


def test_corrupt_parquet_is_a_signal_error() -> None:
    with pytest.raises(SignalError, match=r"^cannot parse test as Parquet: .*; re-export the file$"):
        read_payload(_payload(b"PAR1 not really parquet"))


@pytest.mark.parametrize("wrapper", ["events", "data", "rows", None])
def test_json_rows_in_a_list_or_under_a_known_key(wrapper: str | None) -> None:
    rows = [
        {"event_id": "e1", "skus": ["A", "B"], "viewers": 1000, "discount": 0.2, "live": True, "meta": {"k": 1}},
        {"event_id": "e2", "skus": [], "viewers": None, "extra": "late key", "nested": [[1, 2], None, 3]},
    ]
    document = rows if wrapper is None else {wrapper: rows, "generated": "2024-01-01"}
    frame = read_payload(_payload(json.dumps(document)))
    assert frame.columns == ["line", "event_id", "skus", "viewers", "discount", "live", "meta", "extra", "nested"]
    assert frame.to_dicts() == [
        {"line": 2, "event_id": "e1", "skus": "A;B", "viewers": "1000", "discount": "0.2", "live": "true",
         "meta": '{"k": 1}', "extra": None, "nested": None},
        {"line": 3, "event_id": "e2", "skus": "", "viewers": None, "discount": None, "live": None,
         "meta": None, "extra": "late key", "nested": "[1, 2];;3"},
    ]


def test_json_lines_are_read_too() -> None:
    frame = read_payload(_payload('{"a": 1}\n\n{"a": 2, "b": "x"}\n'))
    assert frame.to_dicts() == [{"line": 2, "a": "1", "b": None}, {"line": 3, "a": "2", "b": "x"}]


def test_empty_json_list_gives_no_rows() -> None:
    frame = read_payload(_payload("[]"))
    assert frame.columns == ["line"] and frame.height == 0


@pytest.mark.parametrize(("content", "message"), [
    ('[{"a": 1}', r"^cannot parse test as JSON: .* at line 1 column \d+; fix the file$"),
    ('{"a": 1}\n{"a": ', r"^cannot parse test as JSON or JSON Lines: .* at line 2; fix the file$"),
    ('{"meta": {}, "events": 3}', r"^test is a JSON object without a list under 'events', 'data' or 'rows'; give a list"),
    ('[{"a": 1}, 2, [3]]', r"^test has 2 JSON item\(s\) that are not objects \(lines 3, 4\); make every item an object$"),
    ('"just text"', r"^test holds a JSON str; expected a list of objects$"),
])
def test_bad_json_is_a_one_line_signal_error(content: str, message: str) -> None:
    with pytest.raises(SignalError, match=message) as info:
        read_payload(_payload(content, "json"))
    assert "\n" not in str(info.value)


# --- HTTP against a real local server -------------------------------------------------------------

class _Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_success(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv").respond_with_data(CSV, content_type="text/csv")
    url = httpserver.url_for("/cases.csv")
    payload = HttpSource(url, timeout=2.0).fetch()
    assert (payload.content, payload.location, payload.format) == (CSV.encode(), url, "csv")
    assert dt.datetime.now(UTC) - payload.fetched_at < dt.timedelta(seconds=10)
    assert read_payload(payload)["new_cases"].to_list() == ["4", "7"]


def test_http_gzipped_file_and_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv.gz").respond_with_data(gzip.compress(CSV.encode()), content_type="application/gzip")
    httpserver.expect_request("/events").respond_with_json({"events": [{"event_id": "e1", "skus": ["A"]}]})
    assert HttpSource(httpserver.url_for("/cases.csv.gz")).fetch().content == CSV.encode()
    events = HttpSource(httpserver.url_for("/events")).fetch()
    assert events.format == "json" and read_payload(events)["skus"].to_list() == ["A"]


def test_http_retries_a_5xx_with_backoff(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/cases.csv").respond_with_data("busy", status=500)
    httpserver.expect_ordered_request("/cases.csv").respond_with_data(CSV)
    sleeps = _Sleeps()
    payload = HttpSource(httpserver.url_for("/cases.csv"), backoff=0.25, sleep=sleeps).fetch()
    assert payload.content == CSV.encode()
    assert sleeps == [0.25]
    assert len(httpserver.log) == 2
    httpserver.check_assertions()


def test_http_gives_up_after_all_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv").respond_with_data("down", status=503)
    sleeps = _Sleeps()
    url = httpserver.url_for("/cases.csv")
    with pytest.raises(SignalError, match=rf"^cannot fetch {url}: HTTP 503 [\w ]+ after 4 attempts; check the URL or the network$"):
        HttpSource(url, retries=3, backoff=0.5, sleep=sleeps).fetch()
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(httpserver.log) == 4


def test_http_4xx_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing.csv").respond_with_data("no", status=404)
    sleeps = _Sleeps()
    url = httpserver.url_for("/missing.csv")
    with pytest.raises(SignalError, match=rf"^cannot fetch {url}: HTTP 404 [\w ]+ after 1 attempt; check the URL or the network$"):
        HttpSource(url, sleep=sleeps).fetch()
    assert sleeps == [] and len(httpserver.log) == 1


def test_http_connection_refused_is_one_line() -> None:
    url = f"http://127.0.0.1:{_unused_port()}/cases.csv"
    sleeps = _Sleeps()
    with pytest.raises(SignalError, match=rf"^cannot fetch {url}: ConnectError \(.*\) after 3 attempts; check the URL or the network$") as info:
        HttpSource(url, timeout=1.0, retries=2, backoff=0.1, sleep=sleeps).fetch()
    assert "\n" not in str(info.value)
    assert sleeps == [0.1, 0.2]


def test_http_timeout_is_retried_then_reported(threaded_server: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response(CSV)

    threaded_server.expect_request("/slow.csv").respond_with_handler(slow)
    url = threaded_server.url_for("/slow.csv")
    sleeps = _Sleeps()
    started = time.monotonic()
    with pytest.raises(SignalError, match=rf"^cannot fetch {url}: timed out after 0.2s after 2 attempts; check the URL or the network$"):
        HttpSource(url, timeout=0.2, retries=1, backoff=0.05, sleep=sleeps).fetch()
    assert time.monotonic() - started < 2.0
    assert sleeps == [0.05]


def test_http_uses_an_injected_client_and_leaves_it_open(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cases.csv").respond_with_data(CSV)
    with httpx.Client() as client:
        source = HttpSource(httpserver.url_for("/cases.csv"), client=client)
        assert source.fetch().content == source.fetch().content == CSV.encode()
        assert not client.is_closed


def test_http_bad_url_and_options() -> None:
    with pytest.raises(SignalError, match=r"^cannot fetch ftp://example\.org/x: UnsupportedProtocol \(.*\) after 1 attempt; "):
        HttpSource("ftp://example.org/x", sleep=_Sleeps()).fetch()
    with pytest.raises(SignalError, match=r"invalid HTTP options for u \(timeout=0, retries=-1, backoff=0.5\); use timeout > 0"):
        HttpSource("u", timeout=0, retries=-1)
