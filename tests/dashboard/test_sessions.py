"""dashboard.sessions: a tab's session is closed, and its files released, once its connection has been
gone for the grace period; a tab that comes back in time keeps its session."""

from __future__ import annotations

from dashboard import sessions


class FakeMedia:
    def __init__(self) -> None:
        self.released: list[str] = []
        self.passes = 0

    def clear_session_refs(self, session_id: str) -> None:
        self.released.append(session_id)

    def remove_orphaned_files(self) -> None:
        self.passes += 1


class FakeRuntime:
    def __init__(self, active: set[str]) -> None:
        self.active, self.closed, self.media_file_mgr = active, [], FakeMedia()

    def is_active_session(self, session_id: str) -> bool:
        return session_id in self.active

    def clear_user_info_for_session(self, session_id: str) -> None:
        self.closed.append(session_id)


def test_a_session_gone_for_the_grace_is_closed_and_one_back_in_time_is_kept(monkeypatch) -> None:
    monkeypatch.setattr(sessions, "_gone_since", {"closed-tab": None, "blip": None, "open": None})
    runtime = FakeRuntime(active={"open"})
    assert sessions.reap_once(runtime, grace=30, now=100.0) == []  # both first seen gone at 100
    runtime.active.add("blip")  # reconnected within the grace
    assert sessions.reap_once(runtime, grace=30, now=120.0) == []
    runtime.active.discard("blip")  # gone again at 125: its grace starts over
    assert sessions.reap_once(runtime, grace=30, now=125.0) == []
    assert sessions.reap_once(runtime, grace=30, now=130.0) == ["closed-tab"]
    assert runtime.closed == runtime.media_file_mgr.released == ["closed-tab"]
    assert sessions.reap_once(runtime, grace=30, now=155.0) == ["blip"]
    assert set(sessions._gone_since) == {"open"} and runtime.media_file_mgr.passes == 5
