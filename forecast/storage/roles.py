"""PostgreSQL roles for the warehouse systems that read the published forecast.

`grant_reader` makes (or updates) a role that may SELECT the published views and nothing else:
every privilege it had on the schema's tables, views and sequences is revoked first, then USAGE on
the schema and SELECT on `PUBLISHED_VIEWS` are granted. A view runs with its owner's rights, so
the role reads the published rows without any right on the tables under them. Identifiers and the
password are quoted by psycopg (`sql.Identifier`, `sql.Literal`), never pasted into SQL text.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine

from forecast.errors import InvalidInputError

__all__ = ["PUBLISHED_VIEWS", "grant_reader"]

PUBLISHED_VIEWS = ("published_forecast", "published_forecast_adjusted", "published_total")
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_reader(engine: Engine, role: str, *, password: str | None = None) -> bool:
    """Create `role` (LOGIN with `password`, else NOLOGIN, to be granted to users) or update it, with
    SELECT on the published views only. Returns whether the role was new.

    Raises:
        InvalidInputError: not PostgreSQL, a role name that is not a plain lower-case identifier, an
            empty password, or a role that is a superuser or owns the schema's objects.
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
            cur.execute(sql.SQL("{} {} NOSUPERUSER NOCREATEDB NOCREATEROLE {}").format(verb, name, login))
            cur.execute("SELECT current_schema()")
            schema = sql.Identifier(cur.fetchone()[0])
            for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
                cur.execute(sql.SQL("REVOKE ALL ON ALL {} IN SCHEMA {} FROM {}").format(sql.SQL(kind), schema, name))
            cur.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, name))
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
