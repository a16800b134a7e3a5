"""Service configuration: one pydantic-settings class read from `DEMAND_*` environment variables."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import ByteSize, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from forecast.errors import InvalidInputError

DEFAULT_SQLITE_PATH = Path("var") / "demand.db"
WEAK_SECRETS = frozenset({"", "postgres", "password", "secret", "changeme", "admin", "root", "test", "demo",
                          "demo-planner", "guest", "123456"})
"""Passwords refused outside development: empty, the services' defaults and this repo's demo ones."""

__all__ = ["SettingsError", "Settings", "WEAK_SECRETS", "get_settings", "load_settings", "normalise_database_url",
           "placeholder_environment"]

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A finite number of seconds or minutes above zero."""
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SECRET_BEARING = re.compile(r"url|password|secret", re.I)
"""Settings whose values are never repeated in an error (a URL may hold a password)."""


class SettingsError(InvalidInputError):
    """The environment's settings cannot be used (one line naming the setting, never a secret's value)."""


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

    environment: Literal["development", "production"] = "development"
    """`production` refuses empty and well-known passwords in the secrets below and the demo."""
    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"
    """SQLAlchemy URL; SQLite file by default, `postgresql://...` for production."""
    reader_password: SecretStr | None = None
    """Password `demand db grant-reader` gives the readers' role (asked for when unset)."""
    sql_echo: bool = False
    """Log every SQL statement (debugging only)."""
    log_level: str | None = None
    """Level of the service's own log lines on stderr (DEBUG, INFO, WARNING, ERROR, CRITICAL); unset, a
    command logs warnings and errors and `demand scheduler start` info lines too (`demand -v`: DEBUG)."""
    demo_dir: Path = Path("var") / "demo"
    """Where `demand demo generate` writes its scenario files."""
    signals_config: Path = Path("signals.toml")
    """TOML file listing the signal sources (`demand signals add/list/pull`)."""
    signal_max_bytes: ByteSize = Field(default=ByteSize(256 * 1024**2), gt=0)
    """Largest content a signal pull reads from one location (after gzip), e.g. `256MiB` or `1GB`; a bigger
    or endless one (a wrong path, /dev/zero, a stream) stops there with an error naming this setting."""

    # The scheduler (`demand scheduler start`). Schedules are cron expressions in UTC: five fields
    # (minute hour day month weekday), or six with seconds first. An empty schedule disables the job.
    schedule_sales_pull: str = "0 1 * * *"
    schedule_signals_pull: str = "15 1 * * *"
    schedule_forecast: str = "0 2 * * *"
    schedule_backtest: str = "0 4 * * sun"
    schedule_accuracy: str = "30 1 * * *"
    schedule_shocks: str = ""
    """Off by default: the forecast run checks every region first; set it to check at other times too."""
    sales_drop_dir: Path | None = None
    """Folder the sales pull ingests files from; each is moved to processed/ or failed/ beside them."""
    sales_preset: str | None = None
    """Column layout of the dropped sales files (`demand ingest sales --preset`)."""
    sales_absent_days: Literal["auto", "zero", "unknown"] = "auto"
    """What a day without a sales row means for the pulled files' series (`demand ingest sales --absent`)."""
    sales_sql_url: str | None = None
    """A source database the sales pull queries with `sales_sql_query` (canonical column names)."""
    sales_sql_query: str | None = None
    inactive_after_days: int = Field(default=56, ge=1)
    """A SKU x region without a sale for this many days is inactive: forecast zero, not modelled (the
    default's evidence: docs/forecasting.md)."""
    forecast_models: list[str] = ["auto"]
    forecast_horizon: int = Field(default=28, ge=1, le=3660)
    forecast_from_backtest: bool = True
    """The nightly run takes each series' best model from the newest backtest, once there is one."""
    forecast_reselect_days: int = Field(default=7, ge=0)
    """Without a backtest, a run keeps the model choices of a run with the same models whose holdout
    was at most this many days before, choosing again one slice of the series in this many each
    night, in turn; 0 chooses every time."""
    forecast_refit_days: int = Field(default=7, ge=0)
    """A run forecasts XGBoost, and AutoETS/AutoTheta per series, from the fits of runs with the same
    models made at most this many days before (the new days appended) instead of refitting; 0 refits
    every run."""
    forecast_reconcile: str = "auto"
    """Reconcile each run's SKU x region forecasts with the category, region and total levels:
    `auto` (the method the newest reconciled backtest scored best, else bottom_up), a method
    (bottom_up, mint_ols, mint_wls_struct) or `off`."""
    forecast_cold_start: bool = True
    """Forecast SKUs without sales that a livestream features in the horizon, and blend short
    histories (under 28 days), from similar SKUs' forecasts (forecast/pipeline/cold_start.py)."""
    forecast_shock_policy: bool = True
    """Each run checks every region for a regional shock first and widens the bands of flagged
    regions' series (with `shock_window_days`, also fits them on recent days only; forecast/pipeline/shock.py)."""
    shock_case_rise: Positive = 10.0
    """A region is triggered when its week's new cases per 100k exceed the previous week's by this much."""
    shock_breakout_share: float = Field(default=0.5, gt=0, le=1)
    """... or when this share of its series' last 7 days fell outside their 80% bands (5+ series)."""
    shock_hold_days: int = Field(default=14, ge=1)
    """A flag clears after this many days without a trigger."""
    shock_window_days: int = Field(default=0, ge=0)
    """Days of history a flagged region's models fit on instead of two or three years (short memory;
    at least 112 keeps XGBoost's intervals); 0, the default, keeps the normal memory."""
    shock_band_factor: float = Field(default=1.5, ge=1, allow_inf_nan=False)
    """A flagged region's band half-widths are multiplied by this."""
    n_jobs: int = 1
    """Worker processes for the model libraries in scheduled jobs."""
    dask_address: str | None = None
    """Dask scheduler for `--engine dask` when `--dask-address` is not given (`tcp://HOST:8786`, or `local`)."""
    dask_connect_timeout: Positive = 10.0
    """Seconds to wait for the Dask scheduler and its first worker before giving up."""
    backtest_windows: int = Field(default=3, ge=1, le=1000)
    backtest_horizon: int = Field(default=28, ge=1, le=3660)
    on_input_failure: Literal["run", "wait"] = "run"
    """When a pull the forecast reads failed: `run` on the last good data (and say so) or `wait`
    (retry later, as a failed job does)."""
    job_retries: int = Field(default=3, ge=0, le=100)
    """Retries of a failed job, `job_retry_backoff_seconds` x 2^(attempt-1) apart."""
    job_retry_backoff_seconds: NonNegative = 300.0
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    """A run missed by more than this (the scheduler was down) is skipped; coalesced otherwise."""
    dashboard_login_max_failures: int = Field(default=5, ge=1)
    """Wrong passwords for one user name within `dashboard_login_window_minutes` before it is refused."""
    dashboard_login_window_minutes: Positive = 15.0
    dashboard_session_minutes: Positive = 480.0
    """A dashboard login lasts this long; then the planner signs in again."""
    dashboard_disconnect_grace_seconds: Positive = 30.0
    """A browser tab's dashboard session, and the downloads it made, end this long after its connection
    dropped (the tab closed, or the network went away for longer than a blip)."""
    scheduler_lease_seconds: Positive = 30.0
    """How long the active scheduler's lock outlives its last renewal; a standby takes over after it."""

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("DEMAND_DATABASE_URL is empty; unset it for the SQLite default or give a URL")
        try:
            make_url(value.strip())
        except ArgumentError:
            raise ValueError("DEMAND_DATABASE_URL is not a database URL; give e.g. sqlite:///var/demand.db "
                             "or postgresql://user@host:5432/db") from None
        return normalise_database_url(value)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if value.strip().upper() not in _LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(_LOG_LEVELS)}")
        return value.strip().upper()

    @model_validator(mode="after")
    def _no_weak_secrets_in_production(self) -> Settings:
        if self.environment == "development":
            return self
        for name in ("database_url", "sales_sql_url"):
            problem = _weak_url_password(getattr(self, name))
            if problem:
                raise ValueError(f"DEMAND_{name.upper()}'s password is {problem}; outside development give the "
                                 "database a real password (DEMAND_ENVIRONMENT=development allows it)")
        if self.reader_password is not None and self.reader_password.get_secret_value() in WEAK_SECRETS:
            raise ValueError("DEMAND_READER_PASSWORD is empty or a well-known default; set a real one")
        return self


