"""The mentor page shows an alert's explanation and the envelope spectrum of its alerting windows (Chromium)."""

import pytest

from tests.browser.test_browser import launch_chromium
from tests.stack import Stack
from tests.waiting import wait_until


@pytest.mark.slow
@pytest.mark.browser
def test_mentor_page_explains_the_alert(mosquitto, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("TEACHFAB_HUB_MODE", "demo")
    monkeypatch.setenv("TEACHFAB_HUB_DEMO_SITES", '["lab"]')
    with Stack(mosquitto.url, str(tmp_path / "hub.sqlite"), onset_s=30.0, warmup=15) as stack, \
            sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(stack.hub.url)
        wait_until(lambda: page.evaluate("document.querySelectorAll('#alerts li .explanation').length"), 120,
                   interval=0.5, what="an explained alert on the mentor page")
        text = page.inner_text("#alerts li .explanation")
        assert "outer-race defect" in text and "confidence" in text
        assert "ISO 20816-3 zone" in text and "harmonics found" in text
        assert page.locator("#alerts li .explanation table.evidence tbody tr").first.inner_text().startswith("1×bpfo")
        # the envelope spectrum of the alerting windows, with BPFO and its harmonics marked
        spectrum = wait_until(lambda: page.evaluate(
            "(() => { const c = document.getElementById('chart-alert-envelope');"
            " return c && !c.hidden && c.data ? {n: c.data[0].x.length,"
            " marks: c.layout.annotations.map(a => a.text), xs: c.layout.shapes.map(s => s.x0)} : null; })()"),
            15, what="the envelope spectrum chart")
        assert 2 <= spectrum["n"] <= 512
        assert spectrum["marks"][:3] == ["1×bpfo", "2×bpfo", "3×bpfo"]
        bpfo = 3.5848 * 1797.0 / 60
        assert abs(spectrum["xs"][0] - bpfo) < 0.03 * bpfo
        assert not errors, errors
        browser.close()
