"""The demo scenario's signal sources, written as a signals config next to its files."""

from __future__ import annotations

from pathlib import Path

from forecast.ingest.signal_config import SourceConfig, save_source

__all__ = ["write_demo_signals_config"]


def write_demo_signals_config(out_dir: Path) -> Path:
    """Write `out_dir/signals.toml` with the demo's case counts, livestreams and promotions; return its path."""
    folder = out_dir.resolve()
    config = out_dir / "signals.toml"
    sources = [
        SourceConfig(name="demo-cases", kind="cases", location=str(folder / "case_counts.csv"), preset="daily",
                     lag_days=1),
        SourceConfig(name="demo-livestreams", kind="livestreams", location=str(folder / "livestreams.csv")),
        SourceConfig(name="demo-promotions", kind="promotions", location=str(folder / "promotions.csv"), lead_days=14),
    ]
    for source in sources:
        save_source(config, source, replace=True)
    return config
