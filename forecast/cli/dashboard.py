"""`demand dashboard`: serve the planners' Streamlit app."""

from __future__ import annotations

import subprocess

import typer


def dashboard(port: int = typer.Option(8501, help="Port on localhost to serve the app on."),
              address: str = typer.Option("127.0.0.1", help="Address to listen on.")) -> None:
    """Serve the dashboard (`streamlit run dashboard/app.py`) until Ctrl-C."""
    from dashboard.server import command

    raise typer.Exit(subprocess.call(command(port, address)))
