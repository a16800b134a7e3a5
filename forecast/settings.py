"""Service configuration: one pydantic-settings class read from `DEMAND_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "demand.db"

__all__ = ["Settings", "get_settings", "normalise_database_url"]


def normalise_database_url(url: str) -> str:
    """Return `url` with PostgreSQL URLs pointed at the psycopg 3 driver.

    `postgres://`, `postgresql://` and `postgresql+psycopg2://` all become
    `postgresql+psycopg://`; any other URL is returned unchanged.
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Everything the service reads from its environment (prefix `DEMAND_`, or a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="DEMAND_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"
    """SQLAlchemy URL; SQLite file by default, `postgresql://...` for production."""
    sql_echo: bool = False
    """Log every SQL statement (debugging only)."""
    log_level: str = "INFO"
    """Level for the service's own log lines."""
    demo_dir: Path = Path("var") / "demo"
    """Where `demand demo generate` writes its scenario files."""
    signals_config: Path = Path("signals.toml")
    """TOML file listing the signal sources (`demand signals add/list/pull`)."""

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("DEMAND_DATABASE_URL is empty; unset it for the SQLite default or give a URL")
        return normalise_database_url(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
