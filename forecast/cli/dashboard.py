"""`demand dashboard`: serve the planners' Streamlit app."""

from __future__ import annotations

import signal
import subprocess
import time
from types import FrameType

import typer

STOP_GRACE_SECONDS = 10.0
"""How long Streamlit may take to stop after a forwarded signal before it is killed."""
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def dashboard(port: int = typer.Option(8501, help="Port on localhost to serve the app on."),
              address: str = typer.Option("127.0.0.1", help="Address to listen on.")) -> None:
    """Serve the dashboard (`streamlit run dashboard/app.py`) until Ctrl-C or SIGTERM."""
    from dashboard.server import command

    raise typer.Exit(serve(command(port, address)))


def serve(argv: list[str]) -> int:
    """Run `argv` (the Streamlit server) as a child until it exits; SIGTERM, SIGINT and SIGHUP are passed
    on to it, and a child still running `STOP_GRACE_SECONDS` later is killed. Never leaves it running.

    Returns:
        The child's exit code, or 128 + the signal that ended it (the shell's convention).
    """
    child = subprocess.Popen(argv)
    deadline: list[float] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)
        deadline.append(time.monotonic() + STOP_GRACE_SECONDS)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                return code if code >= 0 else 128 - code
            except subprocess.TimeoutExpired:
                if deadline and time.monotonic() > deadline[0]:
                    child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
