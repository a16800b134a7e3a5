"""How fast the dashboard answers with 10,000 series, measured in a real browser.

Run: `make bench-dashboard` or `.venv/bin/python benchmarks/dashboard.py [--skus 625 --regions 16]`.

Builds the demo scenario at 625 SKUs x 16 regions = 10,000 series (400 days of sales, with its case
counts, livestreams and promotions), publishes a 28-day SeasonalNaive run through `run_forecast`,
serves the app with `streamlit run` and drives Debian's Chromium with Playwright. It times, from the
click to the element being visible:
- sign-in -> the overview drawn, its tables and its chart (cold caches);
- the first explorer render after sign-in -> its chart (cold caches);
- page changes back and forth (overview <-> explorer, warm caches), 5 rounds;
- choosing another series in the explorer -> its chart;
- a third planner signing in on a link to the explorer -> its chart (the first page drawn, so it
  also loads Plotly in the browser, which the overview's chart does otherwise).
Targets (issue 7): the explorer's first render under 2 s, a page change under 1 s.
Writes benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: the repo root first, so `forecast` is the package
    sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks.common import load_demo, machine  # noqa: E402
from dashboard.server import command, free_port, wait_until_healthy  # noqa: E402
from forecast.pipeline.run import run_forecast  # noqa: E402
from forecast.storage import user_repo  # noqa: E402
from forecast.storage.engine import make_engine, session_scope  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "dashboard.json"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
PASSWORD = "bench-password"


def _timed(action, wait) -> float:
    started = time.perf_counter()
    action()
    wait()
    return round(time.perf_counter() - started, 3)


def browse(url: str, rounds: int) -> dict[str, object]:
    """Sign in and move around; seconds from each click to what it should show. Twice: the first
    planner of a freshly started server, then a second planner in a new browser session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        first = _session(browser, url, rounds)
        second = _session(browser, url, rounds)
        deep = _deep_link(browser, url)
        browser.close()
    return {"first_session": first, "second_session": second, "deep_link_to_explorer": deep}


def _deep_link(browser, url: str) -> float:
    """A planner opening a link to the explorer and signing in there: the explorer is the first page
    rendered, so it also pays for loading Plotly in the browser."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/explorer")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=60_000)
    page.get_by_role("textbox", name="User").fill("bench")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    chart = page.locator('[data-testid="stPlotlyChart"]')
    seconds = _timed(lambda: page.get_by_role("button", name="Sign in").click(),
                     lambda: expect(chart.get_by_text("95% band")).to_be_visible(timeout=60_000))
    context.close()
    return seconds


def _session(browser, url: str, rounds: int) -> dict[str, object]:
    from playwright.sync_api import expect

    timeout = 60_000
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=timeout)
    page.get_by_role("textbox", name="User").fill("bench")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    tables = page.locator('[data-testid="stDataFrame"]')
    chart = page.locator('[data-testid="stPlotlyChart"]')

    def overview_ready() -> None:
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=timeout)
        expect(page.get_by_role("button", name="Download CSV")).to_be_visible(timeout=timeout)
        expect(chart.get_by_text("same weekday last year")).to_be_visible(timeout=timeout)

    def explorer_ready() -> None:
        expect(page.get_by_role("heading", name="Explorer", exact=True)).to_be_visible(timeout=timeout)
        expect(chart.get_by_text("95% band")).to_be_visible(timeout=timeout)  # the explorer's own chart

    result: dict[str, object] = {
        "sign_in_to_overview": _timed(lambda: page.get_by_role("button", name="Sign in").click(), overview_ready),
        "first_explorer": _timed(lambda: page.get_by_role("link", name="Explorer").click(), explorer_ready),
    }
    changes = []
    for _ in range(rounds):
        changes.append(_timed(lambda: page.get_by_role("link", name="Overview").click(), overview_ready))
        changes.append(_timed(lambda: page.get_by_role("link", name="Explorer").click(), explorer_ready))
    result["page_changes"] = changes
    result["page_change_median"] = statistics.median(changes)
    result["page_change_max"] = max(changes)

    def pick_other() -> None:
        page.locator('[data-testid="stSelectbox"]').nth(1).click()  # the region of the same SKU
        page.keyboard.type("R05")
        page.keyboard.press("Enter")

    title = page.locator(".gtitle")
    before = title.first.text_content()
    result["series_change"] = _timed(pick_other, lambda: expect(title.first).not_to_have_text(before or "",
                                                                                              timeout=timeout))
    assert tables.count() > 0
    context.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=625)
    parser.add_argument("--regions", type=int, default=16)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"error: {CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium)")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="demand-dashboard-bench-") as tmp:
        started = time.perf_counter()
        url, _ = load_demo(Path(tmp), n_skus=args.skus, n_regions=args.regions, days=args.days)
        timings["load_demo"] = round(time.perf_counter() - started, 1)
        engine = make_engine(url)
        started = time.perf_counter()
        report = run_forecast(engine, horizon=28, models=["SeasonalNaive"], n_jobs=2)
        timings["publish_run"] = round(time.perf_counter() - started, 1)
        with session_scope(engine) as session:
            user_repo.set_user(session=session, username="bench", password=PASSWORD, role="planner")
        engine.dispose()
        port = free_port()
        with open(Path(tmp) / "streamlit.log", "wb") as log:
            server = subprocess.Popen(command(port), env={**os.environ, "DEMAND_DATABASE_URL": url}, stdout=log,
                                      stderr=subprocess.STDOUT)
            try:
                if not wait_until_healthy(f"http://127.0.0.1:{port}"):
                    sys.exit("error: streamlit did not start: " + (Path(tmp) / "streamlit.log").read_text())
                browser = browse(f"http://127.0.0.1:{port}", args.rounds)
            finally:
                server.terminate()
                server.wait(timeout=30)
    payload = {"machine": machine(), "series": report.series, "rows": report.rows, "setup_seconds": timings,
               "browser_seconds": browser,
               "targets": {"first_explorer": 2.0, "page_change": 1.0}}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"{report.series:,} series, {report.rows:,} published rows (setup: {timings})\n")
    first, second = browser["first_session"], browser["second_session"]
    print("| step | first planner after server start | second planner | target |\n|---|---:|---:|---:|")
    for key, label, target in (("sign_in_to_overview", "sign-in to overview", ""),
                               ("first_explorer", "first explorer render after sign-in", "< 2"),
                               ("page_change_median", f"page change, median of {2 * args.rounds}", "< 1"),
                               ("page_change_max", "page change, slowest", "< 1"),
                               ("series_change", "another series in the explorer", "")):
        print(f"| {label} | {first[key]:.2f} | {second[key]:.2f} | {target} |")
    print(f"| sign-in on a link to the explorer, to its chart | | {browser['deep_link_to_explorer']:.2f} | |")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
