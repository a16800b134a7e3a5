"""Scenario planner: a planned livestream or a case-count trajectory, the forecast with and without
it, and the extra units per region. Planners run (and so save) scenarios; everyone can reopen them."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard.data import scenarios as data
from dashboard.auth import is_planner, planner_action
from dashboard.export import safe_csv
from dashboard.text import md
from dashboard.widgets import table
from forecast.errors import InvalidInputError
from forecast.scenarios.plans import CasePlan, LivestreamPlan
from forecast.scenarios.run import run_scenario

st.title("Scenario planner")
choices = data.scenario_choices()
last_day = dt.date.fromisoformat(choices["last_day"][0]) if choices["last_day"][0] != "None" else dt.date.today()


def _plan_form() -> tuple[str, LivestreamPlan | CasePlan] | None:
    """The form; the plan when a planner submitted a valid one."""
    kind = st.radio("What if", ["a planned livestream", "case counts change"], horizontal=True)
    with st.form("scenario"):
        if kind == "a planned livestream":
            host = st.selectbox("Host", choices["hosts"] or ["new host"], accept_new_options=True)
            skus = st.multiselect("Featured SKUs", choices["skus"])
            regions = st.multiselect("Regions (none = all)", choices["regions"])
            day = st.date_input("Day", last_day + dt.timedelta(days=7), min_value=last_day + dt.timedelta(days=1))
            at = st.time_input("Start (UTC)", dt.time(19, 0))
            viewers = st.number_input("Expected viewers", min_value=0, value=50_000, step=1_000)
            discount = st.slider("Discount on air", 0.0, 0.8, 0.0, 0.05)
        else:
            trajectory = st.selectbox("Trajectory", ["rising", "falling"])
            rate = st.slider("Change per week", 0.05, 1.0, 0.3, 0.05)
            regions = st.multiselect("Regions (none = all)", choices["regions"])
        name = st.text_input("Name (optional)")
        submitted = st.form_submit_button("Run and save", disabled=not is_planner())
    if not is_planner():
        st.info("Viewers can open saved scenarios; running and saving one needs the planner role.")
    if not submitted:
        return None
    try:
        if kind == "a planned livestream":
            start = dt.datetime.combine(day, at, dt.timezone.utc).isoformat()
            return name, LivestreamPlan(host=host, start=start, skus=tuple(skus), regions=tuple(regions),
                                        expected_viewers=int(viewers), discount=discount)
        return name, CasePlan(trajectory=trajectory, weekly_rate=rate, regions=tuple(regions))
    except InvalidInputError as exc:
        st.error(md(exc))
        return None


def _show(scenario_id: int) -> None:
    values = data.scenario_values(scenario_id)
    if values.is_empty():
        st.warning("This scenario has no rows (it failed or is still running).")
        return
    by_day = values.group_by("day").agg(pl.col("baseline_yhat").sum(), pl.col("yhat").sum()).sort("day")
    total, base = by_day["yhat"].sum(), by_day["baseline_yhat"].sum()
    left, middle, right = st.columns(3)
    left.metric("Without", f"{base:,.0f} units")
    middle.metric("With", f"{total:,.0f} units")
    right.metric("Extra units", f"{total - base:+,.0f}", f"{(total / base - 1) * 100:+.1f}%" if base else None)
    fig = go.Figure([go.Scatter(x=by_day["day"].to_list(), y=by_day["baseline_yhat"].to_list(), name="without"),
                     go.Scatter(x=by_day["day"].to_list(), y=by_day["yhat"].to_list(), name="with")])
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 20, "b": 10}, yaxis_title="units a day",
                      legend={"orientation": "h"})
    st.plotly_chart(fig, key=f"scenario_{scenario_id}")
    regions = values.group_by("region_id").agg(pl.col("uplift").sum().alias("extra_units"),
                                               pl.col("baseline_yhat").sum().alias("without"),
                                               pl.col("yhat").sum().alias("with")).sort("region_id")
    table(regions, f"scenario_{scenario_id}_regions")
    st.download_button("Download every row CSV", safe_csv(values), file_name=f"scenario_{scenario_id}.csv",
                       mime="text/csv", key=f"csv_{scenario_id}", on_click="ignore", icon=":material/download:")


asked = _plan_form()
if asked is not None and planner_action():  # the role is read again before running
    name, plan = asked
    user = st.session_state["user"]["name"]
    with st.spinner("Forecasting with and without the plan..."):
        try:
            report = run_scenario(data.engine(), plan, name=name or None, created_by=user)
        except InvalidInputError as exc:
            st.error(md(exc))
            report = None
    if report is not None:
        st.session_state["scenario_id"] = report.scenario_id
        st.success(f"Scenario {report.scenario_id} saved: {md(report.name)} "
                   f"({report.series} series, {report.seconds:.0f} s)")

saved = data.saved_scenarios()
if saved.is_empty():
    st.info("No saved scenario yet.")
    st.stop()
st.subheader("Saved scenarios")
complete = saved.filter(pl.col("status") == "complete")
ids = complete["id"].to_list()
if ids:
    label = pl.format("#{} {} ({}, by {})", "id", "name", "kind", "created_by").alias("label")
    labels = dict(complete.select("id", label).iter_rows())
    current = st.session_state.get("scenario_id")
    picked = st.selectbox("Open", ids, index=ids.index(current) if current in ids else 0, format_func=labels.get)
    _show(picked)
table(saved, "saved_scenarios")
