"""Explorer: one SKU x region's history, published forecast and bands, and the model that made it."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.charts import forecast_figure
from dashboard.export import safe_csv
from dashboard.queries import top_contributions
from dashboard.widgets import series_picker

st.title("Explorer")

row = series_picker(key="explorer_series")
sku, region = row["sku"], row["region"]

forecast = data.series_forecast(sku, region)
history = data.series_history(sku, region)
since = history["day"].min() if history.height else forecast["day"].min()
signals = data.series_signals(sku, region, since)
st.plotly_chart(forecast_figure(history, forecast, f"{sku} in {region}", signals), key="forecast_chart")
models = forecast["model"].unique().to_list()
run_id = int(forecast["run_id"][0])
st.caption(f"Model: {', '.join(models)} · run #{run_id} · category {row['category']} · promotions shaded orange")

left, right = st.columns(2)
with left:
    st.subheader("Why: signal contributions")
    contributions = data.series_contributions(run_id, sku, region)
    if contributions.is_empty():
        st.caption("The model of this series reads no signals (only XGBoost stores contributions).")
    else:
        days = contributions["day"].unique().sort().to_list()
        first, last = st.select_slider("Days", days, value=(days[0], days[-1]), key="contribution_days")
        chosen = contributions.filter(pl.col("day").is_between(first, last))
        st.dataframe(top_contributions(chosen).head(8), hide_index=True,
                     column_config={"factor": st.column_config.NumberColumn(
                         help="exp(mean contribution): how much the feature scales the forecast on average")})
with right:
    st.subheader("Backtest accuracy of this series")
    accuracy = data.series_backtest(sku, region)
    if accuracy.is_empty():
        st.caption("No backtest has scored this series yet.")
    else:
        st.dataframe(accuracy.sort("wape"), hide_index=True)

upcoming = signals["livestreams"].filter(pl.col("day") >= forecast["day"].min())
if not upcoming.is_empty():
    st.caption("Livestreams in the horizon: " + "; ".join(
        f"{r['day']} {r['host']} ({r['viewers']:,} viewers)" for r in upcoming.iter_rows(named=True)))
st.dataframe(forecast.select("day", "yhat", "lo80", "hi80", "lo95", "hi95", "model"), hide_index=True,
             column_config={"day": st.column_config.DateColumn(format="YYYY-MM-DD"),
                            **{c: st.column_config.NumberColumn(format="%.1f")
                               for c in ("yhat", "lo80", "hi80", "lo95", "hi95")}})
st.download_button("Download CSV", safe_csv(forecast), file_name=f"forecast_{sku}_{region}.csv", mime="text/csv")
