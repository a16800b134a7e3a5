"""Write the bad-input corpus under tests/corpus/files/ (the files are committed; this script documents them).

Run from the repository root: `python tests/corpus/build_files.py`. Every file is small; the
10-million-row case is generated at test time (see test_large_files.py).
"""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import polars as pl

FILES = Path(__file__).parent / "files"
SALES = "sku,region,day,units\n"
CASES = "region,day,new_cases,reported_at\n"
LIVE = "event_id,host,platform,start,end,skus,category,regions,expected_viewers,discount,status,announced_at\n"
PROMO = "promo_id,sku,region,start,end,discount,announced_at\n"
CAL = "region,day,name,kind,announced_at\n"
HOSTILE = ["x'; DROP TABLE sales; --", 'say "hi"', "semi;colon", "<script>alert(1)</script>", "a,b", "Robert'); --"]


def _live(event_id: str, start: str = "2024-03-05T19:00:00+08:00", end: str = "2024-03-05T21:00:00+08:00",
          viewers: str = "100", discount: str = "0.1", host: str = "Mia", skus: str = "A1",
          regions: str = "R01", announced: str = "2024-02-20T10:00:00+08:00", status: str = "scheduled") -> str:
    return f"{event_id},{host},Douyin,{start},{end},{skus},,{regions},{viewers},{discount},{status},{announced}\n"


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def sales_files() -> dict[str, bytes]:
    good = SALES + "A1,R01,2024-02-01,3\nA1,R01,2024-02-02,4\n"
    parquet = _parquet(pl.DataFrame({"sku": ["A1"] * 50, "region": ["R01"] * 50, "day": ["2024-01-01"] * 50,
                                     "units": list(range(50))}))
    many = SALES + "".join(f"D1,R01,2024-04-01,{i}\n" for i in range(30)) + "D1,R01,2024-04-02,1\n"
    return {
        "empty.csv": b"",
        "whitespace_only.csv": b"  \n\n \r\n",
        "header_only.csv": SALES.encode(),
        "blank_rows_only.csv": (SALES + ",,,\n,\n\n").encode(),
        "binary_png.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
        "random_bytes.bin": random.Random(9).randbytes(2048),
        "truncated.csv.gz": gzip.compress(good.encode() * 20, mtime=0)[:60],
        "truncated.parquet": parquet[: len(parquet) // 2],
        "nested.parquet": _parquet(pl.DataFrame({"sku": ["A1"], "region": ["R01"], "day": ["2024-01-01"],
                                                 "units": [[1, 2]]})),
        "truncated_mid_row.csv": (SALES + "T1,R01,2024-02-01,3\nT1,R01,2024-02-02,4\nT1,R01,2024-02-0").encode(),
        "unterminated_quote.csv": (SALES + 'T2,R01,2024-02-01,3\n"T2,R01,2024-02-02,4\nT2,R01,2024-02-03,5\n').encode(),
        "ragged.csv": (SALES + "T3,R01,2024-02-01,3\nT3,R01,2024-02-02,4,extra\n").encode(),
        "semicolon.csv": good.replace(",", ";").encode(),
        "tab.csv": good.replace(",", "\t").encode(),
        "semicolon_declared.csv": (SALES + "S1,R01,2024-02-01,3\n").replace(",", ";").encode(),
        "utf16_bom.csv": good.encode("utf-16"),
        "utf16le_no_bom.csv": good.encode("utf-16-le"),
        "utf16be_no_bom.csv": good.encode("utf-16-be"),
        "utf16_bom_declared.csv": (SALES + "U1,R01,2024-02-01,3\n").encode("utf-16"),
        "latin1.csv": (SALES + "Caf\xe9,R01,2024-02-01,3\n").encode("latin-1"),
        "latin1_declared.csv": (SALES + "Cr\xe8me,R01,2024-02-01,3\n").encode("latin-1"),
        "utf8_bom.csv": b"\xef\xbb\xbf" + (SALES + "B0,R01,2024-02-01,3\n").encode(),
        "bare_cr.csv": good.replace("\n", "\r").encode(),
        "crlf.csv": (SALES + "C1,R01,2024-02-01,3\nC1,R01,2024-02-02,4\n").replace("\n", "\r\n").encode(),
        "duplicate_header.csv": b"sku,region,day,units,units\nA1,R01,2024-02-01,3,4\n",
        "duplicate_header_spaces.csv": b"sku,region, day,day ,units\nA1,R01,2024-02-01,2024-02-02,3\n",
        "empty_header_name.csv": b"sku,region,,day,units\nA1,R01,x,2024-02-01,3\n",
        "line_column.csv": b"sku,region,day,units,_line\nA1,R01,2024-02-01,3,9\n",
        "missing_units.csv": b"sku,region,day\nA1,R01,2024-02-01\n",
        "missing_everything.csv": b"item,store,date,qty\nA1,R01,2024-02-01,3\n",
        "dates_mixed.csv": (SALES + "DT,R01,2025-02-30,1\nDT,R01,2025-13-01,1\nDT,R01,05/01/2025,1\n"
                            "DT,R01,2025-01-07,1\nDT,R01,0000-01-01,1\nDT,R01,9999-12-31,1\nDT,R01,,1\n"
                            "DT,R01,2025-01-08T00:00:00,1\nDT,R01,1899-12-31,1\nDT,R01,2025-01-09,1\n").encode(),
        "dates_day_first.csv": (SALES + "DF,R01,31/01/2025,2\nDF,R01,01/02/2025,3\nDF,R01,2025-02-03,4\n").encode(),
        "dates_all_wrong.csv": (SALES + "DW,R01,01/31/2025,1\nDW,R01,02/01/2025,1\n").encode(),
        "huge_numbers.csv": (SALES + "N1,R01,2024-02-01,1e308\nN1,R01,2024-02-02,1000000000000000000000000000000\n"
                             "N1,R01,2024-02-03,1e309\nN1,R01,2024-02-04,NaN\nN1,R01,2024-02-05,inf\n"
                             "N1,R01,2024-02-06,-inf\nN1,R01,2024-02-07,\"1,5\"\nN1,R01,2024-02-08,0x10\n"
                             "N1,R01,2024-02-09,5e-324\nN1,R01,2024-02-10,  7 \n").encode(),
        "negative_units.csv": (SALES + "G1,R01,2024-02-01,-3\nG1,R01,2024-02-02,0\nG1,R01,2024-02-03,-0.5\n"
                               "G1,R01,2024-02-04,2\n").encode(),
        "bad_price_promo.csv": (b"sku,region,day,units,price,on_promo\nP1,R01,2024-02-01,1,-1,0\n"
                                b"P1,R01,2024-02-02,1,1.5,maybe\nP1,R01,2024-02-03,1,nan,\nP1,R01,2024-02-04,1,,yes\n"),
        "hostile_ids.csv": (SALES + "".join(f"{_csv_field(h)},R01,2024-02-01,{i + 1}\n"
                                            for i, h in enumerate(HOSTILE))).encode(),
        "hostile_regions.csv": (SALES + "".join(f"H1,{_csv_field(h)},2024-02-01,{i + 1}\n"
                                                for i, h in enumerate(HOSTILE))).encode(),
        "embedded_newlines.csv": (SALES + '"line\nbreak",R01,2024-02-01,1\n"cr\r\nlf",R01,2024-02-01,2\n'
                                  "E1,R01,2024-02-01,-1\nE2,R01,2024-02-01,3\n").encode(),
        "long_ids.csv": (SALES + "L" * 128 + ",R01,2024-02-01,1\n" + "L" * 129 + ",R01,2024-02-01,1\n"
                         + "L1," + "R" * 129 + ",2024-02-01,1\n" + "\u00e9" * 128 + ",R01,2024-02-01,1\n"
                         + "  ,R01,2024-02-01,1\n").encode(),
        "long_master_data.csv": ("sku,region,day,units,category,region_parent\nM1,R01,2024-02-01,1,"
                                 + "C" * 129 + ",\nM2,R01,2024-02-01,1,food,\n").encode(),
        "duplicate_keys.csv": (SALES + "K1,R01,2024-02-01,1\nK1,R01,2024-02-01,2\nK1,R01,2024-02-02,3\n"
                               "K1,R01, 2024-02-01 ,4\n").encode(),
        "many_duplicates.csv": many.encode(),
        "conflicting_category.csv": (b"sku,region,day,units,category\nA1,R01,2024-02-01,1,beauty\n"
                                     b"A1,R01,2024-02-02,1,food\n"),
        "nul_after_64k.csv.gz": gzip.compress(
            (SALES + "Z1,R01,2024-02-01,1\n" * 4000 + "Z\x001,R01,2024-02-02,1\n").encode(), mtime=0),
        "nul_early.csv": (SALES + "Z2\x00,R01,2024-02-01,1\n").encode(),
    }


def case_files() -> dict[str, bytes]:
    return {
        "empty.csv": b"",
        "header_only.csv": CASES.encode(),
        "bad_values.csv": (CASES + "R01,2024-01-01,1e308,\nR01,2024-01-02,1000000000000000000000000000000,\n"
                           "R01,2024-01-03,NaN,\nR01,2024-01-04,inf,\nR01,2024-01-05,-3,\nR01,2025-02-30,1,\n"
                           "R01,0000-01-01,1,\n,2024-01-06,1,\n" + "R" * 129 + ",2024-01-06,1,\n"
                           "R01,2024-01-07,2,2024-01-08T00:00:00+25:00\nR01,2024-01-08,2,9999-12-31T23:00:00-05:00\n"
                           "R02,2024-01-01,5,2024-01-02T09:00:00Z\n").encode(),
        "semicolon.csv": (CASES + "R01,2024-01-01,1,\n").replace(",", ";").encode(),
        "utf16.csv": (CASES + "R01,2024-01-01,1,\n").encode("utf-16"),
        "utf16le_no_bom.csv": (CASES + "R01,2024-01-01,1,\n").encode("utf-16-le"),
        "latin1.csv": (CASES + "Bogot\xe1,2024-01-01,1,\n").encode("latin-1"),
        "utf8_bom.csv": b"\xef\xbb\xbf" + (CASES + "R01,2024-02-01,4,\n").encode(),
        "duplicate_header.csv": b"region,day,new_cases,new_cases\nR01,2024-01-01,1,2\n",
        "missing_column.csv": b"region,day,cases\nR01,2024-01-01,1\n",
        "truncated.csv.gz": gzip.compress((CASES + "R01,2024-01-01,1,\n" * 50).encode(), mtime=0)[:40],
        "nyt_truncated.csv": (b"date,state,fips,cases,deaths\n2020-04-01,Ohio,39,100,1\n2020-04-02,Ohio,39,150,2\n"
                              b"2020-04-03,Ohio,3"),
        "nul.csv": (CASES + "R0\x001,2024-01-01,1,\n").encode(),
        "hostile_regions.csv": (CASES + "".join(f"{_csv_field(h)},2024-03-01,{i}\n"
                                                for i, h in enumerate(HOSTILE))).encode(),
        "bare_cr.csv": (CASES + "R01,2024-01-01,1,\n").replace("\n", "\r").encode(),
        "ragged.csv": (CASES + "R01,2024-01-01,1,,extra\n").encode(),
    }


def livestream_files() -> dict[str, bytes]:
    return {
        "timezones.csv": (LIVE + _live("TZ-ok-z", "2024-03-05T11:00:00Z", "2024-03-05T13:00:00Z")
                          + _live("TZ-ok-nepal", "2024-03-05T19:00:00+05:45", "2024-03-05T21:00:00+05:45")
                          + _live("TZ-naive", "2024-03-05T19:00:00", "2024-03-05T21:00:00")
                          + _live("TZ-25h", "2024-03-05T19:00:00+25:00", "2024-03-05T21:00:00+25:00")
                          + _live("TZ-named", "2024-03-05T19:00:00 Asia/Shanghai", "2024-03-05T21:00:00 Asia/Shanghai")
                          + _live("TZ-bracket", "2024-03-05T19:00:00[Asia/Shanghai]", "2024-03-05T21:00:00+08:00")
                          + _live("TZ-abbrev", "2024-03-05T19:00:00 CST", "2024-03-05T21:00:00 CST")
                          + _live("TZ-date-only", "2024-03-05", "2024-03-06")
                          + _live("TZ-naive-announce", announced="2024-02-20T10:00:00")).encode(),
        "impossible_dates.csv": (LIVE + _live("D-ok")
                                 + _live("D-feb30", "2025-02-30T19:00:00+08:00", "2025-02-30T21:00:00+08:00")
                                 + _live("D-month13", "2025-13-01T19:00:00+08:00", "2025-13-01T21:00:00+08:00")
                                 + _live("D-9999", "9999-12-31T22:00:00-05:00", "9999-12-31T23:00:00-05:00")
                                 + _live("D-0001", "0001-01-01T00:00:00+05:00", "0001-01-01T01:00:00+05:00",
                                         announced="0001-01-01T00:00:00+08:00", status="done")
                                 + _live("D-backwards", "2024-03-05T21:00:00+08:00", "2024-03-05T19:00:00+08:00")
                                 + _live("D-late-announce", announced="2024-03-06T10:00:00+08:00")).encode(),
        "numbers.csv": (LIVE + _live("N-ok", viewers="1e6", discount="15%")
                        + _live("N-viewers-1e308", viewers="1e308")
                        + _live("N-viewers-1e30", viewers="1000000000000000000000000000000")
                        + _live("N-viewers-neg", viewers="-5") + _live("N-viewers-nan", viewers="NaN")
                        + _live("N-disc-huge", discount="1e308") + _live("N-disc-nan", discount="nan%")
                        + _live("N-disc-inf", discount="inf")).encode(),
        "hostile.csv": (LIVE + "".join(
            _live(_csv_field(h), host=_csv_field("<b>" + h + "</b>\nsecond line")) for h in HOSTILE)).encode(),
        "long_fields.csv": (LIVE + _live("LF-ok") + _live("LF-" + "9" * 200)
                            + _live("LF-host", host="M" * 300)).encode(),
        "unknown_refs.csv": (LIVE + _live("U-ok") + _live("U-sku", skus="ZZ9;A1") + _live("U-region", regions="R99")
                             + _live("U-status", status="postponed")).encode(),
        "missing_columns.csv": b"event_id,host,start,end\nX,Mia,2024-03-05T19:00:00Z,2024-03-05T20:00:00Z\n",
        "empty.csv": b"   \n",
        "binary.bin": random.Random(5).randbytes(1024),
        "deep.json": b"[" * 3000 + b"]" * 3000,
        "not_objects.json": b'{"events": [1, "two", null]}',
        "bare_cr.csv": (LIVE + _live("CR-1")).replace("\n", "\r").encode(),
    }


def other_signal_files() -> dict[str, bytes]:
    return {
        "promotions/bad_rows.csv": (PROMO + "PR-ok,A1,R01,2024-03-01,2024-03-05,20%,\n"
                                    "PR-feb30,A1,R01,2025-02-30,2025-03-01,0.2,\n"
                                    "PR-year1,A1,,0001-01-03,0001-01-05,0.1,\n"
                                    "PR-disc,A1,,2024-03-01,2024-03-05,1e308,\n"
                                    "PR-nan,A1,,2024-03-01,2024-03-05,nan%,\n"
                                    + "P" * 129 + ",A1,,2024-03-01,2024-03-05,0.1,\n"
                                    "PR-tz,A1,,2024-03-01,2024-03-05,0.1,2024-02-01T00:00:00+25:00\n"
                                    "PR-9999,A1,,2024-03-01,2024-03-05,0.1,9999-12-31T23:00:00-05:00\n"
                                    "\"'; DROP TABLE promotion; --\",B2,all,2024-03-02,2024-03-03,0.3,\n"
                                    "PR-sku,ZZ9,,2024-03-01,2024-03-05,0.1,\n").encode(),
        "promotions/missing_discount.csv": b"promo_id,sku,start,end\nX,A1,2024-03-01,2024-03-02\n",
        "calendar/bad_rows.csv": (CAL + "R01,2024-03-01,Fest,,\nR01,2025-02-30,X,,\nR01,2024-03-02," + "N" * 300
                                  + ",,\nR01,2024-03-03,Y,weird,\nR01,2024-03-04,Z,,0001-01-01T00:00:00+05:00\n"
                                  "R01,2024-03-05,<script>alert(1)</script>,cultural,\n").encode(),
        "calendar/utf16.csv": (CAL + "R01,2024-03-01,Fest,,\n").encode("utf-16"),
    }


def config_files() -> dict[str, bytes]:
    return {
        "good.toml": (b'[sources.nyt]\nkind = "cases"\nlocation = "x.csv"\npreset = "nyt"\n'
                      b'[sources.nyt.region_map]\nOhio = "R01"\n'),
        "empty.toml": b"",
        "not_toml.toml": b"[sources.x\nkind = 1\n",
        "sources_is_string.toml": b'sources = "x"\n',
        "sources_is_array.toml": b'[[sources]]\nkind = "cases"\n',
        "source_not_table.toml": b"[sources]\nx = 5\n",
        "unknown_kind.toml": b'[sources.x]\nkind = "weather"\nlocation = "a"\n',
        "negative_lag.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt"\nlag_days = -1\n',
        "huge_lag.toml": (b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt"\n'
                          b"lag_days = 100000000000000000000\n"),
        "nan_timeout.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt"\ntimeout = nan\n',
        "bad_name.toml": b'[sources."a b"]\nkind = "cases"\nlocation = "a"\n',
        "newline_name.toml": b'[sources."a\\nb"]\nkind = "cases"\nlocation = "a"\n',
        "newline_preset.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt\\nevil"\n',
        "extra_key.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt"\nbogus = 1\n',
        "name_key.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\npreset = "nyt"\nname = "y"\n',
        "region_map_number.toml": b'[sources.x]\nkind = "cases"\nlocation = "a"\n[sources.x.region_map]\nOhio = 5\n',
        "utf16.toml": '[sources.x]\nkind = "cases"\n'.encode("utf-16"),
        "binary.toml": b"\x00\x01\x02garbage\xff\xfe",
        "duplicate_table.toml": b'[sources.x]\nkind = "cases"\n[sources.x]\nkind = "cases"\n',
    }


def main() -> None:
    groups = {"sales": sales_files(), "cases": case_files(), "livestreams": livestream_files(),
              "config": config_files(), "": other_signal_files()}
    for folder, files in groups.items():
        for name, content in files.items():
            path = FILES / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


if __name__ == "__main__":
    main()
