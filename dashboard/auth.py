"""The login gate: no page renders before a user signs in; roles decide what a user may change."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data
from dashboard.text import md
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope

__all__ = ["is_planner", "require_login", "signed_in"]


def signed_in() -> dict | None:
    """The signed-in user (name, role, since), or None; no output."""
    user = st.session_state.get("user")
    if user and time.monotonic() - user["since"] < get_settings().dashboard_session_minutes * 60:
        return user
    st.session_state.pop("user", None)
    return None


def require_login() -> dict:
    """The signed-in user (name, role); otherwise show the sign-in form and stop the script."""
    user = signed_in()
    if user is not None:
        st.sidebar.write(f"Signed in as **{md(user['name'])}** ({user['role']})")
        if st.sidebar.button("Sign out"):
            st.session_state.pop("user", None)
            st.rerun()
        return user
    st.title("Sign in")
    with st.form("login"):
        name = st.text_input("User")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        settings = get_settings()
        try:
            with session_scope(data.engine()) as session:
                role = user_repo.authenticate(session=session, username=name, password=password,
                                              max_failures=settings.dashboard_login_max_failures,
                                              window_minutes=settings.dashboard_login_window_minutes)
        except user_repo.LoginThrottledError as exc:
            st.error(f"{str(exc).capitalize()}.")
            st.stop()
        if role is not None:
            st.session_state["user"] = {"name": name, "role": role, "since": time.monotonic()}
            st.rerun()
        st.error("Unknown user or wrong password.")
    st.stop()


def is_planner() -> bool:
    """Whether the signed-in user may save scenarios and overrides."""
    user = signed_in()
    return user is not None and user["role"] == "planner"
