"""Signal connectors: one `SignalSource` protocol, a file, an HTTP and a snapshot implementation.

A source's `fetch()` returns the raw bytes as a `Payload` (kept before parsing, so the service can
store it); `read_payload` turns a payload into a frame of strings plus the input `line` of each row,
which the pure transforms (`signals.cases`, ...) validate and normalise.

A location may hold credentials: its secrets never leave a source (messages, log lines and the
payload's `location` show `signals.locations.mask_location`'s form), and `${NAME}` placeholders are
read from the environment only inside `fetch()`. With `max_bytes` a source stops reading once the
content (after gzip) is larger, raising `PayloadTooLargeError`; over HTTP the body is streamed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import os
import re
import stat
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

import httpx
import polars as pl

from signals.errors import PayloadTooLargeError, SignalError
from signals.locations import expand_location, mask_location, mask_text, url_secrets

__all__ = [
    "FORMATS",
    "Payload",
    "SignalSource",
    "FileSource",
    "HttpSource",
    "SnapshotSource",
    "read_payload",
    "open_source",
    "sniff_format",
]

logger = logging.getLogger(__name__)


class _MaskUrls(logging.Filter):
    """Masks the URLs in a record (httpx logs each request's full URL at INFO, secrets and all)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _MaskUrls) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_MaskUrls())

FORMATS = ("csv", "parquet", "json")
JSON_ROW_KEYS = ("events", "data", "rows")
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as UTC (how storage returns times, e.g. from SQLite)."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.utcoffset() is None else moment.astimezone(dt.timezone.utc)


def _one_line(text: object) -> str:
    """The first non-empty line of a message, so every error we raise stays on one line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(text).__name__


@dataclass(frozen=True)
class Payload:
    """Raw content of one fetch, gzip already removed.

    Attributes:
        content: The bytes as fetched (decompressed when they were gzipped).
        location: Where they came from (a path, or a URL as `mask_location` shows it), used in every message
            about them.
        fetched_at: When they were fetched; stored as aware UTC (a naive value is taken as UTC, an aware one converted).
        format: "csv", "parquet" or "json".
    """

    content: bytes
    location: str
    fetched_at: dt.datetime
    format: str

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SignalError(f"unknown payload format {self.format!r} for {self.location}; use one of {', '.join(FORMATS)}")
        object.__setattr__(self, "fetched_at", _as_utc(self.fetched_at))


@runtime_checkable
class SignalSource(Protocol):
    """Anything that can fetch one payload of a signal."""

    def fetch(self) -> Payload:
        """Fetch the current content."""
        ...


def sniff_format(content: bytes, location: str = "payload", *, max_bytes: int | None = None) -> tuple[bytes, str]:
    """Remove gzip and tell the format from the content itself.

    Args:
        content: Raw bytes, possibly gzipped.
        location: Path or URL as it may be shown, for messages.
        max_bytes: Stop decompressing past this many bytes (None: no cap).

    Returns:
        The decompressed bytes and "parquet" (PAR1 magic), "json" (first non-space char `[` or `{`) or "csv".

    Raises:
        SignalError: The gzip stream is corrupt.
        PayloadTooLargeError: It decompresses to more than `max_bytes`.
    """
    if content[:2] == _GZIP_MAGIC:
        try:
            content = _gunzip(content, location, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise SignalError(f"cannot decompress {location}: {_one_line(exc)}; "
                              "re-download the file or send it uncompressed") from exc
    if content[:4] == _PARQUET_MAGIC:
        return content, "parquet"
    head = content[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    return content, ("json" if head[:1] in (b"[", b"{") else "csv")


def _gunzip(content: bytes, location: str, max_bytes: int | None) -> bytes:
    """`gzip.decompress` (every member, zero padding between) that stops past `max_bytes` of output."""
    out, data = bytearray(), content
    while data:
        if data[:2] != _GZIP_MAGIC:
            raise OSError("trailing garbage after the gzip stream")
        stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out += stream.decompress(data, 0 if max_bytes is None else max_bytes - len(out) + 1)
        if max_bytes is not None and len(out) > max_bytes:
            raise PayloadTooLargeError(location, max_bytes, decompressed=True)
        if not stream.eof:
            raise EOFError("the gzip stream ended before its end-of-stream marker")
        data = stream.unused_data.lstrip(b"\x00")
    return bytes(out)


def _read_capped(handle: io.BufferedReader, location: str, max_bytes: int | None) -> bytes:
    """All of an open file, or `PayloadTooLargeError` once it is longer than `max_bytes` (a regular file's
    size is checked before reading; a device or pipe such as /dev/zero is read only up to the cap)."""
    if max_bytes is None:
        return handle.read()
    info = os.fstat(handle.fileno())
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise PayloadTooLargeError(location, max_bytes)
    raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(location, max_bytes)
    return raw


class FileSource:
    """A local CSV, CSV.gz, Parquet or JSON file."""

    def __init__(self, path: Path | str, *, max_bytes: int | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        """Args:
            path: The file to read on each fetch; `${NAME}` in it is read from `environ` at fetch time.
            max_bytes: Refuse content (after gzip) larger than this (None: no cap).
            environ: Where `${NAME}` placeholders are read (the process environment when None).
        """
        self.path, self.max_bytes, self.environ = Path(path), max_bytes, environ

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r})"

    def fetch(self) -> Payload:
        """Read the file.

        Raises:
            SignalError: The file is missing or unreadable, or a `${NAME}` in its path is not set.
            PayloadTooLargeError: It is larger than `max_bytes`.
        """
        path = Path(expand_location(str(self.path), self.environ))
        try:
            with path.open("rb") as handle:
                raw = _read_capped(handle, str(path), self.max_bytes)
        except FileNotFoundError as exc:
            raise SignalError(f"cannot read {path}: no such file; check the path") from exc
        except OSError as exc:
            reason = exc.strerror or _one_line(exc)
            raise SignalError(f"cannot read {path}: {reason}; check the path and its permissions") from exc
        content, fmt = sniff_format(raw, str(path), max_bytes=self.max_bytes)
        logger.debug("read %s (%d bytes, %s)", path, len(content), fmt)
        return Payload(content, str(path), _utc_now(), fmt)


class HttpSource:
    """An HTTP(S) URL fetched with GET, a timeout and retries with exponential backoff.

    Connection errors, timeouts and 5xx answers are retried `retries` times (so at most `retries + 1`
    attempts), sleeping `backoff * 2**attempt` seconds after failed attempt number `attempt` (0-based).
    A 4xx answer is final at once, and so is a body larger than `max_bytes` (read no further).

    The URL may hold credentials, written in it or as `${NAME}` placeholders read from the environment
    at fetch time; every message, log line and payload shows it as `mask_location` does.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_bytes: int | None = None, environ: Mapping[str, str] | None = None) -> None:
        """Args:
            url: The http:// or https:// URL, possibly with `${NAME}` placeholders.
            timeout: Seconds for connect, read, write and pool each.
            retries: How many times to retry after the first attempt (>= 0).
            backoff: Base of the backoff in seconds.
            client: An httpx client to use (not closed here); a fresh one per fetch when None.
            sleep: Called with the backoff seconds between attempts (injectable for tests).
            max_bytes: Refuse a body (after any gzip) larger than this, reading no further (None: no cap).
            environ: Where `${NAME}` placeholders are read (the process environment when None).
        """
        self.url, self.shown = url, mask_location(url)
        if retries < 0 or timeout <= 0 or backoff < 0:
            raise SignalError(f"invalid HTTP options for {self.shown} (timeout={timeout}, retries={retries}, "
                              f"backoff={backoff}); use timeout > 0, retries >= 0, backoff >= 0")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.client, self.sleep, self.max_bytes, self.environ = client, sleep, max_bytes, environ

    def __repr__(self) -> str:
        return f"HttpSource({self.shown!r}, timeout={self.timeout}, retries={self.retries})"

    def fetch(self) -> Payload:
        """GET the URL.

        Raises:
            SignalError: Every attempt failed, the server answered 4xx, or a `${NAME}` is not set.
            PayloadTooLargeError: The body is larger than `max_bytes`.
        """
        url = expand_location(self.url, self.environ)
        if self.client is not None:
            return self._fetch_with(self.client, url)
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            return self._fetch_with(client, url)

    def _fetch_with(self, client: httpx.Client, url: str) -> Payload:
        attempts = self.retries + 1
        for attempt in range(attempts):
            outcome, retry = self._attempt(client, url)
            if isinstance(outcome, bytes):
                content, fmt = sniff_format(outcome, self.shown, max_bytes=self.max_bytes)
                logger.debug("fetched %s (%d bytes, %s) on attempt %d", self.shown, len(content), fmt, attempt + 1)
                return Payload(content, self.shown, _utc_now(), fmt)
            reason = outcome
            if not retry or attempt == attempts - 1:
                self._fail(reason, attempt + 1)
            delay = self.backoff * 2**attempt
            logger.warning("fetching %s failed (%s); retry %d of %d in %.2fs", self.shown, reason, attempt + 1,
                           self.retries, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, client: httpx.Client, url: str) -> tuple[bytes | str, bool]:
        """One GET: the body on success, else (reason, whether to retry)."""
        try:
            with client.stream("GET", url, timeout=self.timeout) as response:
                if not response.is_success:
                    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                    return reason, response.status_code >= 500
                return self._read(response), False
        except httpx.TimeoutException:
            return f"timed out after {self.timeout:g}s", True
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            return f"{type(exc).__name__} ({self._reason(exc, url)})", True
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return f"{type(exc).__name__} ({self._reason(exc, url)})", False

    def _read(self, response: httpx.Response) -> bytes:
        """The (decoded) body, streamed: `PayloadTooLargeError` as soon as it passes `max_bytes`."""
        if self.max_bytes is None:
            return response.read()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes and "content-encoding" not in response.headers:
            raise PayloadTooLargeError(self.shown, self.max_bytes)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise PayloadTooLargeError(self.shown, self.max_bytes)
        return bytes(body)

    def _reason(self, exc: Exception, url: str) -> str:
        """The library's one-line message, which may quote the URL or a part of it, without the secrets."""
        return mask_text(_one_line(exc), url_secrets(url) + url_secrets(self.url))

    def _fail(self, reason: str, attempts: int) -> NoReturn:
        noun = "attempt" if attempts == 1 else "attempts"
        raise SignalError(f"cannot fetch {self.shown}: {reason} after {attempts} {noun}; check the URL or the network")


