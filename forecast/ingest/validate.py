"""Sales validation: finders that return the bad rows with reasons, and a wrapper that raises.

Row-level problems (a bad date, negative units, a duplicated key) quarantine the row; problems
that make the whole file doubtful (conflicting master data, no valid row at all) raise.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from forecast.errors import InvalidInputError
from forecast.ingest.readers import LINE_COLUMN

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "REASON_COLUMN",
    "parse_sales",
    "find_bad_sales_rows",
    "find_master_data_conflicts",
    "has_control_character",
    "validate_sales",
]

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 256
"""Longest `sku_name` / `region_name`; `category` and `region_parent` are ids (`MAX_ID_LENGTH`)."""
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
"""The days a sales row may be about; outside them a date is a placeholder (0001-01-01, 9999-12-31) or a typo."""
_SHOWN_LINES = 10
REASON_COLUMN = "_reason"
_TRUE = ("1", "true", "t", "yes", "y")
_FALSE = ("0", "false", "f", "no", "n", "")


def _text(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars()


def _shown(name: str) -> pl.Expr:
    """A value as it appears in a reason: one line (CR/LF escaped), at most 40 characters."""
    one_line = _text(name).str.replace_all("\r", "\\r", literal=True).str.replace_all("\n", "\\n", literal=True)
    return pl.when(one_line.str.len_chars() > 40).then(one_line.str.slice(0, 37) + "...").otherwise(one_line)


def _number_problems(name: str, *, required: bool) -> list[pl.Expr]:
    text, value, shown = _text(name), _text(name).cast(pl.Float64, strict=False), _shown(name)
    missing = text.is_null() | (text == "")
    problems = [
        pl.when(~missing & value.is_null()).then(pl.format(f"{name} '{{}}' is not a number", shown)),
        pl.when(value.is_nan() | value.is_infinite()).then(pl.format(f"{name} '{{}}' is not finite", shown)),
        pl.when(value < 0).then(pl.format(f"{name} {{}} is negative", shown)),
    ]
    if required:
        problems.append(pl.when(missing).then(pl.lit(f"{name} is empty")))
    return problems


def has_control_character(text: pl.Expr) -> pl.Expr:
    """Whether `text` holds a control character (NUL, tab, line break, U+001F, ...).

    Ids must not: the pipeline joins sku and region with U+001F into one key, and exports and
    terminals break on the others.
    """
    return text.str.contains(r"\p{Cc}")


def _id_problems(name: str) -> list[pl.Expr]:
    text = _text(name)
    return [
        pl.when(text.is_null() | (text == "")).then(pl.lit(f"{name} is empty")),
        _too_long(name, MAX_ID_LENGTH),
        pl.when(has_control_character(text)).then(
            pl.lit(f"{name} contains a control character (tab, line break, NUL, ...); use printable text")
        ),
    ]


def _too_long(name: str, limit: int) -> pl.Expr:
    return pl.when(_text(name).str.len_chars() > limit).then(pl.lit(f"{name} is longer than {limit} characters"))


def parse_sales(canonical: pl.DataFrame, date_format: str) -> pl.DataFrame:
    """Typed columns next to the text ones: `day` as date, `units`/`price` as float, `on_promo` as bool.

    Unparseable values become null here; `find_bad_sales_rows` names them.
    """
    exprs = [
        _text("sku").alias("sku"),
        _text("region").alias("region"),
        _text("day").str.to_date(date_format, strict=False).alias("day_parsed"),
        _text("units").cast(pl.Float64, strict=False).alias("units_parsed"),
    ]
    if "price" in canonical.columns:
        exprs.append(_text("price").cast(pl.Float64, strict=False).alias("price_parsed"))
    if "on_promo" in canonical.columns:
        exprs.append(_text("on_promo").str.to_lowercase().is_in(_TRUE).alias("on_promo_parsed"))
    return canonical.with_columns(exprs)


def find_bad_sales_rows(parsed: pl.DataFrame, date_format: str) -> pl.DataFrame:
    """The rows of `parsed` that cannot be loaded, as `_line` and `_reason` (all reasons, `; `-joined)."""
    problems = _id_problems("sku") + _id_problems("region")
    day_text = _text("day")
    problems += [
        pl.when(day_text.is_null() | (day_text == "")).then(pl.lit("day is empty")),
        pl.when((day_text != "") & pl.col("day_parsed").is_null()).then(
            pl.format(f"day '{{}}' is not a date in format {date_format}", _shown("day"))
        ),
        pl.when(~pl.col("day_parsed").is_between(FIRST_DAY, LAST_DAY)).then(
            pl.format(f"day '{{}}' is outside {FIRST_DAY} to {LAST_DAY}", _shown("day"))
        ),
    ]
    limits = {"category": MAX_ID_LENGTH, "region_parent": MAX_ID_LENGTH, "sku_name": MAX_NAME_LENGTH,
              "region_name": MAX_NAME_LENGTH}
    problems += [_too_long(name, limit) for name, limit in limits.items() if name in parsed.columns]
    problems += _number_problems("units", required=True)
    if "price" in parsed.columns:
        problems += _number_problems("price", required=False)
    if "on_promo" in parsed.columns:
        flag = _text("on_promo").str.to_lowercase()
        problems.append(
            pl.when(flag.is_not_null() & ~flag.is_in(_TRUE + _FALSE)).then(
                pl.format("on_promo '{}' is not 1/0, true/false or yes/no", _shown("on_promo"))
            )
        )
    with_reason = parsed.with_columns(pl.concat_str(problems, separator="; ", ignore_nulls=True).alias(REASON_COLUMN))
    row_bad = with_reason.filter(pl.col(REASON_COLUMN) != "").select(LINE_COLUMN, REASON_COLUMN)
    duplicates = _duplicate_keys(with_reason.filter(pl.col(REASON_COLUMN) == ""))
    return pl.concat([row_bad, duplicates]).sort(LINE_COLUMN)


def _duplicate_keys(rows: pl.DataFrame) -> pl.DataFrame:
    keys = ["sku", "region", "day_parsed"]
    lines = rows.group_by(keys).agg(pl.col(LINE_COLUMN).sort().alias("lines")).filter(pl.col("lines").list.len() > 1)
    if lines.height == 0:
        return pl.DataFrame(schema={LINE_COLUMN: pl.Int64, REASON_COLUMN: pl.String})
    count = pl.col("lines").list.len()
    shown = pl.col("lines").list.head(_SHOWN_LINES).cast(pl.List(pl.String)).list.join(", ")
    more = pl.when(count > _SHOWN_LINES).then(pl.format(" and {} more", count - _SHOWN_LINES)).otherwise(pl.lit(""))
    joined = lines.with_columns(pl.concat_str(shown, more).alias("all"))
    return joined.explode("lines").select(
        pl.col("lines").alias(LINE_COLUMN),
        pl.format("duplicate key (sku, region, day): the same key is on lines {}", pl.col("all")).alias(REASON_COLUMN),
    )


def find_master_data_conflicts(good: pl.DataFrame) -> list[str]:
    """Messages for SKUs or regions that the file describes in two different ways."""
    messages = []
    for key, attribute in (("sku", "category"), ("sku", "sku_name"), ("region", "region_parent"), ("region", "region_name")):
        if attribute not in good.columns:
            continue
        values = good.select(key, _text(attribute).alias(attribute)).filter(pl.col(attribute) != "").unique()
        clashes = values.group_by(key).agg(pl.col(attribute).sort()).filter(pl.col(attribute).list.len() > 1).sort(key)
        for row in clashes.head(3).iter_rows(named=True):
            messages.append(f"{key} {row[key]!r} has {len(row[attribute])} different {attribute} values {row[attribute][:3]}")
    if "region_parent" in good.columns:
        own = good.filter(_text("region_parent") == pl.col("region")).select("region").unique()
        messages += [f"region {r!r} is its own region_parent" for r in own["region"].head(3)]
    return messages


def validate_sales(canonical: pl.DataFrame, date_format: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split canonical rows into loadable typed rows and rejected rows (`_line`, `_reason`).

    Raises:
        InvalidInputError: there is no row, no row is valid, or the file describes a SKU or region inconsistently.
    """
    if canonical.height == 0:
        raise InvalidInputError("every row is empty (only separators or blank lines); nothing to ingest")
    parsed = parse_sales(canonical, date_format)
    rejected = find_bad_sales_rows(parsed, date_format)
    good = parsed.join(rejected.select(LINE_COLUMN), on=LINE_COLUMN, how="anti")
    if good.height == 0:
        first = rejected[REASON_COLUMN][0]
        raise InvalidInputError(
            f"none of the {parsed.height} rows is valid (line {rejected[LINE_COLUMN][0]}: {first}); "
            "check --date-format and --mapping; nothing was loaded"
        )
    conflicts = find_master_data_conflicts(good)
    if conflicts:
        raise InvalidInputError(f"inconsistent master data: {'; '.join(conflicts)}; make each SKU/region agree across rows")
    return good, rejected
