"""Widgets several pages share."""

from __future__ import annotations

import re

import polars as pl
import streamlit as st

from dashboard.data import explorer as data
from dashboard.export import safe_csv

ALL = "(all)"
"""The choice of every category or every region in `group_picker`."""


def table(frame: pl.DataFrame, name: str, *, label: str = "Download CSV", **options: object) -> None:
    """`frame` as a table with its CSV download under it (formula cells escaped). Streamlit's own table
    export, which does not escape them, is switched off (`client.disableDataExport`, see app.py), so
    every table a page shows goes through here."""
    st.dataframe(frame, hide_index=True, **options)
    file_name = re.sub(r"[^\w.-]+", "_", name)
    st.download_button(label, safe_csv(frame), file_name=f"{file_name}.csv", mime="text/csv", key=f"csv_{name}",
                       on_click="ignore", icon=":material/download:", type="tertiary", disabled=frame.is_empty())


def _published_index() -> pl.DataFrame:
    """The published series; with none it says so and stops the page."""
    index = data.series_index()
    if index.is_empty():
        st.warning("No forecast is published yet.")
        st.stop()
    return index


def series_picker(*, key: str) -> dict:
    """Two searchable select boxes, SKU then region, kept in the URL (`?sku=…&region=…`); returns the
    chosen series' row (sku, region, names, category). Two short lists instead of one of every SKU x
    region keep the page light with 10,000 series."""
    index = _published_index()
    skus = index.select("sku", "sku_name").unique(maintain_order=True)
    names = dict(skus.iter_rows())
    params = st.query_params
    sku_ids = skus["sku"].to_list()
    sku = st.selectbox("SKU", sku_ids, index=sku_ids.index(params["sku"]) if params.get("sku") in names else 0,
                       format_func=lambda s: f"{s} · {names[s] or ''}", key=f"{key}_sku",
                       help="Type to search by SKU or name.")
    regions = index.filter(pl.col("sku") == sku)["region"].to_list()
    region = st.selectbox("Region", regions, key=f"{key}_region",
                          index=regions.index(params["region"]) if params.get("region") in regions else 0)
    st.query_params.update({"sku": sku, "region": region})
    return index.filter((pl.col("sku") == sku) & (pl.col("region") == region)).row(0, named=True)


def group_picker(*, key: str) -> tuple[str | None, str | None]:
    """Category and region select boxes, each with `ALL`; returns (category, region), None for all."""
    index = _published_index()
    categories = [ALL, *index["category"].drop_nulls().unique().sort().to_list()]
    regions = [ALL, *index["region"].unique().sort().to_list()]
    left, right = st.columns(2)
    category = left.selectbox("Category", categories, key=f"{key}_category")
    region = right.selectbox("Region", regions, key=f"{key}_region")
    return (None if category == ALL else category), (None if region == ALL else region)
