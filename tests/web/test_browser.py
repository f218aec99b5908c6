"""The dashboard in a real browser: Debian's Chromium driven by Playwright against the app served by
waitress on 127.0.0.1 over the simulator-filled database. Nothing is downloaded (no `playwright
install`); without /usr/bin/chromium the tests skip, except in CI, where they fail.

Screenshots are saved under the test's tmp dir (`pytest --basetemp DIR` keeps them where you want)."""

import os
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from web.conftest import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def base_url(app):
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, base_url):
    """A fresh page that records console errors, failed or off-site requests and dialogs (an alert
    would mean a hostile string ran)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=base_url)
    opened = context.new_page()
    opened.problems = []
    opened.on("console", lambda m: m.type == "error" and opened.problems.append(f"console: {m.text}"))
    opened.on("pageerror", lambda e: opened.problems.append(f"page error: {e}"))
    opened.on("requestfailed", lambda r: opened.problems.append(f"failed: {r.url}"))
    opened.on("request", lambda r: r.url.startswith(base_url) or opened.problems.append(f"off-site: {r.url}"))
    opened.on("dialog", lambda d: (opened.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield opened
    context.close()


PAGES = {
    "opportunities": "/",
    "rates": "/rates",
    "asset": "/asset/BTC",
    "hostile-asset": "/asset/" + quote(HOSTILE, safe=""),
    "venues": "/venues",
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_loads_clean_and_counts_down(page, name, tmp_path):
    response = page.goto(PAGES[name])
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert page.locator("header nav a").count() == 3
    countdowns = page.locator("time.countdown")
    if countdowns.count():
        text = countdowns.first.inner_text()
        assert text.startswith("in ") or text == "passed", (
            text
        )  # set by the script, not the server's UTC text
    assert page.locator("time.utc-clock").inner_text().endswith(" UTC")
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=False)
    assert page.problems == []


def test_sorting_the_rates_by_a_column(page):
    page.goto("/rates?limit=50")
    page.locator('th[data-key="exchange"] a').click()
    page.wait_for_url("**sort=exchange**")
    first = page.locator("#rates-table tbody tr td.venue").all_inner_texts()
    assert first == sorted(first, reverse=True)  # a new key sorts descending first
    page.locator('th[data-key="exchange"] a').click()
    page.wait_for_url("**order=asc**")
    again = page.locator("#rates-table tbody tr td.venue").all_inner_texts()
    assert again == sorted(again) and again[0] == "aster"
    page.fill("#quick-filter", "okx")
    visible = page.locator("#rates-table tbody tr:visible")
    assert visible.count() == 0 or all("okx" in t.lower() for t in visible.all_inner_texts())
    assert page.problems == []


def test_sorting_the_opportunities_in_the_page(page):
    page.goto("/?limit=100")
    header = page.locator("table.opportunities th", has_text="Fees")
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    fees = [
        float(t.rstrip("%"))
        for t in page.locator("table.opportunities tbody tr td:nth-child(7)").all_inner_texts()
    ]
    assert len(fees) > 5 and fees == sorted(fees, reverse=True)
    assert page.problems == []


def test_the_asset_chart_is_drawn(page, tmp_path):
    page.goto("/asset/BTC?days=7")
    canvas = page.locator("#history-chart canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    painted = canvas.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }"""
    )
    assert painted > 1000  # axes, grid and the venues' points
    legend = page.locator("#history-chart .u-legend").inner_text()
    assert "coinbaseintl BTC-PERP" in legend and "krakenfutures PI_XBTUSD" in legend
    page.screenshot(path=str(tmp_path / "asset-chart.png"), full_page=True)
    assert page.problems == []
