"""The mentor page in real headless Chromium (Debian's package) shows live data."""

import shutil

import pytest

from tests.stack import Stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_mentor_page_charts_update_live(mosquitto, tmp_path):
    from playwright.sync_api import sync_playwright

    if not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM):
        pytest.fail("chromium is not installed; ./run.sh test installs it")
    with Stack(mosquitto.url, str(tmp_path / "hub.sqlite"), onset_s=9.0, warmup=15) as stack, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(stack.hub.url)
        page.wait_for_function("document.getElementById('last-update').dataset.ts", timeout=20_000)
        first = page.eval_on_selector("#last-update", "e => Number(e.dataset.ts)")
        page.wait_for_function(f"Number(document.getElementById('last-update').dataset.ts) > {first}",
                               timeout=10_000)
        # the live stream is connected and the charts hold plotted points that grow
        assert page.inner_text("#conn") == "live"
        n1 = page.evaluate("document.getElementById('chart-rms').data[0].x.length")
        assert n1 > 0
        page.wait_for_function(f"document.getElementById('chart-rms').data[0].x.length > {n1}", timeout=15_000)
        assert page.locator("#chart-score .scatterlayer .trace").count() == 2
        # after the fault onset the alert shows up in the list
        page.wait_for_selector("#alerts li:not(.muted)", timeout=20_000)
        assert "score" in page.inner_text("#alerts")
        assert "edge-1" in page.inner_text("#edges")
        page.screenshot(path=str(tmp_path / "mentor.png"), full_page=True)
        browser.close()
        assert not errors, errors
