"""Widgets several pages share."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data


def series_picker(*, key: str) -> dict:
    """Two searchable select boxes, SKU then region, kept in the URL (`?sku=…&region=…`); returns the
    chosen series' row (sku, region, names, category). Two short lists instead of one of every SKU x
    region keep the page light with 10,000 series. With no published series it says so and stops."""
    index = data.series_index()
    if index.is_empty():
        st.warning("No forecast is published yet.")
        st.stop()
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
