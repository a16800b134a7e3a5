"""`demand dashboard`: serve the planners' Streamlit app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def dashboard(port: int = typer.Option(8501, help="Port on localhost to serve the app on."),
              address: str = typer.Option("127.0.0.1", help="Address to listen on.")) -> None:
    """Serve the dashboard (`streamlit run dashboard/app.py`) until Ctrl-C."""
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.port", str(port), "--server.address", address]
    raise typer.Exit(subprocess.call(command))
