"""Names are data, never markup: SKU, region and category ids (and file names, reasons, scenario names)
that spell rich markup, Markdown or HTML print and render as the text they are, in the CLI and the
dashboard, and nothing they spell fetches, links or styles anything."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import polars as pl
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dashboard.text import md, plot_text
from forecast.cli import app
from forecast.demo import DemoScenario
from forecast.demo.sources import write_demo_signals_config
from forecast.ingest import ColumnMapping, ingest_regions, ingest_sales, ingest_skus
from forecast.ingest.signal_config import load_sources
from forecast.ingest.signals import pull_source
from forecast.pipeline.run import run_forecast
from forecast.pipeline.shock import ShockRules
from forecast.settings import get_settings
from forecast.storage import user_repo
from forecast.storage.engine import session_scope
from tests.dashboard.serving import ARTIFACTS, BROWSER_ARGS, CHROMIUM, require_chromium, serve, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CLI_SKUS = {"STA-001": "[/]", "STA-002": "[red]x[/red]", "STA-003": "[link=http://h]a[/link]"}
CLI_NAMES = {**CLI_SKUS, "R01": "[bold]R01[/bold]", "staples": "[blink]staples[/]", "Rice 5kg": "[red]Rice[/red]"}


def _rename_everywhere(scenario: DemoScenario, folder: Path, names: dict[str, str]) -> Path:
    """The scenario's files (master data, sales, signals) written to `folder` with every cell, or `;`-joined
    item of a cell, found in `names` replaced; returns the signals config written next to them."""
    def renamed(value: str | None) -> str | None:
        return value if value is None else ";".join(names.get(part, part) for part in value.split(";"))

    for path in (scenario.regions, scenario.skus, scenario.sales, scenario.case_counts, scenario.livestreams,
                 scenario.promotions):
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.with_columns(pl.all().map_elements(renamed, return_dtype=pl.String))
        frame.write_csv(folder / path.name.removesuffix(".gz"))
    return write_demo_signals_config(folder)


def _flat(text: str) -> str:
    """Output with its line breaks and runs of spaces made single spaces (rich wraps long table cells)."""
    return " ".join(text.split())


def test_cli_prints_rich_markup_in_names_verbatim(cli: CliRunner, small_scenario: DemoScenario, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`[/]` as a SKU id crashed `forecast show` with rich's MarkupError and `[red]x[/red]` printed as `x`."""
    monkeypatch.setenv("COLUMNS", "400")  # one table row a line
    _rename_everywhere(small_scenario, tmp_path, CLI_NAMES)
    for kind in ("regions", "skus", "sales"):
        result = cli.invoke(app, ["ingest", kind, str(tmp_path / f"{kind}.csv")])
        assert result.exit_code == 0, result.output
    assert cli.invoke(app, ["forecast", "run", "--models", "SeasonalNaive", "--horizon", "7"]).exit_code == 0

    region = CLI_NAMES["R01"]
    for sku in CLI_SKUS.values():
        shown = cli.invoke(app, ["forecast", "show", sku, region])
        assert shown.exit_code == 0, shown.output
        assert f"{sku} in {region}, run 1" in shown.output
        explained = cli.invoke(app, ["forecast", "explain", sku, region])
        assert explained.exit_code == 0, explained.output
        assert explained.output.startswith(f"{sku} in {region}: run 1 is the first forecast of this series")
    missing = cli.invoke(app, ["forecast", "show", "[/]", "[red]nowhere[/red]"])
    assert missing.exit_code == 2 and "'[/]' in region '[red]nowhere[/red]'" in missing.output

    hostile_file = tmp_path / "[red]late.csv"  # a file name is data too (the batch's source)
    hostile_file.write_text("sku,region,day,units\n[/],[bold]R01[/bold],2025-02-04,3\n"
                            "[/],[bold]R01[/bold],2025-02-05,[red]three[/red]\n")
    result = cli.invoke(app, ["ingest", "sales", str(hostile_file)])
    assert result.exit_code == 0 and "1 rows were quarantined" in _flat(result.output), result.output
    batches = cli.invoke(app, ["ingest", "batches"])
    assert batches.exit_code == 0 and "[red]late.csv" in batches.output, batches.output
    batch = re.search(r"demand ingest rejected (\d+)", result.output)
    assert batch, result.output
    rejected = cli.invoke(app, ["ingest", "rejected", batch.group(1)])
    assert rejected.exit_code == 0, rejected.output
    assert "[red]three[/red]" in rejected.output and '"sku": "[/]"' in rejected.output, rejected.output
    assert '"region": "[bold]R01[/bold]"' in rejected.output
    summary = cli.invoke(app, ["summary"])
    assert summary.exit_code == 0 and "\\[" not in summary.output, summary.output
    assert "│ [bold]R01[/bold] │" in summary.output, summary.output  # the late series' region


