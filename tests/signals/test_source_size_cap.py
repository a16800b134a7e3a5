"""A huge or endless location stops at the size cap instead of filling memory (issue 25 item 7c)."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from signals.errors import PayloadTooLargeError
from signals.sources import FileSource, HttpSource, open_source, sniff_format

CAP = 1 << 20  # 1 MiB


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_as_a_file_stops_at_the_cap() -> None:
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError, match=r"^/dev/zero is larger than the 1MiB size cap; ") as info:
        FileSource(Path("/dev/zero"), max_bytes=CAP).fetch()
    assert info.value.limit == CAP and time.monotonic() - started < 5


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(3 << 30)  # a sparse 3 GiB file: reading it would take 3 GiB
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError, match=r"huge\.csv is larger than the 1MiB size cap"):
        open_source(str(huge), max_bytes=CAP).fetch()
    assert time.monotonic() - started < 1


def test_a_file_at_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * (CAP // 4 - 1))
    assert len(FileSource(path, max_bytes=CAP).fetch().content) == CAP


def test_an_endless_http_body_stops_at_the_cap(threaded_server: HTTPServer) -> None:
    def endless(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"region,day,new_cases\n"
            while True:
                yield b"R01,2023-01-01,4\n" * 4096

        return Response(body(), mimetype="text/csv")

    threaded_server.expect_request("/cases.csv").respond_with_handler(endless)
    url = threaded_server.url_for("/cases.csv") + "?token=Tok-endless"
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError, match=r"^http://.*/cases\.csv\?token=\*\*\* is larger than the 1MiB "
                                                   r"size cap; "):
        HttpSource(url, timeout=2.0, retries=2, max_bytes=CAP, sleep=lambda _: None).fetch()
    assert time.monotonic() - started < 5
    assert len(threaded_server.log) == 1  # too large is final, not retried


def test_a_declared_length_over_the_cap_is_refused_before_the_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big.csv").respond_with_data(b"x" * (CAP + 1))
    with pytest.raises(PayloadTooLargeError, match=r"big\.csv is larger than the 1MiB size cap"):
        HttpSource(httpserver.url_for("/big.csv"), max_bytes=CAP).fetch()


def test_a_gzip_bomb_stops_at_the_cap_when_unpacked() -> None:
    bomb = gzip.compress(b"\0" * (8 * CAP))
    assert len(bomb) < CAP // 10
    with pytest.raises(PayloadTooLargeError, match=r"^bomb\.csv\.gz is larger than the 1MiB size cap once "
                                                   r"decompressed; "):
        sniff_format(bomb, "bomb.csv.gz", max_bytes=CAP)
    assert sniff_format(gzip.compress(b"a,b\n1,2\n"), "ok.gz", max_bytes=CAP)[0] == b"a,b\n1,2\n"


def test_an_http_gzip_content_encoding_is_capped_after_decoding(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"a\n" + b"0\n" * (4 * CAP))
    httpserver.expect_request("/cases.csv").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(PayloadTooLargeError, match=r"cases\.csv is larger than the 1MiB size cap"):
        HttpSource(httpserver.url_for("/cases.csv"), max_bytes=CAP).fetch()
