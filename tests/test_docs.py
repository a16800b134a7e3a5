"""The documentation stays true (README.md, docs/*.md, benchmarks/README.md). Fast, no database.

- every relative link resolves: the file exists and an `#anchor` is a heading of it (GitHub's slugs);
- every `demand ...` command shown (code blocks and inline code, `.venv/bin/demand` too) exists: its
  sub-command path's `--help` exits 0;
- every repository path named in inline code exists;
- docs/configuration.md lists every setting of `forecast.settings.Settings` with its default, and the
  docs name no `DEMAND_*` setting that does not exist;
- docs/signals.md's feature table is `signals.features.FEATURE_DOCS`; docs/storage.md names every table.

Each checker is also run on a planted mistake, so a checker that stops finding anything fails too.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import ByteSize
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from forecast.cli.main import app
from forecast.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").glob("*.md")])
NOT_SETTINGS = {"DEMAND_TEST_POSTGRES_URL", "DEMAND_SHARED_DATA"}
"""`DEMAND_*` names the docs may mention that are read by the tests, not by `Settings`."""

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_SHELL_SPLIT = re.compile(r"\s*(?:\|\||&&|\||;)\s*")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


# --- links -------------------------------------------------------------------------------------------

def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: inline markup dropped, lower case, punctuation removed
    (letters, digits, `_`, `-` and spaces kept), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def anchors(text: str) -> set[str]:
    """Every heading's anchor in a Markdown text, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(text):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link and image outside code (fenced blocks and inline code)."""
    out = []
    for number, line in _prose_lines(text):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            out.append((number, match.group(1)))
    return out


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """The relative links of the Markdown file `path` (its text, or `text` as if it were there) that do not
    resolve: a missing file or folder, or an `#anchor` that no heading of the target has."""
    text = path.read_text(encoding="utf-8") if text is None else text
    problems = []
    for number, target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http(s), mailto: not checked here (no network)
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{number}: {target}"
        if file_part and not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor:
            if resolved.suffix != ".md" or (file_part and not resolved.is_file()):
                problems.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(text if resolved == path else resolved.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with that anchor")
    return problems


# --- `demand` commands -------------------------------------------------------------------------------

def _code_texts(text: str) -> list[tuple[int, str]]:
    """(line, code) of every line inside a fenced block (continuation lines joined) and every inline code span."""
    out: list[tuple[int, str]] = []
    fenced, pending, start = False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if fenced:
            if not pending:
                start = number
            stripped = line.rstrip()
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            out.append((start, pending + stripped))
            pending = ""
        else:
            out.extend((number, match.group(2)) for match in _INLINE_CODE.finditer(line))
    return out


def _tokens(code: str) -> list[str]:
    code = re.sub(r"(^|\s)#.*$", "", code)  # a shell comment
    try:
        return shlex.split(code)
    except ValueError:
        return code.split()


def demand_commands(text: str) -> list[tuple[int, list[str]]]:
    """(line, words) of every `demand ...` (also `.venv/bin/demand ...`) shown in code: in fenced blocks
    (after `$ `, environment assignments, pipes and `&&`) and in inline code that starts with it."""
    found = []
    for number, code in _code_texts(text):
        for part in _SHELL_SPLIT.split(code.strip().removeprefix("$ ")):
            words = _tokens(part)
            while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("$", "time", "env", "exec")):
                words = words[1:]
            if words and (words[0] == "demand" or words[0].endswith("/demand")):
                found.append((number, words[1:]))
    return found


@cache
def _command_tree() -> Any:
    return typer.main.get_command(app)


def command_path(words: list[str]) -> tuple[list[str], str | None]:
    """The sub-command path `words` name (options and arguments after it dropped), and a problem: a word
    where a sub-command was expected that is none, or None."""
    node, path = _command_tree(), []
    for word in words:
        if not hasattr(node, "commands"):
            break  # a command: the rest are its arguments and options
        if word.startswith("-"):
            continue  # the root's -v, --help
        if word not in node.commands:
            where = " ".join(["demand", *path])
            return path, f"`{where}` has no sub-command {word!r} (it has {', '.join(sorted(node.commands))})"
        node = node.commands[word]
        path.append(word)
    return path, None


@cache
def _help_fails(path: tuple[str, ...]) -> str | None:
    """Why `demand PATH --help` failed, or None when it exits 0."""
    result = CliRunner().invoke(app, [*path, "--help"])
    return None if result.exit_code == 0 else f"exited {result.exit_code}: {result.output[-300:]}"


def unknown_commands(text: str, where: str = "") -> list[str]:
    """Every `demand ...` shown in `text` whose sub-command path does not exist or whose `--help` fails."""
    problems = []
    for number, words in demand_commands(text):
        path, problem = command_path(words)
        if problem is None and (failed := _help_fails(tuple(path))):
            problem = f"`demand {' '.join(path)} --help` {failed}"
        if problem:
            problems.append(f"{where}:{number}: demand {' '.join(words)}: {problem}")
    return problems


# --- settings ----------------------------------------------------------------------------------------

def setting_default(field: FieldInfo) -> str:
    """A setting's default as docs/configuration.md writes it."""
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, ByteSize):
        return f"`{value.human_readable().replace('.0', '')}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    if isinstance(value, Path):
        value = value.as_posix()
    return f"`{value}`" if str(value) else "empty"


def documented_settings(text: str) -> dict[str, str]:
    """`DEMAND_NAME` -> default of every row of the settings tables in docs/configuration.md."""
    rows = re.findall(r"^\|\s*`(DEMAND_[A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|", text, re.M)
    return dict(rows)


