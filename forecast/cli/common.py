"""Shared pieces of the `demand` commands: error handling, output, progress bars, database access."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, OperationalError

from forecast.errors import DemandError, InvalidInputError, StorageError
from forecast.models.distributed import ENGINES, Execution
from forecast.settings import get_settings
from forecast.storage.engine import make_engine
from forecast.storage.migrate import current_revision, head_revision
from signals.errors import SignalError

__all__ = ["cli_errors", "emit_json", "stderr", "stdout", "progress_bar", "migrated_engine", "EXIT_BAD_INPUT",
           "ENGINE_OPTION", "DASK_ADDRESS_OPTION", "execution_options"]

logger = logging.getLogger(__name__)
EXIT_BAD_INPUT = 2
EXIT_STORAGE = 3
# Names are data (a SKU id may be `[/]` or `[red]x[/red]`): the consoles interpret no markup, emoji codes or
# highlighting, so every string, table cell and title prints as it is. The CLI styles nothing on purpose.
stdout = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
stderr = Console(stderr=True, markup=False, emoji=False, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])
ENGINE_OPTION = typer.Option("local", "--engine", help="Where the models run: `local` (this process) or `dask` "
                             "(statsforecast and XGBoost on a Dask cluster; needs --dask-address).")
DASK_ADDRESS_OPTION = typer.Option(None, "--dask-address", help="Dask scheduler for --engine dask, tcp://HOST:8786 "
                                   "(default DEMAND_DASK_ADDRESS); `local` starts a LocalCluster on this machine.")


def execution_options(engine: str, dask_address: str | None) -> tuple[Execution, str | None]:
    """The `--engine` and `--dask-address` options checked, the address defaulting to DEMAND_DASK_ADDRESS.

    Raises:
        InvalidInputError: an unknown engine, an address with the local engine, or `dask` without an address.
    """
    if engine not in ENGINES:
        raise InvalidInputError(f"--engine {engine!r} is unknown; use {' or '.join(ENGINES)}")
    if engine == "local":
        if dask_address:
            raise InvalidInputError("--dask-address is for --engine dask; add --engine dask or drop the address")
        return "local", None
    address = dask_address or get_settings().dask_address
    if not address:
        raise InvalidInputError("--engine dask needs --dask-address tcp://HOST:PORT (or DEMAND_DASK_ADDRESS), "
                                "or --dask-address local to start a cluster on this machine")
    return "dask", address


def _fail(message: str, code: int) -> typer.Exit:
    stderr.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


_DATABASE_STATES = (
    (("file is not a database", "database disk image is malformed", "malformed database schema"),
     "the database file {where} is damaged ({detail}); restore it from a backup, or move it away and run "
     "`demand db upgrade` to start an empty one"),
    (("disk is full", "no space left", "could not extend file"),
     "the database's disk is full ({detail}); nothing of this command was stored: free space, then run it again"),
    (("readonly database", "read-only transaction", "read-only file system"),
     "the database is read-only ({detail}); nothing was stored: make it writable (file permissions, mount, "
     "or default_transaction_read_only on PostgreSQL), then run it again"),
    (("terminating connection", "server closed the connection", "connection refused", "could not connect",
      "connection failed", "unable to open database file"),
     "the database is unreachable or dropped the connection ({detail}); nothing of this command was stored: "
     "check DEMAND_DATABASE_URL and the server, then run it again"),
)


def _configured_database() -> str:
    """The configured database for a message: a SQLite file's path, else the URL without its password."""
    url = make_url(get_settings().database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def database_problem(detail: str) -> str:
    """One line for a database error: a damaged SQLite file, disk full, read-only, unreachable, or else the
    driver's own first line."""
    lowered = detail.lower()
    for needles, message in _DATABASE_STATES:
        if any(n in lowered for n in needles):
            return message.format(detail=detail, where=_configured_database())
    return f"database error: {detail}; check DEMAND_DATABASE_URL and run `demand db upgrade`"


def cli_errors(func: F) -> F:
    """Turn the service's errors into one `error: ...` line on stderr and an exit code.

    Bad input exits 2; an unusable database exits 3.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InvalidInputError, SignalError) as exc:
            raise _fail(str(exc), EXIT_BAD_INPUT) from None
        except StorageError as exc:
            raise _fail(str(exc), EXIT_STORAGE) from None
        except DemandError as exc:
            raise _fail(str(exc), 1) from None
        except (IntegrityError, DataError) as exc:  # a row the code should have checked first: a bug
            raise _unexpected(exc) from None
        except DatabaseError as exc:  # the database itself: unreachable, damaged, full, read-only, not migrated
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
            raise _fail(database_problem(detail), EXIT_STORAGE) from None
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - a library's exception never reaches the user raw
            raise _unexpected(exc) from None

    return wrapper  # type: ignore[return-value]


def _unexpected(exc: Exception) -> typer.Exit:
    logger.debug("unexpected error", exc_info=True)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return _fail(f"unexpected {type(exc).__name__}: {first} (a bug; please report it)", 1)


def emit_json(payload: Any) -> None:
    """Print `payload` as JSON on stdout (for programs)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def migrated_engine() -> Engine:
    """The configured engine, after checking the schema is at the newest migration.

    Raises:
        StorageError: unreachable database or schema not at head.
    """
    engine = make_engine()
    where = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        detail = str(exc.orig).strip().splitlines()[0]
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        if path and Path(path).exists() and not os.access(Path(path).parent, os.W_OK):
            raise StorageError(database_problem(f"{detail}: {path} is on a read-only file system")) from None
        raise StorageError(f"cannot open database {where}: {detail}; check DEMAND_DATABASE_URL") from None
    head = head_revision()
    if current != head:
        raise StorageError(f"database {where} is at migration {current or 'none'}, code expects {head}; "
                           "run `demand db upgrade`")
    return engine


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields `update(stage, done, total)`."""
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr, transient=True, disable=not (enabled and stderr.is_terminal),
    )
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        yield update
