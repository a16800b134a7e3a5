"""The canonical sales columns and mappings (presets) from other file layouts onto them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from forecast.errors import InvalidInputError
from forecast.ingest.readers import LINE_COLUMN

__all__ = [
    "CANONICAL_COLUMNS",
    "KEY_COLUMNS",
    "ColumnMapping",
    "PRESETS",
    "resolve_mapping",
]

CANONICAL_COLUMNS: dict[str, str] = {
    "sku": "SKU id (required)",
    "region": "region id, e.g. a store (required)",
    "day": "calendar day, ISO YYYY-MM-DD unless --date-format says otherwise (required)",
    "units": "units sold that day, a non-negative number (required)",
    "price": "unit selling price, non-negative (optional, empty = unknown)",
    "on_promo": "1/0, true/false or yes/no (optional, default 0)",
    "category": "SKU category (optional)",
    "sku_name": "display name of the SKU (optional)",
    "region_name": "display name of the region (optional)",
    "region_parent": "id of the parent region, e.g. a state (optional)",
}
KEY_COLUMNS = ("sku", "region", "day", "units")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class ColumnMapping:
    """How a file's columns map onto the canonical ones.

    Attributes:
        columns: canonical name -> column in the file; canonical names not listed map to themselves.
        attributes: SKU attribute name -> column in the file (stored in `sku.attributes`).
        date_format: strftime format of the `day` column.
        constants: canonical name -> one value for every row, for a file without that column
            (e.g. the region of a single-store or online-shop export).
    """

    columns: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    date_format: str = DEFAULT_DATE_FORMAT
    constants: dict[str, str] = field(default_factory=dict)

    def source_of(self, canonical: str) -> str:
        """The file column that feeds `canonical` (`=NAME` for a constant)."""
        return f"={canonical}" if canonical in self.constants else self.columns.get(canonical, canonical)

    def to_json(self) -> str:
        """Canonical JSON, stored with each batch (same content under another mapping = new batch)."""
        options = {"columns": self.columns, "attributes": self.attributes, "date_format": self.date_format}
        return json.dumps(options | ({"constants": self.constants} if self.constants else {}), sort_keys=True)

    def apply(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Select and rename `raw`'s columns to the canonical set, plus `attr.*` columns.

        Raises:
            InvalidInputError: a key column (or a mapped optional column) is missing.
        """
        raw = raw.with_columns(pl.lit(value, dtype=pl.String).alias(f"={name}") for name, value in self.constants.items())
        columns = [c for c in raw.columns if c != LINE_COLUMN]
        present = set(columns)
        missing = [f"{c} (from column '{self.source_of(c)}')" if c in self.columns else c
                   for c in KEY_COLUMNS if self.source_of(c) not in present]
        missing += [f"{c} (from column '{src}')" for c, src in self.columns.items()
                    if c not in KEY_COLUMNS and src not in present]
        missing += [f"attribute {a} (from column '{src}')" for a, src in self.attributes.items()
                    if src not in present]
        if missing:
            raise InvalidInputError(
                f"missing column(s): {', '.join(missing)}; the file has {_short_list(columns)}; "
                "rename them or pass --mapping CANONICAL=COLUMN (or --preset)"
            )
        selected = [pl.col(self.source_of(c)).alias(c) for c in CANONICAL_COLUMNS if self.source_of(c) in present]
        selected += [pl.col(src).alias(f"attr.{a}") for a, src in self.attributes.items()]
        return raw.select(selected)


def _short_list(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"


PRESETS: dict[str, ColumnMapping] = {
    "m5": ColumnMapping(
        columns={
            "sku": "item_id",
            "region": "store_id",
            "region_parent": "state_id",
            "day": "date",
            "units": "value",
            "price": "sell_price",
            "category": "cat_id",
        },
        attributes={"dept": "dept_id"},
    ),
}
"""Named layouts. `m5`: the M5 long format of ../shared/data/m5_tiny_sales_prices_140series.csv.gz."""


def resolve_mapping(
    preset: str | None = None, pairs: list[str] | None = None, date_format: str | None = None,
    region: str | None = None,
) -> ColumnMapping:
    """Build a mapping from a preset name and/or `CANONICAL=COLUMN` pairs (`attr.NAME=COLUMN` for attributes).

    `region` is the region of every row, for files without a region column.

    Raises:
        InvalidInputError: unknown preset, malformed pair or unknown canonical name.
    """
    if preset is not None and preset not in PRESETS:
        raise InvalidInputError(f"unknown preset {preset!r}; choose one of: {', '.join(sorted(PRESETS))}")
    base = PRESETS[preset] if preset else ColumnMapping()
    columns, attributes = dict(base.columns), dict(base.attributes)
    for pair in pairs or []:
        target, sep, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise InvalidInputError(f"--mapping {pair!r} is not CANONICAL=COLUMN, e.g. --mapping sku=item_id")
        if target.startswith("attr."):
            attributes[target.removeprefix("attr.")] = source
        elif target in CANONICAL_COLUMNS:
            columns[target] = source
        else:
            raise InvalidInputError(
                f"--mapping {pair!r}: {target!r} is not a canonical column; use one of "
                f"{', '.join(CANONICAL_COLUMNS)} or attr.NAME"
            )
    constants = {"region": region.strip()} if region and region.strip() else {}
    return ColumnMapping(columns=columns, attributes=attributes, date_format=date_format or base.date_format,
                         constants=constants)