@dataclass(frozen=True)
class SnapshotSource:
    """Fixed content, for tests and replays: `fetch()` returns the same payload every time.

    Attributes:
        content: The bytes (or text, stored as UTF-8); gzip is removed on fetch.
        location: A name for messages.
        format: "csv", "parquet" or "json"; sniffed from the content when None.
        fetched_at: The payload's fetch time (naive = UTC); the construction time when None.
    """

    content: bytes | str
    _: KW_ONLY
    location: str = "snapshot"
    format: str | None = None
    fetched_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise SignalError(f"unknown format {self.format!r} for {self.location}; "
                              f"use one of {', '.join(FORMATS)} or None to sniff")
        object.__setattr__(self, "fetched_at", _as_utc(self.fetched_at or _utc_now()))

    def fetch(self) -> Payload:
        """Return the snapshot as a payload."""
        raw = self.content.encode("utf-8") if isinstance(self.content, str) else bytes(self.content)
        content, sniffed = sniff_format(raw, self.location)
        assert self.fetched_at is not None
        return Payload(content, self.location, self.fetched_at, self.format or sniffed)


def open_source(location: str, *, max_bytes: int | None = None, environ: Mapping[str, str] | None = None,
                **http_kwargs: Any) -> SignalSource:
    """The source for a location: `HttpSource` for http:// and https://, else `FileSource`.

    Args:
        location: A URL or a file path; `${NAME}` placeholders in it are read from `environ` at fetch time.
            A location that starts with a placeholder (`${CASES_URL}`) is read now to tell a URL from a path.
        max_bytes: The size cap of the content (None: no cap).
        environ: Where placeholders are read (the process environment when None).
        **http_kwargs: Passed to `HttpSource` (timeout, retries, backoff, client, sleep); ignored for files.

    Raises:
        SignalError: the location starts with a placeholder whose variable is not set.
    """
    decides = expand_location(location, environ) if location.startswith("${") else location
    if decides.lower().startswith(("http://", "https://")):
        return HttpSource(location, max_bytes=max_bytes, environ=environ, **http_kwargs)
    if http_kwargs:
        logger.debug("ignoring HTTP options %s for file %s", sorted(http_kwargs), location)
    return FileSource(Path(location), max_bytes=max_bytes, environ=environ)


