"""The mentor page charts a thermal asset's own features, in real headless Chromium, against ``teachfab lab up``.

``teachfab lab up cooling-drift`` runs a thermal pipeline on motor-2's winding
temperature with a real Mosquitto. The mentor logs in, the page selects
motor-2 and takes its charts from the feature set the edge announced
(``thermal``): the temperature residual (once the thermal model is fitted),
the winding temperature and the load, with values that change, and none of
the bearing charts. The learner page of the session charts the residual too.
The chart plan itself is checked for an unknown and an unannounced feature set.
"""

from __future__ import annotations

import pytest

from tests.browser.test_browser import chart_ids, launch_chromium
from tests.browser.test_browser_session import LabUp, _login
from tests.waiting import wait_in_page

PACK = "cooling-drift"
SPEED = 50.0  # the thermal model is fitted over the first 900 scenario-s: 18 s at this speed
BEARING_ONLY = {"rms", "kurtosis", "crest", "env", "peak"}

# every value of a chart's traces that is not a gap
VALUES = "id => document.getElementById(id).data.flatMap(t => t.y).filter(v => v !== null)"


def _values(page, chart: str) -> list[float]:
    return page.evaluate(f"({VALUES})('chart-{chart}')")


def _wait_for_more_values(page, chart: str, than: int, timeout_s: float) -> None:
    wait_in_page(page, f"({VALUES})('chart-{chart}').length > {than}", timeout=timeout_s * 1e3)


@pytest.mark.slow
@pytest.mark.browser
def test_mentor_page_charts_thermal_features(mosquitto, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        lab = LabUp(mosquitto.url, tmp_path / "lab-up.log", pack=PACK, speed=SPEED)
        try:
            errors = []
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{lab.url}/")
            _login(page, "mentor@lab.local", lab.passwords["mentor@lab.local"])

            # motor-2, the session's only asset, is selected; the edge's birth says its pipeline is thermal
            page.wait_for_selector("#asset-title:has-text('motor-2')", timeout=30_000)
            page.wait_for_selector("#feature-set[data-feature-set='thermal']", timeout=30_000)
            assert page.get_attribute("#feature-set", "data-family") == "thermal"
            assert page.inner_text("#feature-set") == "feature set thermal"

            # the residual has a chart once the model is fitted (the page redraws when the feature appears)
            page.wait_for_selector("#chart-residual", timeout=(900 / SPEED + 40) * 1e3)
            ids = chart_ids(page)
            assert ids[:3] == ["residual", "temperature", "load"], ids
            assert not BEARING_ONLY & set(ids), ids
            title = page.evaluate("document.getElementById('chart-temperature').layout.title.text")
            assert title == "Temperature (°C)", title
            assert page.evaluate("document.getElementById('chart-temperature').data.map(t => t.name)") \
                == ["winding_temperature"]
            assert page.get_attribute("#chart-residual", "data-series") == "temperature_residual"

            # values arrive and change: the winding warms and cools with the load, the residual moves
            for chart in ("residual", "temperature"):
                n = len(_values(page, chart))
                _wait_for_more_values(page, chart, n + 3, timeout_s=20)
            residual, winding, load = (_values(page, c) for c in ("residual", "temperature", "load"))
            assert len(set(residual)) > 1 and all(abs(v) < 50 for v in residual), residual[-5:]  # K
            assert len(set(winding)) > 1 and all(10 < v < 160 for v in winding), winding[-5:]  # °C
            assert load and all(0 <= v <= 150 for v in load), load[-5:]  # % of rated
            # no chart is empty
            for chart in chart_ids(page):
                assert _values(page, chart), f"chart-{chart} has no values"
            assert page.is_hidden("#page-error"), page.inner_text("#page-error")

            # the same choice as data: an unknown set gets one chart per feature; an unannounced one a guess
            plans = page.evaluate("""async () => {
                const { chartPlan } = await import('/static/feature-charts.js');
                const ids = (p) => p.charts.map((c) => c.id);
                return {
                    unknown: chartPlan('acoustic', ['spl_db', 'block_sequence', 'hum_hz']),
                    guessed: chartPlan(null, ['temperature_residual', 'winding_temperature']),
                    motor: ids(chartPlan('motor_current', ['sideband_db', 'sideband_lower_db', 'rms_a', 'load'])),
                };
            }""")
            assert [c["id"] for c in plans["unknown"]["charts"]] == ["f-hum_hz", "f-spl_db"]
            assert plans["unknown"]["family"] is None
            assert plans["guessed"]["family"] == "thermal" and plans["guessed"]["guessed"]
            assert [c["id"] for c in plans["guessed"]["charts"]] == ["residual", "temperature"]
            assert plans["motor"] == ["sidebands", "phase-rms", "f-load"]
            page.screenshot(path=str(tmp_path / "mentor-thermal.png"), full_page=True)

            # the learner page of the session charts the residual first as well
            learner_page = browser.new_context().new_page()
            learner_page.on("pageerror", lambda e: errors.append(str(e)))
            learner_page.goto(f"{lab.url}/session?id={lab.session_id}")
            _login(learner_page, "learner1@lab.local", lab.passwords["learner1@lab.local"])
            learner_page.wait_for_selector("#chart-f-temperature_residual", timeout=20_000)
            first = learner_page.eval_on_selector_all("#feature-charts .chart", "cs => cs.map(c => c.id)")[:2]
            assert first == ["chart-f-temperature_residual", "chart-f-winding_temperature"], first
            learner_page.screenshot(path=str(tmp_path / "learner-thermal.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
            lab.stop()