# --- the tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_every_demand_command_shown_exists(path: Path) -> None:
    assert unknown_commands(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


def test_the_docs_show_commands_and_links() -> None:
    """The checks above see what they should: the README links every topic and shows commands."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for _, target in links(readme)}
    topics = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert topics <= linked, f"README.md does not link {sorted(topics - linked)}"
    assert "benchmarks/README.md" in linked
    assert len(demand_commands(readme)) >= 5
    assert len(readme.splitlines()) < 250


def test_configuration_lists_every_setting_with_its_default() -> None:
    documented = documented_settings((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    expected = {f"DEMAND_{name.upper()}": setting_default(field) for name, field in Settings.model_fields.items()}
    assert sorted(set(expected) - set(documented)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(documented) - set(expected)) == [], "docs/configuration.md lists settings that do not exist"
    assert {k: v for k, v in documented.items() if v != expected[k]} == {}, "defaults differ from forecast/settings.py"


def test_every_setting_named_in_the_docs_exists() -> None:
    known = {f"DEMAND_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS
    named = {(str(p.relative_to(ROOT)), name) for p in DOCS
             for name in re.findall(r"\bDEMAND_[A-Z0-9_]*[A-Z0-9]\b", p.read_text(encoding="utf-8"))}
    assert sorted((where, name) for where, name in named if name not in known) == []


def missing_paths(text: str) -> list[str]:
    """Repository paths named in inline code (`forecast/...`, `tests/...`, ...) that do not exist."""
    named = re.findall(r"`((?:forecast|signals|scheduler|dashboard|tests|benchmarks|migrations|docs|\.ci)/[\w./-]*)`",
                       text)
    return sorted({path for path in named if not (ROOT / path).exists()})


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_every_repository_path_named_exists(path: Path) -> None:
    assert missing_paths(path.read_text(encoding="utf-8")) == []


def test_storage_names_every_table() -> None:
    """docs/storage.md names every table of the schema (a new table gets its line there)."""
    from forecast.storage.schema import Base

    text = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")
    assert sorted(name for name in Base.metadata.tables if f"`{name}`" not in text) == []


def test_the_feature_table_is_the_builders_own() -> None:
    """docs/signals.md lists `signals.features.FEATURE_DOCS`, in order, word for word."""
    from signals.features import FEATURE_DOCS

    text = (ROOT / "docs" / "signals.md").read_text(encoding="utf-8").split("## Point-in-time features", 1)[1]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (.*) \|$", text, re.M)
    assert rows == list(FEATURE_DOCS.items())


# --- the checkers catch what they are for --------------------------------------------------------------

def test_the_link_checker_finds_a_planted_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Scale-out: Dask × 2\n")
    page = tmp_path / "page.md"
    text = ("# Title\n\nSee [other](other.md), [its part](other.md#scale-out-dask--2), [here](#title), "
            "[web](https://example.com/x).\n\n![a picture](missing.png) and [gone](nope.md) and "
            "[no part](other.md#nowhere) and [no here](#elsewhere).\n\n```bash\ncat [not a link](nope2.md)\n```\n")
    assert [p.split(": ", 1)[1] for p in broken_links(page, text)] == [
        "missing.png: no such file", "nope.md: no such file", "other.md#nowhere: no heading with that anchor",
        "#elsewhere: no heading with that anchor"]


def test_github_slugs() -> None:
    assert github_slug("Guarantees, and the tests that prove them") == "guarantees-and-the-tests-that-prove-them"
    assert github_slug("Forecast throughput: `make bench-forecast`") == "forecast-throughput-make-bench-forecast"
    assert github_slug("SKU × region") == "sku--region"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### A\n") == {"a", "a-1", "a-2"}


def test_the_command_checker_finds_a_planted_unknown_command() -> None:
    text = ("Run `demand forecast show SKU REGION --json` or `demand frobnicate --now`.\n\n"
            "```bash\n$ DEMAND_N_JOBS=2 .venv/bin/demand forecast run --models auto \\\n    --horizon 7  # a comment\n"
            "printf 'pw\\n' | demand users add pia --password-stdin\n"
            "demand forecast runn --json\n"
            "demand -v db check\n"
            "```\n")
    shown = [words[:3] for _, words in demand_commands(text)]
    assert shown == [["forecast", "show", "SKU"], ["frobnicate", "--now"], ["forecast", "run", "--models"],
                     ["users", "add", "pia"], ["forecast", "runn", "--json"], ["-v", "db", "check"]]
    problems = unknown_commands(text, "planted")
    assert len(problems) == 2
    assert problems[0].startswith("planted:1: demand frobnicate --now: `demand` has no sub-command 'frobnicate'")
    assert problems[1].startswith("planted:7: demand forecast runn --json: `demand forecast` has no sub-command 'runn'")


def test_the_path_check_finds_a_planted_missing_file() -> None:
    assert missing_paths("See `forecast/settings.py`, `tests/nowhere.py` and `forecast/cli/`.") == ["tests/nowhere.py"]


def test_the_settings_check_finds_a_missing_or_wrong_row() -> None:
    expected = {f"DEMAND_{n.upper()}": setting_default(f) for n, f in Settings.model_fields.items()}
    assert expected["DEMAND_FORECAST_MODELS"] == '`["auto"]`'
    assert expected["DEMAND_SCHEDULE_SHOCKS"] == "empty" and expected["DEMAND_LOG_LEVEL"] == "unset"
    assert expected["DEMAND_DASK_CONNECT_TIMEOUT"] == "`10`"
    table = "| `DEMAND_N_JOBS` | `2` | x |\n| `DEMAND_NO_SUCH` | `1` | y |\n"
    assert documented_settings(table) == {"DEMAND_N_JOBS": "`2`", "DEMAND_NO_SUCH": "`1`"}
