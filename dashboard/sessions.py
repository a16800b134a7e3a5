"""Browser tabs that closed without signing out: their Streamlit sessions end on the server, and the
download files they made go with them.

Streamlit keeps a disconnected session so a tab that lost its connection for a moment can resume it
(`server.disconnectedSessionTTL`), but when that time is up it only stops offering the session for
resumption: it never shuts it down, so the session's files (`st.download_button` data, served at
`/media/<id>.csv` to anyone with the URL) stay until the server stops. A thread, one per server,
watches the sessions the app ran in: a session whose connection has been gone for
`dashboard_disconnect_grace_seconds` is closed through Streamlit's runtime and its file references
dropped; each pass then removes files no session refers to (Streamlit deletes a download file on the
second pass that finds it unreferenced), so its URLs answer 404 within the grace and two passes.
"""

from __future__ import annotations

import logging
import threading
import time

from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from forecast.settings import get_settings

__all__ = ["PASS_SECONDS", "reap_once", "track"]

logger = logging.getLogger(__name__)
PASS_SECONDS = 1.0
_lock = threading.Lock()
_gone_since: dict[str, float | None] = {}
"""Session id -> when it was first seen without a connection (monotonic), None while connected."""
_reaper: threading.Thread | None = None


def _runtime() -> Runtime | None:
    """The server's runtime; None without a server (a script run bare, or AppTest's stand-in)."""
    if not Runtime.exists():
        return None
    runtime = Runtime.instance()
    return runtime if type(runtime) is Runtime else None


def track() -> None:
    """Watch this rerun's session, and start the watching thread once per server."""
    global _reaper
    ctx = get_script_run_ctx()
    if ctx is None or _runtime() is None:
        return
    with _lock:
        _gone_since[ctx.session_id] = None
        if _reaper is None or not _reaper.is_alive():
            grace = get_settings().dashboard_disconnect_grace_seconds
            _reaper = threading.Thread(target=_reap_forever, args=(grace,), name="dashboard-session-reaper",
                                       daemon=True)
            _reaper.start()


def reap_once(runtime: Runtime, grace: float, now: float) -> list[str]:
    """One pass: close the sessions disconnected for `grace` seconds, then remove unreferenced files;
    the ids closed."""
    due = []
    with _lock:
        for session_id, since in list(_gone_since.items()):
            if runtime.is_active_session(session_id):
                _gone_since[session_id] = None
            elif since is None:
                _gone_since[session_id] = now
            elif now - since >= grace:
                del _gone_since[session_id]
                due.append(session_id)
    for session_id in due:
        if runtime.is_active_session(session_id):  # it came back at the last moment
            continue
        # Marks the session not resumable at once, and shuts it down on the server's event loop.
        runtime.clear_user_info_for_session(session_id)
        # Its file references go now, even when Streamlit already forgot the stored session (after
        # server.disconnectedSessionTTL, shutting it down no longer reaches its files).
        runtime.media_file_mgr.clear_session_refs(session_id)
        logger.info("dashboard session %s closed: its tab has been gone for %.0f s", session_id, grace)
    runtime.media_file_mgr.remove_orphaned_files()
    return due


def _reap_forever(grace: float) -> None:
    while True:
        time.sleep(PASS_SECONDS)
        runtime = _runtime()
        if runtime is None:
            continue
        try:
            reap_once(runtime, grace, time.monotonic())
        except Exception:  # noqa: BLE001 - the watcher must outlive one bad pass; the next one retries
            logger.warning("closing disconnected dashboard sessions failed", exc_info=True)
