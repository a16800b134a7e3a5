"""Widgets several pages share."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data


def series_picker(*, key: str) -> dict:
    """A searchable SKU x region select box kept in the URL (`?sku=…&region=…`); returns the chosen row
    (sku, region, names, category). With no published series it says so and stops the page."""
    index = data.series_index()
    if index.is_empty():
        st.warning("No forecast is published yet.")
        st.stop()
    labels = index.select(pl.format("{} · {} — {}", "sku", pl.col("sku_name").fill_null(""),
                                    pl.col("region")).alias("label"))["label"].to_list()
    params = st.query_params
    start = next((i for i, row in enumerate(index.iter_rows(named=True))
                  if row["sku"] == params.get("sku") and row["region"] == params.get("region")), 0)
    choice = st.selectbox("SKU × region", labels, index=start, key=key, help="Type to search by SKU, name or region.")
    row = index.row(labels.index(choice), named=True)
    st.query_params.update({"sku": row["sku"], "region": row["region"]})
    return row
