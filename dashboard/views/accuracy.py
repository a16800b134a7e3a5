"""Accuracy: backtest metrics by model, horizon step, category and region; each model's value added
over SeasonalNaive; two runs compared; the tracked accuracy of what was published and the value the
planners' overrides added."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard.data import accuracy as data
from dashboard.text import plot_text
from dashboard.widgets import table


def _value_added(frame: pl.DataFrame, key: str, *, empty: str, meaning: str) -> None:
    """A value-added table with what `value_added` means, or why there is none."""
    if frame.is_empty():
        st.caption(empty)
        return
    st.caption(f"value_added = {meaning}")
    table(frame, key)


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
    named = steps.with_columns(pl.col("model").map_elements(plot_text, return_dtype=pl.String))  # legend, hover
    st.plotly_chart(px.line(named.to_pandas(), x="step", y=metric, color="model", markers=True), key="by_step")

    left, right = st.columns(2)
    with left:
        st.subheader("By category")
        table(data.backtest_by_group(run_id, "category"), f"backtest_{run_id}_by_category")
    with right:
        st.subheader("By region")
        table(data.backtest_by_group(run_id, "region"), f"backtest_{run_id}_by_region")

    st.subheader("Forecast value added: each model against SeasonalNaive")
    model_by = st.radio("By", ["overall", "category", "region"], horizontal=True, key="model_value_added_by")
    _value_added(data.model_value_added(run_id, None if model_by == "overall" else model_by),
                 f"model_value_added_{run_id}_{model_by}",
                 empty="This backtest did not run SeasonalNaive, the step every model is measured against.",
                 meaning="SeasonalNaive's WAPE − the model's, on the same series, days and windows "
                         "(positive: the model beat repeating last week).")

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

st.subheader("Forecast value added: planners' overrides against the statistical forecast")
override_by = st.radio("By", ["planner", "reason", "category", "region"], horizontal=True, key="override_value_added_by")
_value_added(data.override_value_added((override_by,)), f"override_value_added_{override_by}",
             empty="No tracked day has an override yet: value added shows once actuals arrive for overridden days.",
             meaning="WAPE of the published statistical forecast − WAPE of the overridden one, per lag "
                     "(positive: the override helped).")
