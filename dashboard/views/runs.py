"""Runs and jobs: forecast runs, backtest runs and the scheduler's job history."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.widgets import table

st.title("Runs and jobs")
st.subheader("Forecast runs")
table(data.recent_runs(), "forecast_runs")

st.subheader("Backtest runs")
backtests = data.backtest_runs(complete_only=False)
if backtests.is_empty():
    st.caption("No backtest yet (`demand backtest run`; the scheduler runs one weekly).")
else:
    table(backtests, "backtest_runs")

st.subheader("Job history")
jobs = data.job_health()
if st.toggle("Only failed, aborted and abandoned", key="failed_only") and not jobs.is_empty():
    jobs = jobs.filter(pl.col("status").is_in(["failed", "aborted", "abandoned"]))
table(jobs, "job_history")