def _weak_url_password(url: str | None) -> str | None:
    """'empty' or 'a well-known default' for a server URL with such a password; None otherwise (or for SQLite)."""
    if not url or url.startswith("sqlite"):
        return None
    password = make_url(url).password or ""
    if not password:
        return "empty"
    return "a well-known default" if password in WEAK_SECRETS else None


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a bad `DEMAND_*` value into one line that names the variable (and
    shows the value, unless the setting may hold a secret).

    Raises:
        SettingsError: a variable (or `.env` entry) has a value of the wrong type or out of range, or a
            weak secret outside development.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = re.sub(r"^Value error, ", "", first["msg"])
        if not first["loc"]:  # a check of several settings together: its message names them
            raise SettingsError(_one_line(message)) from None
        field = str(first["loc"][0])
        value = repr(first.get("input"))
        shown = "" if _SECRET_BEARING.search(field) else f"={value if len(value) <= 60 else value[:57] + '...'}"
        message = message.removeprefix(f"DEMAND_{field.upper()} ")
        raise SettingsError(_one_line(f"DEMAND_{field.upper()}{shown}: {message}; "
                                      "fix the environment variable (or .env)")) from None
    except _SourceError as exc:
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"DEMAND_{field.group(1).upper()}" if field else "a DEMAND_ variable"
        raise SettingsError(f"{name} cannot be parsed; list settings take JSON, e.g. "
                            f'{name}=\'["auto"]\'') from None


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def placeholder_environment() -> dict[str, str]:
    """Where a `${NAME}` in a signal source's location is read at fetch time: the process environment,
    over the entries of the `.env` file the settings read (as for the `DEMAND_*` variables)."""
    env_file = Settings.model_config.get("env_file")
    from_file = dotenv_values(env_file) if isinstance(env_file, str) and Path(env_file).is_file() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once.

    Raises:
        SettingsError: see `load_settings`.
    """
    return load_settings()
