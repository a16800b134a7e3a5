"""Reading files: formats told by content, encodings, and one-line reasons for whole-file rejection."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from forecast.errors import InvalidInputError
from forecast.ingest.readers import LINE_COLUMN, read_table

CSV = "sku,region,day,units\nA,R1,2024-01-01,3\nB,R1,2024-01-01,0\n"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_csv_gz_and_parquet_read_the_same_rows_and_hash(tmp_path: Path) -> None:
    plain = read_table(_write(tmp_path, "a.csv", CSV.encode()))
    zipped = read_table(_write(tmp_path, "a.csv.gz", gzip.compress(CSV.encode())))
    assert plain.frame.equals(zipped.frame)
    assert plain.sha256 == zipped.sha256  # hash of the content, not of the compression
    parquet_path = tmp_path / "a.parquet"
    pl.read_csv(CSV.encode()).write_parquet(parquet_path)
    parquet = read_table(parquet_path)
    assert parquet.file_format == "parquet"
    assert parquet.frame.drop(LINE_COLUMN).rows() == plain.frame.drop(LINE_COLUMN).rows()


def test_lines_count_the_header_as_line_one(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path, "a.csv", CSV.encode())).frame
    assert frame[LINE_COLUMN].to_list() == [2, 3]


def test_utf8_bom_is_stripped_and_latin1_needs_encoding(tmp_path: Path) -> None:
    bom = read_table(_write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + CSV.encode())).frame
    assert bom.columns[1] == "sku"
    latin = _write(tmp_path, "latin.csv", "sku,region,day,units\nCaf\xe9,R1,2024-01-01,1\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match=r"latin\.csv: not valid utf-8 \(byte 0xe9 on line 2, offset 24\).*--encoding"):
        read_table(latin)
    assert read_table(latin, encoding="latin-1").frame["sku"].to_list() == ["Café"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"e\.csv: file is empty"),
        (b"  \n\n", r"e\.csv: file is empty"),
        (b"sku,region,day,units\n", r"has a header but no rows"),
        ("sku,region\nA,B\n".encode("utf-16"), r"UTF-16 encoded.*--encoding utf-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"looks binary \(NUL byte at offset 8\)"),
        (b"\x1f\x8b\x08\x00garbage", r"damaged gzip file"),
        (b"sku,units,units\nA,1,2\n", r"header names 'units' more than once"),
        (b"sku,,day\nA,1,2\n", r"column 2 of the header has no name"),
        (b"sku;region;day;units\nA;R;2024-01-01;1\n", r"header has one column but contains ';'; pass --delimiter ';'"),
        (b"sku,region\nA,B,C,D\n", r"cannot be read as CSV"),
        (b"PAR1 not really parquet", r"damaged Parquet file"),
    ],
)
def test_whole_file_problems_give_one_line_reasons(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        read_table(_write(tmp_path, "e.csv", data))
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(InvalidInputError, match="is a folder"):
        read_table(tmp_path)
