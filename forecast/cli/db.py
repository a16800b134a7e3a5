"""`demand db`: schema migrations and the readers' role."""

from __future__ import annotations

import typer

from forecast.cli.common import cli_errors, emit_json, stdout
from forecast.storage import migrate
from forecast.storage.engine import make_engine
from forecast.storage.roles import PUBLISHED_VIEWS, READER_CONNECTION_LIMIT, READER_STATEMENT_TIMEOUT_SECONDS
from forecast.storage.roles import grant_reader as grant

app = typer.Typer(help="Create and migrate the database schema (Alembic).", no_args_is_help=True)


@app.command()
@cli_errors
def upgrade(revision: str = typer.Argument("head", help="Target revision (default: newest).")) -> None:
    """Migrate the database up to REVISION."""
    migrate.upgrade(revision=revision)
    stdout.print(f"database at {migrate.current_revision()}")


@app.command()
@cli_errors
def downgrade(revision: str = typer.Argument(..., help="Target revision, or `base` to drop every table.")) -> None:
    """Migrate the database down to REVISION."""
    migrate.downgrade(revision)
    stdout.print(f"database at {migrate.current_revision() or 'base'}")


@app.command()
@cli_errors
def current(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the database's revision and whether it is up to date."""
    engine = make_engine()
    at, head = migrate.current_revision(engine), migrate.head_revision()
    url = engine.url.render_as_string(hide_password=True)
    if json_output:
        emit_json({"url": url, "current": at, "head": head, "up_to_date": at == head})
        return
    state = "up to date" if at == head else "behind: run `demand db upgrade`"
    stdout.print(f"{url}: {at or 'base (empty)'} (head {head}, {state})", highlight=False)


@app.command()
@cli_errors
def check(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check the database's consistency (orphan rows, incomplete published runs); exit 1 on a problem."""
    from forecast.cli.common import migrated_engine
    from forecast.storage.engine import session_scope
    from forecast.storage.integrity import check_integrity

    with session_scope(migrated_engine()) as session:
        report = check_integrity(session=session)
    if json_output:
        emit_json({"ok": report.ok, "problems": report.problems, "draft_runs": report.drafts})
    elif report.ok:
        stdout.print(f"ok: no orphan rows, every published run complete ({report.drafts} unfinished draft run(s), "
                     "never read)", highlight=False)
    else:
        for problem, rows in report.problems.items():
            stdout.print(f"problem: {problem}: {rows:,} row(s)", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("grant-reader")
@cli_errors
def grant_reader(
    role: str = typer.Argument(..., help="Role name (lower-case letters, digits, _)."),
    login: bool = typer.Option(True, help="A role that signs in (asks for its password, or reads "
                               "DEMAND_READER_PASSWORD); --no-login makes a group role to grant to users."),
    statement_timeout: int = typer.Option(READER_STATEMENT_TIMEOUT_SECONDS, "--statement-timeout", min=1,
                                          help="Seconds after which one of the role's statements is cancelled."),
    connection_limit: int = typer.Option(READER_CONNECTION_LIMIT, "--connection-limit", min=1,
                                         help="Most connections the role may hold at once."),
) -> None:
    """Create or update a PostgreSQL role that can SELECT only the published forecast views."""
    from forecast.settings import get_settings

    password = None
    if login:
        given = get_settings().reader_password
        password = given.get_secret_value() if given is not None else typer.prompt(
            f"password for {role}", hide_input=True, confirmation_prompt=True)
    created = grant(make_engine(), role, password=password, statement_timeout_seconds=statement_timeout,
                    connection_limit=connection_limit)
    stdout.print(f"role {role} {'created' if created else 'updated'}: SELECT on {', '.join(PUBLISHED_VIEWS)} only"
                 f"{'' if login else ' (NOLOGIN; GRANT it to users; the limits below bind this role, not its members)'}"
                 f"; no temporary objects, statements cancelled "
                 f"after {statement_timeout} s, at most {connection_limit} connections", highlight=False)