def read_payload(payload: Payload, *, encoding: str = "utf-8") -> pl.DataFrame:
    """Parse a payload into a frame of String columns plus an Int64 `line`.

    `line` is where the row came from: for CSV the record number with the header as line 1 (blank
    lines count; a quoted field spanning lines does not shift it), for JSON and Parquet index + 2.
    Rows whose fields are all empty are dropped. JSON may be a list of objects, an object holding such
    a list under "events", "data" or "rows", or JSON Lines; nested lists are joined with ";" (an empty
    list gives ""), nested objects are kept as JSON text.

    Raises:
        SignalError: The content cannot be decoded or parsed, holds a NUL character, or already has a
            column named "line".
    """
    if payload.format == "parquet":
        frame = _read_parquet(payload)
    else:
        text = _decode(payload, encoding)
        frame = _read_csv(text, payload.location) if payload.format == "csv" else _read_json(text, payload.location)
    if "line" in frame.columns:
        raise SignalError(f"{payload.location} has a column named 'line', which the reader reserves for row numbers; rename it")
    frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64)).select("line", *frame.columns)
    _check_no_nul(frame, payload.location)
    if frame.width > 1 and frame.height:
        frame = frame.filter(~pl.all_horizontal(pl.exclude("line").is_null() | (pl.exclude("line").str.strip_chars() == "")))
    return frame


