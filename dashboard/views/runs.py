"""Runs and jobs: forecast runs and the scheduler's job history."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.export import safe_csv

st.title("Runs and jobs")
st.subheader("Forecast runs")
runs = data.recent_runs()
st.dataframe(runs, hide_index=True)

st.subheader("Job history")
jobs = data.job_health()
if st.toggle("Only failed, aborted and abandoned", key="failed_only") and not jobs.is_empty():
    jobs = jobs.filter(pl.col("status").is_in(["failed", "aborted", "abandoned"]))
st.dataframe(jobs, hide_index=True)
st.download_button("Download CSV", safe_csv(jobs), file_name="job_history.csv", mime="text/csv",
                   disabled=jobs.is_empty())
