"""The mentor page in real headless Chromium (Debian's package) shows live data."""

import json
import os
import shutil
import time

import paho.mqtt.publish as publish
import pytest

from contract.signing import generate_keypair, save_public_key, sign_bundle
from contract.topics import command_topic
from tests.stack import Stack
from tests.waiting import wait_in_page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch_chromium(pw):
    """Debian's Chromium, headless, from a ``sync_playwright()`` (the test fails when it is not installed)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed; ./run.sh test installs it")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


#: The charts a bearing asset has had from the start (the simulated pump sends every one of their features).
BEARING_CHARTS = ["rms", "kurtosis", "crest", "env", "peak", "temperature"]


def chart_ids(page) -> list[str]:
    """Ids (without ``chart-``) of the mentor page's feature charts, in page order."""
    return page.eval_on_selector_all("#feature-charts .chart", "cs => cs.map(c => c.id.slice(6))")


@pytest.mark.slow
@pytest.mark.browser
def test_mentor_page_charts_update_live(mosquitto, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    # demo mode: the page logs in as the demo mentor of a challenge at the stack's site "lab"
    monkeypatch.setenv("TEACHFAB_HUB_MODE", "demo")
    monkeypatch.setenv("TEACHFAB_HUB_DEMO_SITES", '["lab"]')
    private, public = generate_keypair()
    (tmp_path / "keys").mkdir()
    save_public_key(public, tmp_path / "keys" / "hub.pub.pem")
    with Stack(mosquitto.url, str(tmp_path / "hub.sqlite"), onset_s=9.0, warmup=15,
               hub_keys=str(tmp_path / "keys")) as stack, \
            sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(stack.hub.url)
        wait_in_page(page, "document.getElementById('last-update').dataset.ts", timeout=30_000)
        first = page.eval_on_selector("#last-update", "e => Number(e.dataset.ts)")
        wait_in_page(page, f"Number(document.getElementById('last-update').dataset.ts) > {first}",
                               timeout=10_000)
        # the live stream is connected and the charts hold plotted points that grow
        assert page.inner_text("#conn") == "live"
        # the edge announced a bearing pipeline: the bearing charts, in their order, come first
        assert page.get_attribute("#feature-set", "data-feature-set") == "bearing"
        assert chart_ids(page)[:len(BEARING_CHARTS)] == BEARING_CHARTS
        assert page.evaluate("document.getElementById('chart-temperature').layout.title.text") \
            == "Bearing temperature (°C)"
        n1 = page.evaluate("document.getElementById('chart-rms').data[0].x.length")
        assert n1 > 0
        wait_in_page(page, f"document.getElementById('chart-rms').data[0].x.length > {n1}", timeout=15_000)
        assert page.locator("#chart-score .scatterlayer .trace").count() == 2
        # after the fault onset the alert shows up in the list
        page.wait_for_selector("#alerts li:not(.muted)", timeout=30_000)
        assert "score" in page.inner_text("#alerts")
        assert "edge-1" in page.inner_text("#edges")
        # the alert is on the timeline
        wait_in_page(page, "(document.getElementById('chart-events').data || [{x: []}])[0].x.length > 0",
                               timeout=10_000)
        # a signed snapshot request makes the edge send raw samples; the page shows them with their spectra
        bundle = sign_bundle({"cmd": "snapshot", "bundle_id": "snap-b1", "site": "lab", "edge": "edge-1", "created_ns": time.time_ns(),
                              "asset": "pump-1", "channel": "vibration_de", "duration_s": 1.0}, private, "hub")
        publish.single(command_topic("lab", "edge-1", "snapshot"), json.dumps(bundle), qos=1,
                       hostname="127.0.0.1", port=mosquitto.port)
        wait_in_page(page, "(document.getElementById('chart-envelope').data || [{x: []}])[0].x.length > 100",
                               timeout=15_000)
        assert page.evaluate("document.getElementById('chart-wave').data[0].y.length") == 12000
        assert "12000 samples at 12000 Hz" in page.inner_text("#snapshot-info")
        page.screenshot(path=str(tmp_path / "mentor.png"), full_page=True)
        assert page.is_hidden("#page-error"), page.inner_text("#page-error")
        browser.close()
        assert not errors, errors
