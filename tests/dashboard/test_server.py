"""The served dashboard: `demand dashboard` stops its Streamlit child on SIGTERM; the browser never sees a
traceback or a server path when a websocket client forges widget state; no client can upload files."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dashboard.server import command, free_port, wait_until_healthy

DEMAND = str(Path(sys.executable).parent / "demand")


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_demand_dashboard_stops_streamlit_too(db_url: str, tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "DEMAND_DATABASE_URL": db_url}
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        parent = subprocess.Popen([DEMAND, "dashboard", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    children: list[psutil.Process] = []
    try:
        assert wait_until_healthy(f"http://127.0.0.1:{port}", timeout=60), log.read_text()
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children, "`demand dashboard` serves through a Streamlit child process"
        parent.send_signal(sig)  # to the parent only, as a service manager or `kill` does
        code = parent.wait(timeout=20)
        deadline = time.monotonic() + 5
        while (_answers(port) or not all(_gone(c) for c in children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _answers(port), f"the port still answers after {sig.name} to `demand dashboard`"
        assert all(_gone(c) for c in children), "a Streamlit child outlived `demand dashboard`"
        assert code == 0, log.read_text()  # Streamlit's clean shutdown, passed on
    finally:
        for process in [*children, psutil.Process(parent.pid) if parent.poll() is None else None]:
            if process is not None and not _gone(process):
                process.kill()
        parent.wait(timeout=10)


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[int]:
    """The app served by `command()` (as `demand dashboard` serves it) on a free port."""
    port = free_port()
    env = {**os.environ, "DEMAND_DATABASE_URL": db_url}
    with (tmp_path / "streamlit.log").open("wb") as out:
        server = subprocess.Popen(command(port), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_until_healthy(f"http://127.0.0.1:{port}"), (tmp_path / "streamlit.log").read_text()
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _forged_rerun(port: int) -> list:
    """Sign-in page, then a rerun whose widget state is forged: the first text input's value set to broken
    JSON (a browser never sends that). Returns the exception elements the server sends back."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None) as ws:
        async def run(msg: BackMsg) -> tuple[list, list]:
            await ws.send(msg.SerializeToString())
            widgets, exceptions = [], []
            while True:
                forward = ForwardMsg()
                forward.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=30))
                if forward.WhichOneof("type") == "script_finished":
                    return widgets, exceptions
                if forward.WhichOneof("type") == "delta" and forward.delta.WhichOneof("type") == "new_element":
                    element = forward.delta.new_element
                    kind = element.WhichOneof("type")
                    if kind == "exception":
                        exceptions.append(element.exception)
                    elif kind == "text_input":
                        widgets.append(element.text_input.id)

        first = BackMsg()
        first.rerun_script.query_string = ""
        widgets, exceptions = await run(first)
        assert widgets and not exceptions, "the sign-in page shows its text inputs"
        forged = BackMsg()
        forged.rerun_script.query_string = ""
        state = forged.rerun_script.widget_states.widgets.add()
        state.id, state.json_value = widgets[0], '{"a":'
        return (await run(forged))[1]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_forged_widget_state_shows_no_traceback_type_or_server_path(served: int) -> None:
    exceptions = asyncio.run(_forged_rerun(served))
    assert len(exceptions) == 1, "the forged value still fails the run (Streamlit's behaviour), redacted"
    shown = exceptions[0]
    assert not shown.stack_trace and not shown.type, shown
    assert "/" not in shown.message and "line" not in shown.message and "redacted" in shown.message, shown


async def _upload(port: int) -> int:
    """The status of a 1 MB upload from a client that opened a session (no sign-in; the app has no uploader)."""
    import httpx
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http, websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None) as ws:
        await http.get("/_stcore/health")  # sets the XSRF cookie the browser would echo
        xsrf = http.cookies.get("_streamlit_xsrf")
        first = BackMsg()
        first.rerun_script.query_string = ""
        await ws.send(first.SerializeToString())
        session_id = ""
        while not session_id:
            forward = ForwardMsg()
            forward.ParseFromString(await asyncio.wait_for(ws.recv(), timeout=30))
            if forward.WhichOneof("type") == "new_session":
                session_id = forward.new_session.initialize.session_id
        response = await http.put(f"/_stcore/upload_file/{session_id}/forged-file-id",
                                  files={"file": ("big.bin", b"x" * 1_000_000)},
                                  headers={"X-Xsrftoken": xsrf or ""})
        return response.status_code


@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_client_can_upload_a_file_into_the_servers_memory(served: int) -> None:
    assert asyncio.run(_upload(served)) == 413
