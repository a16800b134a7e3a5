"""Explorer: one SKU x region's history, published forecast and bands, and the model that made it."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.charts import forecast_figure
from dashboard.export import safe_csv
from dashboard.widgets import series_picker

st.title("Explorer")
index = data.series_index()
if index.is_empty():
    st.warning("No forecast is published yet.")
    st.stop()

row = series_picker(index, key="explorer_series")
sku, region = row["sku"], row["region"]

forecast = data.series_forecast(sku, region)
history = data.series_history(sku, region)
st.plotly_chart(forecast_figure(history, forecast, f"{sku} in {region}"), key="forecast_chart")
models = forecast["model"].unique().to_list()
st.caption(f"Model: {', '.join(models)} · run #{forecast['run_id'][0]} · category {row['category']}")
st.dataframe(forecast.select("day", "yhat", "lo80", "hi80", "lo95", "hi95", "model"), hide_index=True,
             column_config={"day": st.column_config.DateColumn(format="YYYY-MM-DD"),
                            **{c: st.column_config.NumberColumn(format="%.1f")
                               for c in ("yhat", "lo80", "hi80", "lo95", "hi95")}})
st.download_button("Download CSV", safe_csv(forecast), file_name=f"forecast_{sku}_{region}.csv", mime="text/csv")
