"""`demand demo`: the generated demo scenario."""

from __future__ import annotations

from pathlib import Path

import typer

from forecast.cli.common import cli_errors, emit_json, progress_bar, stdout
from forecast.settings import get_settings

app = typer.Typer(help="Generate the seeded demo scenario.", no_args_is_help=True)


@app.command()
@cli_errors
def generate(
    out: Path | None = typer.Option(None, help="Output folder (default: DEMAND_DEMO_DIR, var/demo)."),
    seed: int = typer.Option(7, help="Random seed; the same seed writes the same files."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write regions, SKUs, 3 years of daily sales and signal files with their ground truth."""
    from forecast.demo import generate_demo
    from forecast.demo.sources import write_demo_signals_config

    out_dir = out or get_settings().demo_dir
    with progress_bar(enabled=not json_output) as update:
        scenario = generate_demo(out_dir, seed=seed, progress=lambda stage: update(stage, 1, 1))
    summary = {**scenario.to_dict(), "signals_config": str(write_demo_signals_config(out_dir))}
    if json_output:
        emit_json(summary)
        return
    stdout.print(f"demo scenario in {out_dir}: {summary['n_skus']} SKUs x {summary['n_regions']} regions, "
                 f"{summary['n_sales_rows']:,} sales rows {summary['first_day']}..{summary['last_day']}, "
                 f"{summary['n_events']} livestream events, {summary['n_promotions']} promotions; signal sources in "
                 f"{summary['signals_config']}", highlight=False)
