"""`demand users add|list`: the dashboard's users (bcrypt-hashed passwords, roles viewer and planner)."""

from __future__ import annotations

import sys

import typer

from forecast.cli.common import cli_errors, emit_json, migrated_engine, stdout
from forecast.errors import InvalidInputError
from forecast.settings import WEAK_SECRETS, get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope

app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)


@app.command()
@cli_errors
def add(username: str = typer.Argument(..., help="Login name."),
        role: str = typer.Option("viewer", help="viewer (reads) or planner (may also save scenarios and overrides)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input "
                                            "instead of prompting.")) -> None:
    """Add a user, or set an existing one's password and role."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if get_settings().environment != "development" and password in WEAK_SECRETS:
        raise InvalidInputError("that password is a well-known default (the demo's, or a service's); "
                                "outside development choose another")
    with session_scope(migrated_engine()) as session:
        created = user_repo.set_user(session=session, username=username, password=password, role=role)
    stdout.print(f"user {username} ({role}) {'added' if created else 'updated'}", highlight=False)


@app.command("list")
@cli_errors
def list_(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every user and role (never a password or hash)."""
    with session_scope(migrated_engine()) as session:
        users = user_repo.list_users(session=session)
    if json_output:
        emit_json([{"username": u, "role": r} for u, r in users])
        return
    for username, role in users:
        stdout.print(f"{username}\t{role}", highlight=False)
