"""The login gate: no page renders before a user signs in; roles decide what a user may change.

A sign-in is a `dashboard_session` row on the server (`user_repo.start_session`); the browser's session
keeps only its token. Every rerun (`signed_in`) and every planner action (`planner_action`) reads that
row again, so a user whose role or password changed, who was disabled or removed, is signed out at
once with a plain message, and a session older than `dashboard_session_minutes` ends.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.text import md
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope

__all__ = ["is_planner", "planner_action", "require_login", "signed_in"]

ACCOUNT_CHANGED = "Your account changed; sign in again."
ENDED = {"expired": "Your sign-in expired; sign in again.", "signed out": "You signed out; sign in again."}
"""What the sign-in page says after a session ended, by `SessionEndedError.reason` (else ACCOUNT_CHANGED)."""


def signed_in() -> dict | None:
    """The signed-in user (name, role, token) after reading its session from the database, or None
    (the session ended: the sign-in page will say why); no output."""
    user = st.session_state.get("user")
    if not user:
        return None
    try:
        with session_scope(data.engine()) as session:
            live = user_repo.resume_session(session=session, token=user.get("token", ""),
                                            max_minutes=get_settings().dashboard_session_minutes)
    except user_repo.SessionEndedError as exc:
        st.session_state.pop("user", None)
        st.session_state["session_ended"] = ENDED.get(exc.reason, ACCOUNT_CHANGED)
        return None
    user["name"], user["role"] = live.username, live.role
    return user


def _sign_in(name: str, password: str) -> dict | None:
    """The new session's user when the password is right. The attempt is counted as a failure and
    committed before the password is checked, so parallel sign-ins cannot pass the limit, and the
    name's lock is not held through the check.

    Raises:
        LoginThrottledError: too many failures for this name.
    """
    settings = get_settings()
    with session_scope(data.engine()) as session:
        user_repo.reserve_sign_in(session=session, username=name, max_failures=settings.dashboard_login_max_failures,
                                  window_minutes=settings.dashboard_login_window_minutes)
    with session_scope(data.engine()) as session:
        role = user_repo.check_sign_in(session=session, username=name, password=password)
        if role is None:
            return None
        token = user_repo.start_session(session=session, username=name, role=role,
                                        max_minutes=settings.dashboard_session_minutes)
    return {"name": name, "role": role, "token": token}


def require_login(user: dict | None) -> dict:
    """`user` (from `signed_in`, this rerun) with its sidebar and sign-out; without one, the sign-in
    form, and the script stops."""
    if user is not None:
        st.sidebar.write(f"Signed in as **{md(user['name'])}** ({user['role']})")
        if st.sidebar.button("Sign out"):
            with session_scope(data.engine()) as session:
                user_repo.end_session(session=session, token=user["token"])
            st.session_state.pop("user", None)
            st.rerun()
        return user
    st.title("Sign in")
    ended = st.session_state.pop("session_ended", None)
    if ended:
        st.warning(ended)
    with st.form("login"):
        name = st.text_input("User")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            new = _sign_in(name, password)
        except user_repo.LoginThrottledError as exc:
            st.error(f"{str(exc).capitalize()}.")
            st.stop()
        if new is not None:
            st.session_state["user"] = new
            st.rerun()
        st.error("Unknown user or wrong password.")
    st.stop()


def is_planner() -> bool:
    """Whether the user signed in at this rerun's start has the planner role (for what a page shows;
    a change itself asks `planner_action`)."""
    user = st.session_state.get("user")
    return bool(user) and user["role"] == "planner"


def planner_action() -> bool:
    """Whether the user may make a planner change now: its session is read again from the database
    (a role changed while the page ran has ended it: the script reruns to the sign-in page, which says
    so), then its role is checked (False with an error shown)."""
    if signed_in() is None:
        st.rerun()
    if not is_planner():
        st.error("Saving needs the planner role.")
        return False
    return True
