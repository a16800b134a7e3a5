"""The planners' dashboard: `streamlit run dashboard/app.py` (or `demand dashboard`). Routes with
`st.navigation` over the pages in views/."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import dashboard.charts  # noqa: F401 - Plotly is imported once per server, while the sign-in page shows
from dashboard import sessions
from dashboard.auth import require_login, signed_in

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="Demand forecasts", layout="wide")
# Streamlit's own table download writes cells like `=HYPERLINK(...)` as they are; every table has an
# escaped download of ours instead (dashboard.widgets.table).
st.set_option("client.disableDataExport", True)
pages = [
    st.Page(VIEWS / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(VIEWS / "explorer.py", title="Explorer", icon=":material/query_stats:"),
    st.Page(VIEWS / "accuracy.py", title="Accuracy", icon=":material/target:"),
    st.Page(VIEWS / "scenarios.py", title="Scenario planner", icon=":material/science:"),
    st.Page(VIEWS / "overrides.py", title="Overrides", icon=":material/edit:"),
    st.Page(VIEWS / "runs.py", title="Runs and jobs", icon=":material/history:"),
]
# The page is resolved from the URL before the sign-in, so a link to a page survives it; the menu
# stays hidden and nothing of the page runs until a user has signed in.
sessions.track()  # a tab closed without signing out: its session and downloads end soon after
user = signed_in()  # the session is read from the database on every rerun
page = st.navigation(pages, position="sidebar" if user else "hidden")
require_login(user)
page.run()
