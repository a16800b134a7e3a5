"""Read a tabular file (CSV, CSV.gz, Parquet) into a polars frame of strings, with its content hash.

Everything is read as text so that validation, not the parser, decides what a bad value is and the
original text of a rejected row is kept exactly.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from forecast.errors import InvalidInputError

__all__ = ["RawTable", "read_table", "LINE_COLUMN"]

LINE_COLUMN = "_line"
"""Column added to every raw table: the line of the row in the file (header = line 1)."""

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 65536


@dataclass(frozen=True)
class RawTable:
    """A file's rows as strings (plus `_line`), the sha256 of its content and its format."""

    frame: pl.DataFrame
    sha256: str
    file_format: str


def read_table(path: Path, *, encoding: str = "utf-8", delimiter: str = ",") -> RawTable:
    """Read `path` (format told by its content, not its name) into a frame of strings.

    Raises:
        InvalidInputError: missing, empty, binary or wrongly encoded file, bad header or unparseable CSV.
    """
    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path}: is a folder; give a file") from None
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InvalidInputError(f"{name}: damaged gzip file ({exc}); re-export or re-compress it") from None
    if not data.strip():
        raise InvalidInputError(f"{name}: file is empty; nothing to ingest")
    sha256 = hashlib.sha256(data).hexdigest()
    if data.startswith(_PARQUET_MAGIC):
        frame, file_format = _read_parquet(data, name), "parquet"
    else:
        frame, file_format = _read_csv(_decode(data, name, encoding), name, delimiter), "csv"
    _check_no_nul(frame, name)
    return RawTable(frame, sha256, file_format)


def _utf16_without_bom(head: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` when `head` looks like UTF-16 text without a BOM (NUL in every other byte)."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _check_no_nul(frame: pl.DataFrame, name: str) -> None:
    """Refuse text with a NUL character (binary junk; PostgreSQL cannot store it either)."""
    text_columns = [c for c, t in frame.schema.items() if t == pl.String]
    if not text_columns:
        return
    has_nul = pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in text_columns)
    lines = frame.filter(has_nul)[LINE_COLUMN]
    if lines.len():
        raise InvalidInputError(f"{name}: line {lines[0]} contains a NUL byte, so this is not a text table; "
                                "remove the binary data or re-export the file")


def _decode(data: bytes, name: str, encoding: str) -> str:
    is_utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
    if is_utf8 and data.startswith(_UTF16_BOMS):
        raise InvalidInputError(f"{name}: file is UTF-16 encoded; re-save it as UTF-8 or pass --encoding utf-16")
    if is_utf8 and (utf16 := _utf16_without_bom(data[:_SNIFF_BYTES])):
        raise InvalidInputError(f"{name}: file looks like UTF-16 without a byte order mark; re-save it as UTF-8 "
                                f"or pass --encoding {utf16}")
    if is_utf8 and b"\x00" in data[:_SNIFF_BYTES]:
        offset = data.index(b"\x00")
        raise InvalidInputError(
            f"{name}: looks binary (NUL byte at offset {offset}); expected CSV text, CSV.gz or Parquet"
        )
    try:
        return data.decode("utf-8-sig" if is_utf8 else encoding)
    except LookupError:
        raise InvalidInputError(f"--encoding {encoding!r} is not a known text encoding; e.g. utf-8, latin-1") from None
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{name}: not valid {encoding} (byte 0x{bad} on line {line}, offset {exc.start}); "
            "re-save it as UTF-8 or pass --encoding latin-1 (or the file's encoding)"
        ) from None


def _check_header(text: str, name: str, delimiter: str) -> None:
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if "\r" in first_line:
        raise InvalidInputError(f"{name}: lines end with a bare carriage return (old Mac style); "
                                "re-save the file with LF or CRLF line ends")
    try:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise InvalidInputError(f"{name}: the header cannot be read as CSV ({exc}); check its quoting") from None
    stripped = [h.strip() for h in header]
    if LINE_COLUMN in stripped:
        raise InvalidInputError(f"{name}: column name {LINE_COLUMN!r} is reserved for line numbers; rename that column")
    if any(not h for h in stripped):
        position = stripped.index("") + 1
        raise InvalidInputError(f"{name}: column {position} of the header has no name; every column needs one")
    duplicates = sorted({h for h in stripped if stripped.count(h) > 1})
    if duplicates:
        raise InvalidInputError(f"{name}: header names {', '.join(map(repr, duplicates))} more than once; rename the copies")
    if len(header) == 1:
        for other, label in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
            if other != delimiter and other in first_line:
                raise InvalidInputError(
                    f"{name}: the header has one column but contains {label}; pass --delimiter {label}"
                )


def _read_csv(text: str, name: str, delimiter: str) -> pl.DataFrame:
    if len(delimiter) != 1:
        raise InvalidInputError(f"--delimiter must be one character, got {delimiter!r}")
    _check_header(text, name, delimiter)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=delimiter,
            infer_schema=False,
            raise_if_empty=False,
            row_index_name=LINE_COLUMN,
            row_index_offset=2,
        )
    except pl.exceptions.PolarsError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"{name}: cannot be read as CSV ({detail}); check the delimiter and quoting") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    if frame.height == 0:
        raise InvalidInputError(f"{name}: has a header but no rows; nothing to ingest")
    return frame


def _read_parquet(data: bytes, name: str) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(f"{name}: damaged Parquet file ({str(exc).splitlines()[0]}); re-export it") from None
    if frame.height == 0:
        raise InvalidInputError(f"{name}: Parquet file has no rows; nothing to ingest")
    if LINE_COLUMN in frame.columns:
        raise InvalidInputError(f"{name}: column name {LINE_COLUMN!r} is reserved for line numbers; rename that column")
    nested = [f"{c} ({t})" for c, t in frame.schema.items() if t.is_nested() or t == pl.Binary]
    if nested:
        raise InvalidInputError(f"{name}: column(s) {', '.join(nested[:3])} hold nested or binary values; "
                                "export plain text, number or date columns")
    as_text = [pl.col(c).cast(pl.String) for c in frame.columns]
    return frame.select(as_text).with_row_index(LINE_COLUMN, offset=2).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