# ---- dashboard -------------------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
EVIL_REGION = '<a href="http://evil">r</a>'
EVIL_CATEGORY = '<a href="http://evil">c</a>'
RISING = dt.date(2024, 11, 7)  # the small scenario's R02 cases rise fast here (tests/pipeline/test_shock.py)


@pytest.fixture
def pixel() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server standing in for an attacker's: its base URL and the paths it was asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def _hostile_names(pixel_url: str) -> dict[str, str]:
    """The scenario's ids and names to replace, everywhere they occur, with these."""
    return {"STA-001": f"![x]({pixel_url}/pixel.png)", "STA-002": "[a](http://evil)", "R02": EVIL_REGION,
            "staples": EVIL_CATEGORY, "Rice 5kg": "**Rice** $5$ kg :smile:", "Kai Moreau": '<b>Kai</b> <a href="http://evil">M</a>'}


@pytest.fixture
def hostile(engine: Engine, small_scenario: DemoScenario, tmp_path: Path, db_url: str, pixel: tuple[str, list[str]],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The small scenario with hostile SKU, region, category, product and host names, two published runs
    (the second flags the hostile region's shock), users pia and `__vic__`; the dashboard pointed at it."""
    names = _hostile_names(pixel[0])
    folder = tmp_path / "hostile"
    folder.mkdir()
    config = _rename_everywhere(small_scenario, folder, names)
    with session_scope(engine) as session:
        ingest_regions(folder / "regions.csv", session=session)
        ingest_skus(folder / "skus.csv", session=session)
        ingest_sales(folder / "sales.csv", session=session, mapping=ColumnMapping())
    for source in load_sources(config).values():
        with session_scope(engine) as session:
            pull_source(source, session=session)
    run_forecast(engine, horizon=14, models=["SeasonalNaive"], cutoff=RISING - dt.timedelta(days=7))
    run_forecast(engine, horizon=14, models=["SeasonalNaive"], cutoff=RISING, shock=ShockRules())
    with session_scope(engine) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
        user_repo.set_user(session=session, username="__vic__", password=PASSWORD, role="planner")
    monkeypatch.setenv("DEMAND_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield names
    get_settings.cache_clear()


def _signed_in(user: str = "pia", page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    app.text_input[0].input(user)
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


MARKDOWN = ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success")
LABELLED = ("selectbox", "multiselect", "radio", "select_slider", "text_input", "number_input", "date_input", "toggle",
            "button", "expander", "tabs", "metric")


def _markdown(app: AppTest) -> list[str]:
    """Every Markdown string on the page and in the sidebar, and every widget, expander, tab and metric label."""
    texts = [e.value for kind in MARKDOWN for e in (*app.get(kind), *app.sidebar.get(kind))]
    return texts + [e.label for kind in LABELLED for e in getattr(app, kind)]


def _raw(texts: list[str], names: dict[str, str]) -> list[str]:
    """The texts holding a hostile name unescaped."""
    return [t for t in texts if any(n in t for n in names.values())]


def test_dashboard_markdown_and_charts_show_hostile_names_as_text(hostile: dict[str, str]) -> None:
    """A SKU id `![x](http://...)` in the explanation's headline made every viewer's browser fetch the URL;
    `[a](http://evil)` became a link, `__vic__` signed in as bold `vic`, and Plotly drew a region's
    `<a href>` as a link in the chart's title."""
    sku, region, category = hostile["STA-001"], hostile["R02"], hostile["staples"]
    app = _signed_in("__vic__")
    assert app.sidebar.markdown[0].value == f"Signed in as **{md('__vic__')}** (planner)"
    assert app.error[0].value.startswith(f"Regional shock flagged in 1 region(s): {md(region)}. ")
    assert not _raw(_markdown(app), hostile)

    app.query_params.update({"sku": sku, "region": region})
    app.switch_page("views/explorer.py").run()
    assert not app.exception, app.exception
    assert (app.query_params["sku"], app.query_params["region"]) == (sku, region)
    texts = _markdown(app)
    assert not _raw(texts, hostile), _raw(texts, hostile)
    assert any(t.startswith(f"**{md(f'{sku} in {region}: ')}") for t in texts), texts
    assert any(f"category {md(category)} · " in t for t in texts), texts
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["title"]["text"] == plot_text(f"{sku} in {region}")
    hosts = [t for trace in figure["data"] if trace.get("name") == "livestream" for t in trace["text"]]
    assert any(t.startswith(plot_text(hostile["Kai Moreau"])) for t in hosts), hosts

    app.segmented_control[0].set_value("Totals").run()
    app.selectbox[0].select(category).run()
    app.selectbox[1].select(region).run()
    assert not app.exception, app.exception
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["title"]["text"] == plot_text(f"{category} in {region}")
    assert not _raw(_markdown(app), hostile)


def test_a_saved_scenarios_name_shows_as_text(hostile: dict[str, str]) -> None:
    """A scenario's name in the message that it was saved is Markdown-escaped."""
    app = _signed_in(page="views/scenarios.py")
    app.multiselect[0].select("STA-003")  # a SKU id starting with `[` is read as a JSON list here (left alone)
    app.multiselect[1].select(hostile["R02"])
    app.text_input[0].input("[won](http://evil) $1$")
    app.button[0].click().run()  # Run and save
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.success[0].value.startswith(f"Scenario 1 saved: {md('[won](http://evil) $1$')} (")
    assert not _raw(_markdown(app), {"name": "[won](http://evil)", **hostile})


# ---- the same in a real browser ------------------------------------------------------------------------------

WORD_JOINER = "\u2060"  # dashboard.text puts one (invisible) where Streamlit would turn text into a link or emoji
LINKS_AND_IMAGES = """() => Array.from(document.querySelectorAll('a, img, image, [src]')).map(e =>
    e.getAttribute('href') || e.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || e.getAttribute('src') || '')"""


@pytest.fixture
def hostile_served(hostile: dict[str, str], db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app on the hostile names' database, at http://127.0.0.1:PORT."""
    require_chromium()
    with serve(db_url, tmp_path) as url:
        yield url


def _text(locator: Locator) -> str:
    return (locator.text_content() or "").replace(WORD_JOINER, "")


def _bad_targets(page: Page) -> list[str]:
    """Links and image sources on the page (Plotly's SVG included) that go where a name said."""
    return [t for t in page.evaluate(LINKS_AND_IMAGES) if "evil" in t or "pixel" in t]


@pytest.mark.parametrize("backend", ["postgresql"])  # what is escaped does not depend on the database
def test_in_a_browser_names_fetch_nothing_link_nowhere_and_read_as_text(
        hostile_served: str, hostile: dict[str, str], pixel: tuple[str, list[str]]) -> None:
    """Chromium on the Explorer, the Overview and the Scenario planner with a SKU id
    `![x](http://127.0.0.1:PORT/pixel.png)` (the port a local server's that counts requests), a SKU id
    `[a](http://evil)` and a region and a category `<a href="http://evil">…</a>`: the server is never asked,
    no link or image on the page (Plotly's SVG included) goes to either, and the names read as written."""
    from playwright.sync_api import expect, sync_playwright

    sku, region, category = hostile["STA-001"], hostile["R02"], hostile["staples"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{hostile_served}/explorer?sku={quote(sku, safe='')}&region={quote(region, safe='')}")
        sign_in(page, "pia", PASSWORD)
        expect(page.get_by_role("heading", name="Explorer", exact=True)).to_be_visible(timeout=30_000)
        title = page.locator('[data-testid="stPlotlyChart"] .gtitle')
        expect(title).to_be_visible(timeout=30_000)
        why = page.locator('[data-testid="stExpander"]', has_text="Why is this forecast different")
        if not why.locator("strong").first.is_visible():
            why.get_by_text("Why is this forecast different").click()
        expect(why.locator("strong").first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(500)  # an image would have been asked for by now
        page.screenshot(path=ARTIFACTS / "hostile_explorer.png", full_page=True)
        assert pixel[1] == [], f"the browser fetched {pixel[1]} from the pixel server"
        assert not _bad_targets(page)
        assert _text(title) == f"{sku} in {region}"
        assert _text(why.locator("strong").first).startswith(f"{sku} in {region}: ")
        caption = page.locator('[data-testid="stCaptionContainer"]', has_text="promotions shaded orange")
        assert f"category {category} · " in _text(caption)

        page.get_by_role("link", name="Overview").click()
        shock = page.locator('[data-testid="stAlert"]', has_text="Regional shock flagged")
        expect(shock).to_be_visible(timeout=30_000)
        assert f"flagged in 1 region(s): {region}. " in _text(shock)
        expect(page.locator('[data-testid="stPlotlyChart"]')).to_be_visible(timeout=30_000)
        assert not _bad_targets(page)

        page.get_by_role("link", name="Scenario planner").click()
        expect(page.get_by_role("heading", name="Scenario planner", exact=True)).to_be_visible(timeout=30_000)
        page.locator('[data-testid="stMultiSelect"]').first.click()  # the SKU options, names among them
        expect(page.get_by_role("option", name=hostile["STA-002"])).to_be_visible(timeout=30_000)
        page.wait_for_timeout(500)
        assert not _bad_targets(page)
        browser.close()
    assert pixel[1] == [], pixel[1]
