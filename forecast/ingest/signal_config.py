"""Signal sources as configured in a TOML file (`demand signals add/list`).

```toml
[sources.nyt]
kind = "cases"                 # cases | livestreams | promotions | holidays | calendar
location = "../shared/data/nyt_covid_us_states_cumulative.csv"   # a path or an http(s) URL
preset = "nyt"                 # format preset of the kind (cases: nyt, kr_ds4c, daily; calendar: m5, custom)
encoding = "utf-8"             # text encoding of CSV/JSON files (e.g. "latin-1"); the default is UTF-8
lag_days = 1                   # reporting lag: a value about day D is known from D + lag_days
[sources.nyt.region_map]       # source region name -> service region id
California = "CA"
```
"""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forecast.errors import InvalidInputError

__all__ = ["SIGNAL_KINDS", "SourceConfig", "load_sources", "save_source"]

SignalKind = Literal["cases", "livestreams", "promotions", "holidays", "calendar"]
SIGNAL_KINDS: tuple[str, ...] = ("cases", "livestreams", "promotions", "holidays", "calendar")
PRESETS_BY_KIND = {"cases": ("nyt", "kr_ds4c", "daily"), "calendar": ("m5", "custom")}


class SourceConfig(BaseModel):
    """One configured signal source."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: SignalKind
    location: str = ""
    """Path or http(s) URL; not used by `holidays`, which come from the `holidays` package."""
    preset: str | None = None
    region_map: dict[str, str] = Field(default_factory=dict)
    """cases/calendar: source region name -> service region id. holidays: service region id -> code (US-CA)."""
    lag_days: int = Field(default=1, ge=0, le=365)
    lead_days: int = Field(default=7, ge=0, le=365)
    """promotions without announced_at are taken as known this many days before they start."""
    years: list[int] = Field(default_factory=list)
    """holidays: the years to generate (default: the years of the stored sales plus the next one)."""
    timeout: float = Field(default=10.0, gt=0, le=600)
    retries: int = Field(default=3, ge=0, le=10)
    encoding: str = "utf-8"
    """Text encoding of CSV and JSON payloads (a UTF-8 BOM is ignored)."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"encoding {value!r} is unknown; use e.g. utf-8, latin-1 or utf-16") from None
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None, info) -> str | None:
        kind = info.data.get("kind")
        allowed = PRESETS_BY_KIND.get(kind or "", ())
        if value is not None and value not in allowed:
            raise ValueError(f"preset {value!r} is not one of {', '.join(allowed) or 'none'} for kind {kind}")
        return value

    def check_complete(self) -> None:
        """Raise `InvalidInputError` when a field the kind needs is missing."""
        if self.kind != "holidays" and not self.location:
            raise InvalidInputError(f"source {self.name!r} ({self.kind}) has no location; give a file path or URL")
        if self.kind == "holidays" and not self.region_map:
            raise InvalidInputError(f"holiday source {self.name!r} needs a region map REGION=CODE, e.g. --map CA=US-CA")
        if self.kind in PRESETS_BY_KIND and self.preset is None:
            raise InvalidInputError(f"source {self.name!r} ({self.kind}) needs --preset, one of "
                                    f"{', '.join(PRESETS_BY_KIND[self.kind])}")


def _printable(text: str) -> str:
    """`text` with control characters escaped, so a message built from it stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _one_line(exc: ValidationError, where: str) -> InvalidInputError:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "value"
    return InvalidInputError(_printable(f"{where}: {field}: {first['msg']}; fix it in the signals config"))


def load_sources(path: Path) -> dict[str, SourceConfig]:
    """The sources configured in `path` (an empty dict when the file does not exist yet).

    Raises:
        InvalidInputError: the file is not UTF-8 TOML, or a source is not a table of valid fields.
    """
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                                "re-save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(_printable(f"{path}: not valid TOML ({exc}); fix the file")) from None
    tables = data.get("sources") or {}
    if not isinstance(tables, dict):
        raise InvalidInputError(f"{path}: 'sources' is not a table (got {type(tables).__name__}); write one "
                                "[sources.NAME] table per source")
    sources = {}
    for name, body in tables.items():
        where = _printable(f"{path} [sources.{name}]")
        if not isinstance(body, dict):
            raise InvalidInputError(f"{where}: is not a table (got {type(body).__name__}); write [sources.NAME] "
                                    "with its fields (kind = ...) on the lines below")
        if "name" in body:
            raise InvalidInputError(f"{where}: has a 'name' key; the name is the table's, remove that key")
        try:
            sources[name] = SourceConfig(name=name, **body)
        except ValidationError as exc:
            raise _one_line(exc, where) from None
    return sources


def save_source(path: Path, source: SourceConfig, *, replace: bool = False) -> None:
    """Add `source` to the TOML file at `path` (refusing to overwrite one of the same name unless `replace`)."""
    source.check_complete()
    sources = load_sources(path)
    if source.name in sources and not replace:
        raise InvalidInputError(f"a source named {source.name!r} exists in {path}; pick another name or pass --replace")
    sources[source.name] = source
    body = {name: s.model_dump(exclude={"name"}, exclude_none=True, exclude_defaults=True) for name, s in sources.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({"sources": body}), encoding="utf-8")


def parse_source(**fields) -> SourceConfig:
    """Build a `SourceConfig` from CLI fields, turning validation errors into one line."""
    try:
        return SourceConfig(**fields)
    except ValidationError as exc:
        raise _one_line(exc, f"source {fields.get('name')!r}") from None
