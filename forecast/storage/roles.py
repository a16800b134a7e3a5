"""PostgreSQL roles for the warehouse systems that read the published forecast.

`grant_reader` makes (or updates) a role that may SELECT the published views and nothing else:
every privilege it had on the schema's tables, views and sequences is revoked first, then USAGE on
the schema and SELECT on `PUBLISHED_VIEWS` are granted. A view runs with its owner's rights, so
the role reads the published rows without any right on the tables under them; the views are
security barriers (migration 0014), so a function of the reader's in a `WHERE` clause only ever
sees published rows. The reader may create no object at all (TEMPORARY on the database and CREATE
on the schema are revoked from PUBLIC and from the role, and granted to the service's own role),
and it gets a
`statement_timeout` and a connection limit. Identifiers and the password are quoted by psycopg
(`sql.Identifier`, `sql.Literal`), never pasted into SQL text.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine

from forecast.errors import InvalidInputError

__all__ = ["PUBLISHED_VIEWS", "READER_CONNECTION_LIMIT", "READER_STATEMENT_TIMEOUT_SECONDS", "grant_reader"]

READER_STATEMENT_TIMEOUT_SECONDS = 60
READER_CONNECTION_LIMIT = 20
PUBLISHED_VIEWS = ("published_forecast", "published_forecast_adjusted", "published_total")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_reader(engine: Engine, role: str, *, password: str | None = None,
                 statement_timeout_seconds: int = READER_STATEMENT_TIMEOUT_SECONDS,
                 connection_limit: int = READER_CONNECTION_LIMIT) -> bool:
    """Create `role` (LOGIN with `password`, else NOLOGIN, to be granted to users) or update it, with
    SELECT on the published views only, no temporary objects, statements cut off after
    `statement_timeout_seconds` and at most `connection_limit` connections. Returns whether the role
    was new.

    Raises:
        InvalidInputError: not PostgreSQL, a role name that is not a plain lower-case identifier, an
            empty password, a timeout or limit below 1, or a role that is a superuser or owns the
            schema's objects.
    """
    from psycopg import sql

    if engine.dialect.name != "postgresql":
        raise InvalidInputError(f"grant-reader needs PostgreSQL (DEMAND_DATABASE_URL is {engine.dialect.name}); "
                                "SQLite has no roles: give readers a copy of the file or use file permissions")
    if not _ROLE_NAME.fullmatch(role):
        raise InvalidInputError(f"role name {role!r} is not a plain identifier: use lower-case letters, digits and _ "
                                "(at most 63, not starting with a digit)")
    if password is not None and not password.strip():
        raise InvalidInputError("the reader's password is empty; give a real one, or none for a NOLOGIN role")
    if statement_timeout_seconds < 1 or connection_limit < 1:
        raise InvalidInputError("the reader's statement timeout and connection limit must be at least 1")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("SELECT rolsuper, rolname = current_user FROM pg_roles WHERE rolname = %s", (role,))
            found = cur.fetchone()
            if found and (found[0] or found[1]):
                raise InvalidInputError(f"role {role!r} is a superuser or the service's own role; "
                                        "choose another name for the reader")
            login = (sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(password)) if password is not None
                     else sql.SQL("NOLOGIN"))
            verb = sql.SQL("ALTER ROLE" if found else "CREATE ROLE")
            name = sql.Identifier(role)
            cur.execute(sql.SQL("{} {} NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT {} {}").format(
                verb, name, sql.Literal(connection_limit), login))
            cur.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                name, sql.Literal(f"{statement_timeout_seconds}s")))
            cur.execute("SELECT current_schema(), current_database()")
            schema, database = (sql.Identifier(n) for n in cur.fetchone())
            cur.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(database))
            for grantee in (sql.SQL("PUBLIC"), name):
                cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(database, grantee))
            for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
                cur.execute(sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA {} FROM {}").format(sql.SQL(kind), schema, name))
            cur.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO CURRENT_USER").format(schema))
            for grantee in (sql.SQL("PUBLIC"), name):
                cur.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, grantee))
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, name))
            for view in PUBLISHED_VIEWS:
                cur.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(schema, sql.Identifier(view), name))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return found is None
