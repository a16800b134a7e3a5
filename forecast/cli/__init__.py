"""The `demand` command line (typer)."""

from __future__ import annotations

from forecast.cli.main import app, main

__all__ = ["app", "main"]