def _check_no_nul(frame: pl.DataFrame, location: str) -> None:
    """Refuse a NUL character in a header or value: binary junk (or UTF-16), which PostgreSQL cannot store."""
    if any("\x00" in c for c in frame.columns):
        raise SignalError(f"{location} has a NUL byte in its header, so it is not UTF-8 text (UTF-16?); "
                          "re-save it as UTF-8")
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if text:
        lines = frame.filter(pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in text))["line"]
        if lines.len():
            raise SignalError(f"{location} has a NUL byte on line {lines[0]}, so it is not a text table; "
                              "remove the binary data or re-export the file")


def _decode(payload: Payload, encoding: str) -> str:
    try:
        text = payload.content.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        utf16 = " (it is UTF-16)" if payload.content[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise SignalError(f"cannot decode {payload.location} as {encoding}{utf16}: {_one_line(exc)}; "
                          "pass the file's encoding (e.g. encoding='latin-1')") from exc
    return text.removeprefix("\ufeff")


def _read_csv(text: str, location: str) -> pl.DataFrame:
    if not text.strip():
        raise SignalError(f"{location} is empty; expected a CSV header line and data rows")
    header = text.split("\n", 1)[0].rstrip("\r")
    if "\r" in header:
        raise SignalError(f"{location}: lines end with a bare carriage return (old Mac style); "
                          "re-save the file with LF or CRLF line ends")
    if "," not in header and (other := next((d for d in (";", "\t", "|") if d in header), None)):
        raise SignalError(f"{location}: the header has one column but contains {other!r}; "
                          "signal files must be comma-separated, re-save it with ',' as delimiter")
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise SignalError(f"cannot parse {location} as CSV: {_one_line(exc)}; "
                          "check the delimiter and that every row has as many fields as the header") from exc
    duplicated = [c for c in frame.columns if re.search(r"_duplicated_\d+$", c)]
    if duplicated:
        names = sorted({re.sub(r"_duplicated_\d+$", "", c) for c in duplicated})
        raise SignalError(f"{location} repeats column(s) {', '.join(map(repr, names))} in its header; "
                          "give every column a unique name")
    return frame


def _read_parquet(payload: Payload) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(payload.content))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SignalError(f"cannot parse {payload.location} as Parquet: {_one_line(exc)}; re-export the file") from exc
    return frame.select(_as_string(name, dtype) for name, dtype in frame.schema.items())


def _as_string(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, (pl.List, pl.Array)):
        as_list = column.arr.to_list() if isinstance(dtype, pl.Array) else column
        return as_list.list.eval(pl.element().cast(pl.String)).list.join(";").alias(name)
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode().alias(name)
    return column.cast(pl.String).alias(name)


def _read_json(text: str, location: str) -> pl.DataFrame:
    try:
        document: Any = json.loads(text)
    except RecursionError:
        raise SignalError(f"cannot parse {location} as JSON: nested too deeply; give a flat list of objects") from None
    except json.JSONDecodeError as exc:
        if not exc.msg.startswith("Extra data"):
            where = f"line {exc.lineno} column {exc.colno}"
            raise SignalError(f"cannot parse {location} as JSON: {exc.msg} at {where}; fix the file") from exc
        document = _json_lines(text, location)
    if isinstance(document, dict):
        key = next((k for k in JSON_ROW_KEYS if isinstance(document.get(k), list)), None)
        if key is None:
            raise SignalError(f"{location} is a JSON object without a list under 'events', 'data' or 'rows'; "
                              "give a list of objects or wrap it as {\"rows\": [...]}")
        document = document[key]
    if not isinstance(document, list):
        raise SignalError(f"{location} holds a JSON {type(document).__name__}; expected a list of objects")
    bad = [i + 2 for i, item in enumerate(document) if not isinstance(item, dict)]
    if bad:
        raise SignalError(f"{location} has {len(bad)} JSON item(s) that are not objects (lines {_head(bad)}); "
                          "make every item an object")
    columns = list(dict.fromkeys(key for item in document for key in item))
    data = {name: [_json_text(item.get(name)) for item in document] for name in columns}
    return pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String), orient="col")


def _json_lines(text: str, location: str) -> list[Any]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SignalError(f"cannot parse {location} as JSON or JSON Lines: {exc.msg} at line {number}; "
                                  "fix the file") from exc
    return items


def _json_text(value: Any) -> str | None:
    """A JSON value as the string a CSV would hold: lists joined with ';', objects as JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_json_item(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_item(value: Any) -> str:
    """One element of a joined list: scalars as text, null as "", nested containers as JSON text."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return _json_text(value) or ""


def _head(values: list[int], limit: int = 5) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
