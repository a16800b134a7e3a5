"""Overrides: a planner adjusts a forecast (units a day or a percentage, over a date range) with a
reason; the statistical and adjusted forecasts side by side; what overrides added to accuracy."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.data import overrides as data
from dashboard.auth import is_planner, planner_action
from dashboard.text import md
from dashboard.widgets import series_picker, table
from forecast.errors import InvalidInputError
from forecast.storage import override_repo
from forecast.storage.engine import session_scope

st.title("Overrides")
row = series_picker(key="override_series")
sku, region = row["sku"], row["region"]
adjusted = data.series_adjusted(sku, region)

fig = go.Figure([go.Scatter(x=adjusted["day"].to_list(), y=adjusted["yhat"].to_list(), name="statistical"),
                 go.Scatter(x=adjusted["day"].to_list(), y=adjusted["yhat_adjusted"].to_list(), name="adjusted")])
fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend={"orientation": "h"},
                  yaxis_title="units a day")
st.plotly_chart(fig, key="override_chart")
table(adjusted, f"adjusted_{sku}_{region}")

if is_planner():
    days = adjusted["day"]
    with st.form("override"):
        span = st.date_input("Days", (days.min(), days.max()), min_value=days.min(), max_value=days.max())
        kind = st.radio("Adjust by", ["percent", "value"], horizontal=True,
                        format_func={"percent": "percent of the forecast", "value": "units a day"}.get)
        amount = st.number_input("Amount", value=10.0, step=5.0)
        reason = st.text_input("Reason", placeholder="what you know that the model does not")
        saved = st.form_submit_button("Save override")
    if saved and planner_action():  # the role is read again at the save
        start, end = (span[0], span[-1]) if isinstance(span, tuple) and span else (span, span)
        try:
            with session_scope(data.engine()) as session:
                new_id = override_repo.add_override(session=session, sku=sku, region=region, start=start, end=end,
                                                    kind=kind, amount=float(amount), reason=reason,
                                                    user=st.session_state["user"]["name"])
        except InvalidInputError as exc:
            st.error(md(exc))
        else:
            st.success(f"Override {new_id} saved")
            st.rerun()
else:
    st.info("Viewers see overrides; making one needs the planner role.")

st.subheader("Overrides of this series")
overrides = data.series_overrides(sku, region)
table(overrides, f"overrides_{sku}_{region}")
if is_planner() and not overrides.is_empty():
    active = overrides.filter(overrides["active"])["id"].to_list()
    if active:
        withdrawn = st.selectbox("Withdraw an override", active, key="withdraw_id")
        if st.button("Withdraw") and planner_action():
            with session_scope(data.engine()) as session:
                override_repo.withdraw_override(session=session, override_id=withdrawn)
            st.rerun()

st.subheader("Forecast value added by overrides")
added = data.override_value_added()
if added.is_empty():
    st.info("No tracked day has an override yet: value added shows once actuals arrive for overridden days.")
else:
    table(added, "override_value_added")
