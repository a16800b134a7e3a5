"""`demand signals`: configure, pull and replay external signal sources."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from forecast.cli.common import cli_errors, emit_json, migrated_engine, stderr, stdout
from forecast.errors import InvalidInputError
from forecast.ingest.signal_config import SIGNAL_KINDS, SourceConfig, load_sources, parse_source, save_source
from forecast.ingest.signals import PullReport, pull_source, replay_source
from forecast.settings import get_settings
from forecast.storage.engine import session_scope
from signals.locations import literal_secrets, mask_location, mask_text

app = typer.Typer(help="External signals: case counts, livestreams, promotions, holidays, calendars.",
                  no_args_is_help=True)

CONFIG_OPTION = typer.Option(None, "--config", help="Signals TOML file (default: DEMAND_SIGNALS_CONFIG, signals.toml).")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")


def _config_path(path: Path | None) -> Path:
    return path or get_settings().signals_config


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, target = value.partition("=")
        if not sep or not key.strip() or not target.strip():
            raise InvalidInputError(f"--map {value!r} is not SOURCE=REGION, e.g. --map California=CA")
        pairs[key.strip()] = target.strip()
    return pairs


@app.command()
@cli_errors
def add(
    name: str = typer.Argument(..., help="Name of the source (letters, digits, _ . -)."),
    kind: str = typer.Option(..., help=f"One of: {', '.join(SIGNAL_KINDS)}."),
    location: str = typer.Option("", help="File path or http(s) URL (not for holidays); write a credential as "
                                 "${VAR}, read from the environment when pulling."),
    preset: str | None = typer.Option(None, help="cases: nyt, kr_ds4c, daily; calendar: m5, custom."),
    map_: list[str] = typer.Option([], "--map", help="SOURCE=REGION (holidays: REGION=CODE like CA=US-CA); repeatable."),
    lag_days: int = typer.Option(1, help="Reporting lag: a value about day D is known from D + lag."),
    lead_days: int = typer.Option(7, help="Promotions without announced_at are known this many days ahead."),
    years: list[int] = typer.Option([], "--year", help="holidays: a year to generate (repeatable)."),
    timeout: float = typer.Option(10.0, help="HTTP timeout in seconds."),
    retries: int = typer.Option(3, help="HTTP retries with backoff."),
    replace: bool = typer.Option(False, help="Replace a source of the same name."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Add a signal source to the signals config."""
    source = parse_source(name=name, kind=kind, location=location, preset=preset, region_map=_pairs(map_),
                          lag_days=lag_days, lead_days=lead_days, years=years, timeout=timeout, retries=retries)
    save_source(_config_path(config), source, replace=replace)
    stdout.print(f"added {source.kind} source {source.name!r} to {_config_path(config)}", highlight=False)
    if clear := literal_secrets(source.location):
        words = " and ".join(", ".join(f"{'an' if w[0] in 'aeiou' else 'a'} {w}" for w in clear).rsplit(", ", 1))
        stderr.print(f"warning: source {source.name!r} has {words} written in its location (stored in "
                     f"{_config_path(config)} as given); write them as ${{VAR}} and set VAR in the environment "
                     "instead", markup=False, highlight=False, soft_wrap=True)


@app.command("list")
@cli_errors
def list_(config: Path | None = CONFIG_OPTION, json_output: bool = JSON_OPTION) -> None:
    """List the configured signal sources."""
    sources = load_sources(_config_path(config))
    if json_output:
        emit_json([s.model_dump() | {"location": mask_location(s.location)} for s in sources.values()])
        return
    table = Table("name", "kind", "preset", "location", "lag", "region map")
    for s in sources.values():
        mapping = ", ".join(f"{k}→{v}" for k, v in list(s.region_map.items())[:4])
        table.add_row(s.name, s.kind, s.preset or "", mask_location(s.location), str(s.lag_days),
                      mapping + (" ..." if len(s.region_map) > 4 else ""))
    stdout.print(table if sources else f"no sources in {_config_path(config)}; add one with `demand signals add`")


def _selected(name: str | None, config: Path | None) -> list[SourceConfig]:
    sources = load_sources(_config_path(config))
    if name is None:
        if not sources:
            raise InvalidInputError(f"no sources in {_config_path(config)}; add one with `demand signals add`")
        return list(sources.values())
    if name not in sources:
        raise InvalidInputError(f"no source {name!r} in {_config_path(config)}; known: {', '.join(sources) or 'none'}")
    return [sources[name]]


def _print_report(report: PullReport) -> None:
    if report.status == "unchanged":
        stdout.print(f"{report.source}: unchanged ({report.notes[0]})", highlight=False)
        return
    stdout.print(f"{report.source} ({report.kind}): {report.rows_read:,} rows read, {report.versions_stored:,} "
                 f"versions stored, {report.versions_unchanged:,} unchanged, {report.rows_rejected:,} rejected "
                 f"(batch {report.batch_id}, payload {report.payload_id})", highlight=False)
    if report.rows_rejected:
        stdout.print(f"  rejected rows: `demand ingest rejected {report.batch_id}`", highlight=False)
    if report.unmapped:
        shown = ", ".join(report.unmapped[:10]) + (f" and {len(report.unmapped) - 10} more" if len(report.unmapped) > 10 else "")
        stdout.print(f"  unmapped regions (kept, region empty): {shown}", highlight=False)
    if report.corrections:
        total = sum(c["amount"] for c in report.corrections)
        stdout.print(f"  {len(report.corrections)} downward corrections of cumulative counts (total {total:,.0f}); "
                     "those days are stored as 0 (all listed with --json)", highlight=False)
        for c in [c for c in report.corrections if c["region"]][:20]:
            stdout.print(f"    {c['source_region']} ({c['region']}) {c['day']}: {c['amount']:,.0f}", highlight=False)
    for note in report.notes:
        stdout.print(f"  note: {note}", highlight=False)


def _run(action, name: str | None, config: Path | None, json_output: bool) -> None:
    engine = migrated_engine()
    reports, failed = [], []
    for source in _selected(name, config):
        try:
            with session_scope(engine) as session:
                result = action(source, session=session)
        except (InvalidInputError, ValueError) as exc:
            failed.append(mask_text(f"{source.name}: {exc}"))
            stderr.print(f"error: {failed[-1]}", markup=False, highlight=False, soft_wrap=True)
            continue
        for report in result if isinstance(result, list) else [result]:
            reports.append(report)
            if not json_output:
                _print_report(report)
    if json_output:
        emit_json({"reports": [r.to_dict() for r in reports], "failed": failed})
    if failed:
        raise typer.Exit(2)


@app.command()
@cli_errors
def pull(name: str | None = typer.Argument(None, help="Source to pull (default: all)."),
         config: Path | None = CONFIG_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Fetch sources and store new signal versions (each source in its own transaction)."""
    _run(pull_source, name, config, json_output)


@app.command()
@cli_errors
def replay(name: str | None = typer.Argument(None, help="Source to replay (default: all)."),
           config: Path | None = CONFIG_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Parse every stored raw payload again (after a parser fix or a new region map)."""
    _run(replay_source, name, config, json_output)
