"""Accuracy: backtest metrics by model, horizon step, category and region; two runs compared;
the tracked accuracy of what was published."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import data
from dashboard.widgets import table

st.title("Accuracy")
runs = data.backtest_runs()
if runs.is_empty():
    st.warning("No complete backtest yet: run `demand backtest run` (the scheduler runs one weekly).")
else:
    ids = runs["id"].to_list()
    cutoffs = dict(runs.select("id", "data_cutoff").iter_rows())
    run_id = st.selectbox("Backtest", ids, format_func=lambda i: f"#{i} (data to {cutoffs[i]})")
    summary = data.backtest_summary(run_id)
    st.subheader("By model (windows every model has)")
    table(summary, f"backtest_{run_id}")

    steps = data.backtest_by_step(run_id)
    metric = st.selectbox("Metric by horizon step",
                          [m for m in ("wape", "bias", "coverage_95", "rmsse") if m in steps.columns])
    st.plotly_chart(px.line(steps.to_pandas(), x="step", y=metric, color="model", markers=True), key="by_step")

    left, right = st.columns(2)
    with left:
        st.subheader("By category")
        table(data.backtest_by_group(run_id, "category"), f"backtest_{run_id}_by_category")
    with right:
        st.subheader("By region")
        table(data.backtest_by_group(run_id, "region"), f"backtest_{run_id}_by_region")

    if len(ids) > 1:
        st.subheader("Compare two backtests")
        other = st.selectbox("Against", [i for i in ids if i != run_id])
        both = summary.join(data.backtest_summary(other), on="model", how="full", suffix=f" #{other}", coalesce=True)
        table(both, f"backtest_{run_id}_vs_{other}")

st.subheader("Tracked accuracy of the published forecasts")
tracked = data.tracked_by("lag")
if tracked.is_empty():
    st.info("Nothing tracked yet: the accuracy job compares published forecasts with the actuals as they arrive.")
else:
    table(tracked, "tracked_by_lag")
    by = st.radio("Tracked accuracy by", ["model", "category", "region"], horizontal=True, key="tracked_by")
    table(data.tracked_by(by), f"tracked_by_{by}")
