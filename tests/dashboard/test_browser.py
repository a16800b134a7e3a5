"""End to end in a real browser: the app served by `streamlit run` on a free port, Debian's Chromium
driven by Playwright. Screenshots of each page go to tests/artifacts/ (ignored by git)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from forecast.pipeline.run import run_forecast
from forecast.storage import user_repo
from forecast.storage.engine import session_scope
from tests.dashboard.serving import ARTIFACTS, BROWSER_ARGS, CHROMIUM, require_chromium, serve, sign_in

PASSWORD = "browser-test-password"


@pytest.fixture
def served(loaded: Engine, db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app on the small scenario with a published run, at http://127.0.0.1:PORT."""
    require_chromium()
    run_forecast(loaded, horizon=14, models=["SeasonalNaive"])
    with session_scope(loaded) as session:
        user_repo.set_user(session=session, username="pia", password=PASSWORD, role="planner")
    # a closed tab's session (and its downloads) ends 2 s after its connection drops, not 30 s
    with serve(db_url, tmp_path, DEMAND_DASHBOARD_DISCONNECT_GRACE_SECONDS="2") as url:
        yield url


def test_sign_in_explore_a_series_download_its_csv_and_run_a_scenario(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(served)
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
        sign_in(page, "pia", PASSWORD)
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Published run")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("button", name="Download CSV").first).to_be_visible(timeout=30_000)
        expect(page.locator('[data-testid="stDataFrame"]').last).to_be_visible(timeout=30_000)
        page.wait_for_timeout(500)  # the table's canvas paints after its frame appears
        page.locator('[data-testid="stDataFrame"]').last.hover()  # its toolbar shows, without Streamlit's export
        expect(page.locator('[data-testid="stElementToolbar"]').last.get_by_role("button").first).to_be_visible(timeout=30_000)
        assert page.get_by_role("button", name="Download as CSV").count() == 0
        page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)

        page.get_by_role("link", name="Explorer").click()
        chart = page.locator('[data-testid="stPlotlyChart"]')
        expect(chart).to_be_visible(timeout=30_000)
        expect(chart.get_by_text("95% band")).to_be_visible(timeout=30_000)
        expect(chart.get_by_text("80% band")).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "explorer.png", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download forecast CSV").click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0].startswith("sku,region,day,yhat") and len(lines) == 15
        page.get_by_role("radio", name="Totals").or_(page.get_by_role("button", name="Totals")).first.click()
        expect(chart.get_by_text("All categories in all regions")).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "explorer_totals.png", full_page=True)

        page.get_by_role("link", name="Accuracy").click()
        expect(page.get_by_role("heading", name="Accuracy", exact=True)).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "accuracy.png", full_page=True)
        page.get_by_role("link", name="Scenario planner").click()
        expect(page.get_by_role("heading", name="Scenario planner", exact=True)).to_be_visible(timeout=30_000)
        skus = page.locator('[data-testid="stMultiSelect"]').first
        skus.click()
        page.keyboard.type("STA-001")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Run and save").click()
        expect(page.get_by_text("Scenario 1 saved")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("Extra units")).to_be_visible(timeout=30_000)
        page.get_by_text("Extra units").scroll_into_view_if_needed()  # the app scrolls inside its own frame
        page.wait_for_timeout(500)
        page.screenshot(path=ARTIFACTS / "scenario.png", full_page=True)

        page.get_by_role("link", name="Overrides").click()
        expect(page.get_by_role("heading", name="Overrides", exact=True)).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "overrides.png", full_page=True)
        page.get_by_role("link", name="Runs and jobs").click()
        expect(page.get_by_role("heading", name="Runs and jobs", exact=True)).to_be_visible(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "runs.png", full_page=True)

        # a link to a series (as the overview's exceptions give) survives the sign-in of a new session
        other = browser.new_page(viewport={"width": 1400, "height": 1000})
        other.goto(f"{served}/explorer?sku=STA-002&region=R02")
        sign_in(other, "pia", PASSWORD)
        expect(other.get_by_role("heading", name="Explorer", exact=True)).to_be_visible(timeout=30_000)
        expect(other.locator('[data-testid="stPlotlyChart"]').get_by_text("STA-002 in R02")).to_be_visible(
            timeout=30_000)
        browser.close()


PAGES = ["", "overview", "explorer?sku=STA-001&region=R01", "accuracy", "scenarios", "overrides", "runs"]


def test_no_page_or_download_is_reachable_without_signing_in(served: str) -> None:
    """Every page's URL in a new browser shows the sign-in form and no data; plain HTTP gets the empty
    shell, and a download's URL stops answering once its session signs out."""
    import httpx
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for path in PAGES:
            page = browser.new_context().new_page()
            page.goto(f"{served}/{path}")
            expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
            page.wait_for_timeout(300)
            for testid in ("stDataFrame", "stPlotlyChart", "stDownloadButton", "stMetric", "stTable"):
                assert page.locator(f'[data-testid="{testid}"]').count() == 0, (path, testid)
            assert "STA-001" not in page.content() and "yhat" not in page.content()
            page.context.close()

        page = browser.new_context(accept_downloads=True).new_page()
        page.goto(f"{served}/explorer?sku=STA-001&region=R01")
        sign_in(page, "pia", PASSWORD)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download forecast CSV").click(timeout=30_000)
        media = download.value.url
        assert "/media/" in media
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1000)
        browser.close()

    with httpx.Client(timeout=10) as client:  # no cookies, no session
        for path in PAGES:
            body = client.get(f"{served}/{path}").text
            assert "STA-001" not in body and "yhat" not in body
        guessed = media.rsplit("/", 1)[0] + "/" + "0" * 56 + ".csv"
        assert client.get(guessed).status_code == 404
        assert client.get(media).status_code == 404  # signed out: the session's files are gone


@pytest.mark.parametrize("backend", ["sqlite"])  # the files live in Streamlit's memory, whatever the database
def test_a_download_stops_answering_soon_after_its_tab_closes_without_signing_out(served: str) -> None:
    """A forecast CSV's URL lives with the browser tab that made it: closing the tab (no sign-out) ends the
    session on the server within the grace period, and its files with it."""
    import time

    import httpx
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(f"{served}/explorer?sku=STA-001&region=R01")
        sign_in(page, "pia", PASSWORD)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download forecast CSV").click(timeout=30_000)
        media = download.value.url
        with httpx.Client(timeout=10) as client:
            assert "/media/" in media and client.get(media).status_code == 200  # the tab is open
            context.close()  # the tab goes away; nobody signs out
            closed = time.monotonic()
            while client.get(media).status_code == 200 and time.monotonic() - closed < 20:
                time.sleep(0.5)
            assert client.get(media).status_code == 404, f"still served {time.monotonic() - closed:.0f} s after"
        browser.close()
