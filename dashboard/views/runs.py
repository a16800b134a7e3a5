"""Runs and jobs: forecast runs, backtest runs and the scheduler's job history."""

from __future__ import annotations

import streamlit as st

from dashboard.data import runs as data
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
only_open = st.toggle("Only open problems", key="failed_only", help="Failed, partial, aborted and abandoned runs "
                      "no later success of the same job has put right (for a sales pull: a later pull that took "
                      "new rows, none rejected), like `demand jobs --failed`.")
table(data.job_problems() if only_open else data.job_health(), "job_history")
