"""Plotly figures of the pages."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl


def forecast_figure(history: pl.DataFrame, forecast: pl.DataFrame, title: str) -> go.Figure:
    """Sales history, the forecast and its 80% and 95% bands."""
    fig = go.Figure()
    days = forecast["day"].to_list()
    for level, shade in ((95, "rgba(31,119,180,0.15)"), (80, "rgba(31,119,180,0.30)")):
        band = forecast[f"hi{level}"].to_list() + forecast[f"lo{level}"].to_list()[::-1]
        fig.add_trace(go.Scatter(x=days + days[::-1], y=band,
                                 fill="toself", fillcolor=shade, line={"width": 0}, name=f"{level}% band",
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=history["day"].to_list(), y=history["units"].to_list(), name="sales",
                             line={"color": "#444"}))
    fig.add_trace(go.Scatter(x=days, y=forecast["yhat"].to_list(), name="forecast", line={"color": "#1f77b4"}))
    fig.update_layout(title=title, margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=420,
                      legend={"orientation": "h"}, yaxis_title="units")
    return fig
