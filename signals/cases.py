"""Regional case counts: from a source's raw rows to daily new cases per region, as known on each day.

`normalise_case_counts` takes the string frame of `signals.sources.read_payload` and returns a
`CaseCountResult` whose `cases` follow `signals.frames.CASES_SCHEMA`. Rules:

- Row-level problems (empty or over-long region, unparseable date or one outside 1900..2999, missing /
  non-numeric / NaN / infinite / negative count, unparseable `reported_at`) send the row to `rejected`
  with its reason; the rest go on.
- Duplicate (region, day) rows: sources re-publish, so the LAST valid row by input line wins; the
  earlier ones go to `rejected` as superseded, so nothing is lost.
- Cumulative sources: per source region in day order, new cases are the difference to the previous
  reported day (the first day's new cases are its cumulative). A day whose cumulative goes down is a
  correction: its new cases are 0 and `corrections` gets the (negative) difference, so
  ``sum(new_cases) == last cumulative - sum(corrections.amount)`` per region. A missing day is not
  filled: the difference spans the gap, so the gap's cases land on the next reported day.
- `known_at` is the start (UTC) of day + `lag_days`, or the row's `reported_at` (a date, a naive
  datetime read as UTC, or a datetime with an offset) when the source has that column and the row fills it.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from signals.errors import SignalError
from signals.frames import CASES_SCHEMA, CORRECTIONS_SCHEMA, FIRST_DAY, LAST_DAY, MAX_ID_CHARS, REJECTED_SCHEMA

__all__ = ["CASE_PRESETS", "CasePreset", "CaseCountResult", "case_preset", "normalise_case_counts"]

logger = logging.getLogger(__name__)

REPORTED_COLUMN = "reported_at"
_INSTANT_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M%:z", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")


@dataclass(frozen=True)
class CasePreset:
    """Where a source keeps the fields of a case count.

    Attributes:
        region_column: The region name as the source spells it.
        day_column: The day the count is about.
        count_column: The count itself.
        cumulative: True when the count is a running total, False when it is the day's new cases.
        date_format: strftime format of `day_column`.
    """

    region_column: str
    day_column: str
    count_column: str
    cumulative: bool
    date_format: str = "%Y-%m-%d"


CASE_PRESETS: dict[str, CasePreset] = {
    # NYT us-states.csv: date,state,fips,cases,deaths (cumulative)
    "nyt": CasePreset("state", "date", "cases", True),
    # DS4C TimeProvince.csv: date,time,province,confirmed,released,deceased (cumulative)
    "kr_ds4c": CasePreset("province", "date", "confirmed", True),
    # generic daily counts: region,day,new_cases[,reported_at]
    "daily": CasePreset("region", "day", "new_cases", False),
}


@dataclass(frozen=True)
class CaseCountResult:
    """The outcome of `normalise_case_counts`.

    Attributes:
        cases: One row per source region x day (`CASES_SCHEMA`); rows of unmapped regions are kept with region null.
        corrections: Days where a cumulative series went down (`CORRECTIONS_SCHEMA`).
        rejected: Input rows that were not used, with their reason (`REJECTED_SCHEMA`).
        unmapped: Sorted source region names without a service region in the mapping.
    """

    cases: pl.DataFrame
    corrections: pl.DataFrame
    rejected: pl.DataFrame
    unmapped: list[str]


def case_preset(name: str) -> CasePreset:
    """The preset called `name`.

    Raises:
        SignalError: No preset has that name.
    """
    try:
        return CASE_PRESETS[name]
    except KeyError:
        raise SignalError(f"unknown case count preset {name!r}; use one of {', '.join(sorted(CASE_PRESETS))}") from None


def normalise_case_counts(raw: pl.DataFrame, *, preset: CasePreset, region_map: Mapping[str, str],
                          population: Mapping[str, int], lag_days: int) -> CaseCountResult:
    """Turn a source's raw rows into daily new cases per region (see the module docstring for the rules).

    Args:
        raw: String columns plus an Int64 `line`, as `read_payload` returns them.
        preset: Which columns hold region, day and count, and whether the count is cumulative.
        region_map: Source region name -> service region id.
        population: Service region id -> inhabitants, for `new_cases_per_100k`.
        lag_days: Days between a count's day and the day the service learns it (when no `reported_at`).

    Returns:
        Cases, corrections, rejected rows and the unmapped source regions.

    Raises:
        SignalError: A preset column is missing, `lag_days` is negative or a population is not positive.
    """
    _check_arguments(raw, preset, population, lag_days)
    parsed = _parse_rows(_with_line(raw), preset)
    valid = parsed.filter(pl.col("reason").is_null())
    latest, superseded = _split_superseded(valid)
    daily, corrections = _daily(latest, preset.cumulative)
    regions = _region_table(region_map, population)
    cases = _finish_cases(daily, regions, lag_days)
    corrections = corrections.join(regions.select("source_region", "region"), on="source_region", how="left")
    problems = parsed.filter(pl.col("reason").is_not_null())
    rejected = pl.concat([f.select(list(REJECTED_SCHEMA)) for f in (problems, superseded)]).sort("line")
    unmapped = sorted(cases.filter(pl.col("region").is_null())["source_region"].unique().to_list())
    _log_summary(cases, corrections, rejected, unmapped)
    return CaseCountResult(
        cases=cases,
        corrections=corrections.select(pl.col(c).cast(t) for c, t in CORRECTIONS_SCHEMA.items()),
        rejected=rejected.select(pl.col(c).cast(t) for c, t in REJECTED_SCHEMA.items()),
        unmapped=unmapped,
    )


def _check_arguments(raw: pl.DataFrame, preset: CasePreset, population: Mapping[str, int], lag_days: int) -> None:
    wanted = [preset.region_column, preset.day_column, preset.count_column]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        found = [c for c in raw.columns if c != "line"]
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
        raise SignalError(f"case counts lack column(s) {', '.join(missing)} (the preset needs {', '.join(wanted)}); "
                          f"found: {shown or 'none'}; choose the preset matching the source or rename its columns")
    if lag_days < 0:
        raise SignalError(f"lag_days must be >= 0, got {lag_days}; pass the days between a count's day and its publication")
    bad = sorted(k for k, v in population.items() if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0)
    if bad:
        head = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise SignalError(f"population must be a positive number, but is not for region(s) {head}; fix the population table")


def _with_line(raw: pl.DataFrame) -> pl.DataFrame:
    """All data columns as strings, and a `line` (index + 2 when the frame has none)."""
    frame = raw if "line" in raw.columns else raw.with_row_index("line", offset=2)
    return frame.with_columns(pl.col("line").cast(pl.Int64), pl.exclude("line").cast(pl.String))


def _parse_rows(frame: pl.DataFrame, preset: CasePreset) -> pl.DataFrame:
    """Typed columns and a `reason` (null when the row is usable), plus each row's fields as JSON."""
    has_reported = REPORTED_COLUMN in frame.columns
    texts = frame.select(
        "line",
        raw=pl.struct(pl.exclude("line")).struct.json_encode(),
        region_text=pl.col(preset.region_column).str.strip_chars(),
        day_text=pl.col(preset.day_column).str.strip_chars(),
        count_text=pl.col(preset.count_column).str.strip_chars(),
        reported_text=pl.col(REPORTED_COLUMN).str.strip_chars() if has_reported else pl.lit(None, pl.String),
    )
    typed = texts.with_columns(
        source_region=pl.when(pl.col("region_text") != "").then(pl.col("region_text")),
        day=pl.col("day_text").str.to_date(preset.date_format, strict=False),
        count=pl.col("count_text").cast(pl.Float64, strict=False),
        reported=_parse_instant(pl.col("reported_text")),
    )
    count, count_text = pl.col("count"), pl.col("count_text")
    reported, reported_text = pl.col("reported"), pl.col("reported_text")
    day_start = pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    count_in = f"in column '{preset.count_column}'"
    in_range = f"outside {FIRST_DAY} to {LAST_DAY}"
    reason = (
        pl.when(pl.col("source_region").is_null()).then(pl.lit(f"empty region in column '{preset.region_column}'"))
        .when(pl.col("source_region").str.len_chars() > MAX_ID_CHARS).then(
            pl.lit(f"region in column '{preset.region_column}' is longer than {MAX_ID_CHARS} characters"))
        .when(pl.col("day").is_null()).then(pl.format(
            f"unparseable date '{{}}' in column '{preset.day_column}' (expected {preset.date_format})",
            _shown(pl.col("day_text"))))
        .when(~pl.col("day").is_between(FIRST_DAY, LAST_DAY)).then(pl.format(
            f"date '{{}}' in column '{preset.day_column}' is {in_range}", _shown(pl.col("day_text"))))
        .when(count_text.is_null() | (count_text == "")).then(pl.lit(f"missing count {count_in}"))
        .when(count.is_null()).then(pl.format(f"non-numeric count '{{}}' {count_in}", _shown(count_text)))
        .when(count.is_nan()).then(pl.lit(f"NaN count {count_in}"))
        .when(count.is_infinite()).then(pl.format(f"infinite count '{{}}' {count_in}", _shown(count_text)))
        .when(count < 0).then(pl.format(f"negative count {{}} {count_in}", _shown(count_text)))
        .when((reported_text != "") & reported.is_null()).then(
            pl.format(f"unparseable {REPORTED_COLUMN} '{{}}' (expected a date or datetime)", _shown(reported_text)))
        .when(~reported.dt.date().is_between(FIRST_DAY, LAST_DAY)).then(
            pl.format(f"{REPORTED_COLUMN} '{{}}' is {in_range}", _shown(reported_text)))
        .when(reported < day_start).then(
            pl.format(f"{REPORTED_COLUMN} '{{}}' is before the day it reports", _shown(reported_text)))
        .otherwise(pl.lit(None, pl.String))
    )
    return typed.with_columns(reason=reason)


