"""Explorer: one SKU x region's history, published forecast and bands, the model that made it and why;
or the totals of a category and/or region."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.data import explorer as data
from dashboard.charts import forecast_figure
from dashboard.queries import top_contributions
from dashboard.text import md
from dashboard.widgets import group_picker, series_picker, table
from forecast.pipeline.explain import signal_note

BANDS = {"day": st.column_config.DateColumn(format="YYYY-MM-DD"),
         **{c: st.column_config.NumberColumn(format="%.1f") for c in ("yhat", "lo80", "hi80", "lo95", "hi95")}}


def _series() -> None:
    row = series_picker(key="explorer_series")
    sku, region = row["sku"], row["region"]
    forecast = data.series_forecast(sku, region)
    history = data.series_history(sku, region)
    since = history["day"].min() if history.height else forecast["day"].min()
    signals = data.series_signals(sku, region, since)
    st.plotly_chart(forecast_figure(history, forecast, f"{sku} in {region}", signals), key="forecast_chart")
    run_id = int(forecast["run_id"][0])
    st.caption(f"Model: {md(', '.join(forecast['model'].unique().to_list()))} · run #{run_id} · "
               f"category {md(row['category'])} · promotions shaded orange")

    left, right = st.columns(2)
    with left:
        st.subheader("Why: signal contributions")
        contributions = data.series_contributions(run_id, sku, region)
        if contributions.is_empty():
            st.caption(signal_note(forecast["model"].mode().sort()[0]))
        else:
            days = contributions["day"].unique().sort().to_list()
            first, last = st.select_slider("Days", days, value=(days[0], days[-1]), key="contribution_days")
            chosen = contributions.filter(pl.col("day").is_between(first, last))
            table(top_contributions(chosen).head(8), f"contributions_{sku}_{region}",
                  column_config={"factor": st.column_config.NumberColumn(
                      help="exp(mean contribution): how much the feature scales the forecast on average")})
    with right:
        st.subheader("Backtest accuracy of this series")
        accuracy = data.series_backtest(sku, region)
        if accuracy.is_empty():
            st.caption("No backtest has scored this series yet.")
        else:
            table(accuracy.sort("wape"), f"backtest_{sku}_{region}")

    upcoming = signals["livestreams"].filter(pl.col("day") >= forecast["day"].min())
    if not upcoming.is_empty():
        st.caption("Livestreams in the horizon: " + "; ".join(
            f"{r['day']} {md(r['host'])} ({r['viewers']:,} viewers)" for r in upcoming.iter_rows(named=True)))
    table(forecast.select("sku", "region", "day", "yhat", "lo80", "hi80", "lo95", "hi95", "model"), f"forecast_{sku}_{region}",
          label="Download forecast CSV", column_config=BANDS)
    _change(sku, region)


def _change(sku: str, region: str) -> None:
    """Why this run's forecast differs from the run before (`demand forecast explain`)."""
    explanation = data.series_explanation(sku, region)
    with st.expander("Why is this forecast different from the last run's?", expanded=bool(explanation["reasons"])):
        st.markdown(f"**{md(explanation['headline'])}**")
        if explanation["previous_run"] is None:
            return
        if not explanation["reasons"]:
            st.caption("No new actuals, signal change, model switch or override found.")
        for reason in explanation["reasons"]:
            st.markdown(f"- **{md(reason['kind'])}**: {md(reason['what'])}")
        table(pl.DataFrame(explanation["daily"]), f"change_{sku}_{region}", column_config={
            "day": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "before": st.column_config.NumberColumn(f"run #{explanation['previous_run']}", format="%.1f"),
            "after": st.column_config.NumberColumn(f"run #{explanation['run']}", format="%.1f")})


def _totals() -> None:
    category, region = group_picker(key="explorer_group")
    forecast = data.group_forecast(category, region)
    if forecast.is_empty():
        st.warning("Nothing is published for this category and region.")
        return
    history = data.group_history(category, region)
    signals = None
    if region is not None:  # case counts are regional: one region's make sense on the chart
        since = history["day"].min() if history.height else forecast["day"].min()
        signals = {"cases": data.region_cases(region, since)}
    title = f"{category or 'All categories'} in {region or 'all regions'}"
    reconciled = data.group_reconciled(category, region)
    shown = forecast if reconciled.is_empty() else reconciled
    st.plotly_chart(forecast_figure(history, shown, title, signals), key="totals_chart")
    if reconciled.is_empty():
        st.caption(f"{forecast['series'].max():,} series summed. The bands are the sums of the series' bands: "
                   "the total's band if all of them erred together, so wider than the total's own.")
    else:
        own, summed = reconciled["base_yhat"].sum(), forecast["yhat"].sum()
        st.caption(f"Reconciled ({reconciled['method'][0]}, run #{reconciled['run_id'][0]}): the "
                   f"{forecast['series'].max():,} series' forecasts add up to this total ({summed:,.0f} units over "
                   f"the horizon). Before reconciling, this total's own forecast was {own:,.0f}. The bands are the "
                   "total's own, under a normal approximation.")
    table(shown.drop("run_id", "method", strict=False), f"forecast_{category or 'all'}_{region or 'all'}",
          label="Download totals CSV", column_config=BANDS)


st.title("Explorer")
totals = st.segmented_control("Show", ["One SKU × region", "Totals"], default="One SKU × region",
                              key="explorer_level") == "Totals"
if totals:
    _totals()
else:
    _series()
