"""`demand users add|list|disable|enable|remove`: the dashboard's users (bcrypt-hashed passwords, roles
viewer and planner). Changing a user's password or role, disabling or removing it ends its dashboard
sessions: their next rerun or planner action shows the sign-in page."""

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
    """Add a user, or set an existing one's password and role (which signs its dashboard sessions out)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if get_settings().environment != "development" and password in WEAK_SECRETS:
        raise InvalidInputError("that password is a well-known default (the demo's, or a service's); "
                                "outside development choose another")
    with session_scope(migrated_engine()) as session:
        created = user_repo.set_user(session=session, username=username, password=password, role=role)
    done = "added" if created else "updated; its dashboard sessions are signed out"
    stdout.print(f"user {username} ({role}) {done}", highlight=False, markup=False)


@app.command("list")
@cli_errors
def list_(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every user, role and whether it is disabled (never a password or hash)."""
    with session_scope(migrated_engine()) as session:
        users = user_repo.list_users(session=session)
    if json_output:
        emit_json([u._asdict() for u in users])
        return
    for user in users:
        stdout.print(f"{user.username}\t{user.role}" + ("\tdisabled" if user.disabled else ""), highlight=False,
                     markup=False)


@app.command()
@cli_errors
def disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Stop a user signing in and end its dashboard sessions (`users enable` undoes it)."""
    with session_scope(migrated_engine()) as session:
        changed = user_repo.set_disabled(session=session, username=username, disabled=True)
    done = "disabled; its dashboard sessions are signed out" if changed else "was already disabled"
    stdout.print(f"user {username} {done}", highlight=False, markup=False)


@app.command()
@cli_errors
def enable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Let a disabled user sign in again."""
    with session_scope(migrated_engine()) as session:
        changed = user_repo.set_disabled(session=session, username=username, disabled=False)
    stdout.print(f"user {username} {'enabled' if changed else 'was not disabled'}", highlight=False, markup=False)


@app.command()
@cli_errors
def remove(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Delete a user and end its dashboard sessions (overrides and scenarios it made keep its name)."""
    with session_scope(migrated_engine()) as session:
        user_repo.remove_user(session=session, username=username)
    stdout.print(f"user {username} removed; its dashboard sessions are signed out", highlight=False, markup=False)