def _shown(text: pl.Expr) -> pl.Expr:
    """A raw value as it may appear in a one-line reason: stripped, line breaks escaped, at most 40 chars."""
    stripped = text.fill_null("").str.strip_chars()
    one_line = stripped.str.replace_all("\r", "\\r", literal=True).str.replace_all("\n", "\\n", literal=True)
    return pl.when(one_line.str.len_chars() > 40).then(one_line.str.slice(0, 37) + "...").otherwise(one_line)


def _parse_instant(text: pl.Expr) -> pl.Expr:
    """A date or datetime string as a UTC instant: 'Z' and offsets honoured, naive times read as UTC."""
    normal = text.str.strip_chars().str.replace(r"[Zz]$", "+00:00").str.replace("T", " ", literal=True)
    attempts = [normal.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC") for f in _INSTANT_FORMATS]
    return pl.coalesce(attempts)


def _split_superseded(valid: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The last valid row by line of each (source_region, day), and the earlier ones as rejected rows."""
    keys = ["source_region", "day"]
    ordered = valid.sort("line").with_columns(
        is_last=pl.struct(keys).is_last_distinct(), kept_line=pl.col("line").max().over(keys)
    )
    superseded = ordered.filter(~pl.col("is_last")).with_columns(
        reason=pl.format("superseded by line {} (same region and day; the last row wins)", pl.col("kept_line"))
    )
    return ordered.filter(pl.col("is_last")).drop("is_last", "kept_line"), superseded


def _daily(latest: pl.DataFrame, cumulative: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New cases per source region and day, and the corrections of cumulative series."""
    ordered = latest.sort("source_region", "day")
    if not cumulative:
        daily = ordered.with_columns(new_cases=pl.col("count"), cumulative=pl.lit(None, pl.Float64))
        return daily, pl.DataFrame(schema={"source_region": pl.String, "day": pl.Date, "amount": pl.Float64})
    diffed = ordered.with_columns(
        step=pl.col("count").diff().over("source_region").fill_null(pl.col("count")), cumulative=pl.col("count")
    )
    corrections = diffed.filter(pl.col("step") < 0).select("source_region", "day", amount=pl.col("step"))
    for row in corrections.iter_rows(named=True):
        logger.info("case count correction: %s went down by %g on %s; that day's new cases are set to 0",
                       row["source_region"], -row["amount"], row["day"])
    return diffed.with_columns(new_cases=pl.col("step").clip(lower_bound=0.0)), corrections


def _region_table(region_map: Mapping[str, str], population: Mapping[str, int]) -> pl.DataFrame:
    """source_region -> region, population (null when unknown)."""
    mapping = pl.DataFrame({"source_region": list(region_map), "region": list(region_map.values())},
                           schema={"source_region": pl.String, "region": pl.String})
    people = pl.DataFrame({"region": list(population), "population": [float(v) for v in population.values()]},
                          schema={"region": pl.String, "population": pl.Float64})
    return mapping.join(people, on="region", how="left")


def _finish_cases(daily: pl.DataFrame, regions: pl.DataFrame, lag_days: int) -> pl.DataFrame:
    """Map regions, add per-100k and known_at, and select CASES_SCHEMA."""
    lagged = (pl.col("day").cast(pl.Datetime("us")) + pl.duration(days=lag_days)).dt.replace_time_zone("UTC")
    frame = daily.join(regions, on="source_region", how="left").with_columns(
        new_cases_per_100k=pl.col("new_cases") / pl.col("population") * 1e5,
        known_at=pl.coalesce(pl.col("reported"), lagged),
    )
    return frame.select(pl.col(c).cast(t) for c, t in CASES_SCHEMA.items()).sort("source_region", "day")


def _log_summary(cases: pl.DataFrame, corrections: pl.DataFrame, rejected: pl.DataFrame, unmapped: list[str]) -> None:
    if unmapped:
        logger.info("%d source region(s) have no service region (kept with region null): %s%s", len(unmapped),
                       ", ".join(unmapped[:10]), " ..." if len(unmapped) > 10 else "")
    if rejected.height:
        logger.info("rejected %d case count row(s); first at line %d: %s", rejected.height,
                       rejected["line"][0], rejected["reason"][0])
    logger.info("normalised %d case count row(s) for %d source region(s), %d correction(s)", cases.height,
                cases["source_region"].n_unique(), corrections.height)
