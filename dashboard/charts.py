"""Plotly figures of the pages."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from dashboard.text import plot_text

BAND = {95: "rgba(31,119,180,0.15)", 80: "rgba(31,119,180,0.30)"}


def forecast_figure(history: pl.DataFrame, forecast: pl.DataFrame, title: str,
                    signals: dict[str, pl.DataFrame] | None = None) -> go.Figure:
    """Sales history, the forecast with its 80% and 95% bands, and the signals around them:
    case counts on a second axis, livestream and holiday markers, promotion spans. `title` and the
    signals' names are plain text (escaped here for Plotly)."""
    fig = go.Figure()
    days = forecast["day"].to_list()
    for level, shade in BAND.items():
        band = forecast[f"hi{level}"].to_list() + forecast[f"lo{level}"].to_list()[::-1]
        fig.add_trace(go.Scatter(x=days + days[::-1], y=band, fill="toself", fillcolor=shade, line={"width": 0},
                                 name=f"{level}% band", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=history["day"].to_list(), y=history["units"].to_list(), name="sales",
                             line={"color": "#444"}))
    fig.add_trace(go.Scatter(x=days, y=forecast["yhat"].to_list(), name="forecast", line={"color": "#1f77b4"}))
    top = max([*history["units"].to_list(), *forecast["hi95"].to_list(), 1.0])
    if signals:
        _overlay(fig, signals, top)
    fig.update_layout(title=plot_text(title), margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=460,
                      legend={"orientation": "h"}, yaxis_title="units",
                      yaxis2={"title": "new cases per 100k", "overlaying": "y", "side": "right", "showgrid": False})
    return fig


def _overlay(fig: go.Figure, signals: dict[str, pl.DataFrame], top: float) -> None:
    """The signals given (any of cases, livestreams, holidays, promotions) on the figure."""
    none = pl.DataFrame()
    cases = signals.get("cases", none)
    if not cases.is_empty():
        fig.add_trace(go.Scatter(x=cases["day"].to_list(), y=cases["per100k"].to_list(), name="cases per 100k",
                                 yaxis="y2", line={"color": "#d62728", "width": 1, "dash": "dot"}))
    streams = signals.get("livestreams", none)
    if not streams.is_empty():
        fig.add_trace(go.Scatter(
            x=streams["day"].to_list(), y=[top * 1.05] * streams.height, mode="markers", name="livestream",
            marker={"symbol": "star", "size": 11, "color": "#9467bd"},
            text=[f"{plot_text(h)}, {v:,} viewers" for h, v in zip(streams["host"], streams["viewers"], strict=True)]))
    holidays = signals.get("holidays", none)
    if not holidays.is_empty():
        fig.add_trace(go.Scatter(x=holidays["day"].to_list(), y=[top * 1.1] * holidays.height, mode="markers",
                                 name="holiday / event", marker={"symbol": "diamond", "size": 8, "color": "#2ca02c"},
                                 text=[plot_text(n) for n in holidays["name"]]))
    for promo in signals.get("promotions", none).iter_rows(named=True):
        fig.add_vrect(x0=promo["start_day"], x1=promo["end_day"] + dt.timedelta(days=1), fillcolor="#ff7f0e",
                      opacity=0.12, line_width=0)


def totals_figure(totals: pl.DataFrame) -> go.Figure:
    """Total forecast units per day over the horizon against the same weekdays a year earlier."""
    fig = go.Figure([go.Bar(x=totals["day"].to_list(), y=totals["forecast"].to_list(), name="forecast",
                            marker_color="#1f77b4"),
                     go.Scatter(x=totals["day"].to_list(), y=totals["last_year"].to_list(),
                                name="same weekday last year", mode="lines+markers", line={"color": "#444"})])
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend={"orientation": "h"},
                      yaxis_title="units a day, all series")
    return fig
