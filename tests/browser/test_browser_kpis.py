"""The KPI page and a learning unit offered beside a live alert, in real headless Chromium.

A hub runs under uvicorn on a free port with a hand-built November 2026:
a closed challenge at the lab whose credential was issued, stops and a
work order at the SME's press. The operator sees the whole hub, publishes
November into the ledger and downloads the CSV; the SME partner sees their
own site only. A learner (Spanish) opens the session page: beside the
outer-race alert the hub offers its unit in Spanish; opening it is
recorded, and the follow-up self-assessment enters her profile; on the
portal she adopts the recommended pathway.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from cloud.accounts.service import create_user
from cloud.challenges import charters, teams
from cloud.challenges.models import Charter, CharterStatus, Evidence, LabSession, Outcome, SessionStatus
from cloud.hub import create_app
from cloud.kpis.models import PathwayAdoption, StopEvent, WorkOrder
from cloud.learnflow.models import LearningOffer
from cloud.settings import HubSettings
from cloud.sites import service as reg
from cloud.skills.models import Preference, SkillLevel
from contract.payloads import parse_message
from tests.browser.serving import log_in, served
from tests.browser.test_browser import launch_chromium
from tests.waiting import wait_until

PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
UTC = timezone.utc
ALERT_TS = 1_793_000_000 * 10**9  # 2026-10-26


def _put(store, site, asset, kind, seq, body):
    store.write(parse_message(f"tf/v1/{site}/gw/{asset}/{kind}",
                              json.dumps({"v": 1, "edge": "gw", "boot": "b", "seq": seq, **body}).encode()))


@pytest.fixture
def hub(tmp_path):
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPS), ingest=False)
    with app.state.sessions() as db:
        reg.create_site(db, "lab", "VET lab", "lab")
        reg.create_site(db, "acme", "Acme Pumps", "sme")
        reg.create_site(db, "beta", "Beta Foods", "sme")
        reg.create_asset(db, "lab", "pump-1")
        press = reg.create_asset(db, "acme", "press-1")
        reg.create_asset(db, "beta", "mixer-1")
        ana = create_user(db, "ana@x.org", PW, ["learner"], "Ana")
        mentor = create_user(db, "mentor@x.org", PW, ["mentor"], "Mentor")
        assessor = create_user(db, "assessor@x.org", PW, ["assessor"], "Assessor")
        create_user(db, "sme@x.org", PW, ["sme_partner"], "Partner", sites=["acme"])
        db.add(Preference(user_id=ana.id, language="es"))
        team = teams.create_team(db, "Blue", [ana])
        c = charters.create_challenge(db, "Pump 1", "lab", pack_id="outer-race-early", teams=[team],
                                      mentors=[mentor], assets=["pump-1"],
                                      parties={"industry_partner": "Acme", "provider": "VET", "hub": "Hub",
                                               "mentor": "M"})
        charter = db.get(Charter, c.id)
        charter.status = CharterStatus.closed
        charter.activated_at = datetime(2026, 10, 20, tzinfo=UTC)
        charter.closed_at = datetime(2026, 11, 10, tzinfo=UTC)
        s = LabSession(kind="lab", challenge_id=c.id, team_id=team.id, pack_id="outer-race-early", scenario="s",
                       site="lab", edge="gw", assets=["pump-1"], speed=1.0, status=SessionStatus.closed,
                       started_by=mentor.id, started_at=datetime(2026, 10, 26, tzinfo=UTC),
                       start_ns=ALERT_TS - 60 * 10**9,
                       duration_s=600.0, ground_truth=[], closed_at=datetime(2026, 10, 26, 0, 10, tzinfo=UTC),
                       end_ns=ALERT_TS + 540 * 10**9)
        db.add(s)
        db.flush()
        db.add(Evidence(session_id=s.id, asset="pump-1", document={"final": {"acceptance": {"met": True}}},
                        sha256="0" * 64, ledger_hash="0" * 64))
        db.add(Outcome(session_id=s.id, result="pass", weighted_level=3.0, signed_off_by=assessor.id,
                       signed_off_at=datetime(2026, 11, 5, 9, tzinfo=UTC),
                       credential_due_at=datetime(2026, 11, 19, 9, tzinfo=UTC),
                       credential_decided_at=datetime(2026, 11, 12, 9, tzinfo=UTC), credential_decision="issued",
                       ledger_hash="0" * 64, document={"learners": [{"id": ana.id}],
                                                       "credentials": [{"id": "pdm-bearing-early-detection"}]}))
        db.add(StopEvent(asset_id=press.id, start=datetime(2026, 11, 2, 8, tzinfo=UTC),
                         end=datetime(2026, 11, 2, 12, tzinfo=UTC), planned=False, reason="bearing seized",
                         logged_by=mentor.id))
        db.add(WorkOrder(asset_id=press.id, number="WO-1", opened_at=datetime(2026, 11, 2, 8, tzinfo=UTC),
                         closed_at=datetime(2026, 11, 2, 12, tzinfo=UTC), fault="bearing", action="replaced",
                         fixed_first_time=True, logged_by=mentor.id))
        db.commit()
        ids = {"ana": ana.id, "session": s.id}
    _put(app.state.store, "lab", "pump-1", "alert", 1, {
        "ts": ALERT_TS, "score": 31.0, "threshold": 9.8,
        "message": "anomaly score 31 above 9.8 for 2 windows; most deviating feature: env_bpfo_hsnr (z = +8.1)"})
    with served(app) as base:
        yield app, base, ids


def _login(page, url, email, password=PW):
    log_in(page, url, email, password)


def _loaded(page):
    wait_until(lambda: page.evaluate("document.body.dataset.loaded || ''"), timeout=60, what="the KPI report")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_kpi_page_operator_and_sme_partner(hub):
    from playwright.sync_api import sync_playwright

    app, base, ids = hub
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        _login(page, f"{base}/kpis", OPS["admin_email"], OPS["admin_password"])
        _loaded(page)
        page.fill("#first", "2026-10")
        page.fill("#last", "2026-11")
        page.click("#filters button[type=submit]")
        wait_until(lambda: page.inner_text("#scope").startswith("hub · 2026-10 – 2026-11"), timeout=60,
                   what="the report of October-November")
        row = "#learning-kpis tr[data-kpi=credential_attainment]"
        assert page.inner_text(f"{row} .kpi-value").startswith("100.0 %")  # Ana's, issued before 17 Nov
        assert page.inner_text("#learning-kpis tr[data-kpi=challenge_closure] .kpi-value").startswith("100.0 %")
        assert page.inner_text("#learning-kpis tr[data-kpi=signoff_to_credential_h] .kpi-value").startswith("168.00 h")
        assert {s for s in page.eval_on_selector_all("#sites section", "ns => ns.map(n => n.dataset.site)")} == \
            {"lab", "acme", "beta"}
        assert page.inner_text("#ops-acme-press-1 tr[data-kpi=unplanned_downtime_h] .kpi-value").startswith("4.00 h")
        wait_until(lambda: page.evaluate("document.querySelectorAll('#chart-learning .scatterlayer .trace').length")
                   >= 2, timeout=30, what="the learning plot")
        # publish November: ledgered and verified
        page.fill("#close-period", "2026-11")
        page.click("#close-form button[type=submit]")
        page.wait_for_selector("#closes li.ok")
        assert "2026-11 · hub" in page.inner_text("#closes li.ok") and "verified" in page.inner_text("#closes li.ok")
        with page.expect_download() as dl:
            page.click("#csv")
        rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
        downtime = [r for r in rows if r["kpi"] == "unplanned_downtime_h" and r["asset"] == "press-1"]
        assert [(r["period"], float(r["value"])) for r in downtime] == [("2026-10", 0.0), ("2026-11", 4.0)]
        with page.expect_navigation():  # log-out reloads the page; a goto during that reload is aborted
            page.click("#logout")

        _login(page, f"{base}/kpis", "sme@x.org")
        _loaded(page)
        assert page.eval_on_selector_all("#sites section", "ns => ns.map(n => n.dataset.site)") == ["acme"]
        assert page.inner_text("#scope").startswith("sites:acme")
        assert page.is_hidden("#close-form")
        assert "no period published yet" in page.inner_text("#closes")  # the hub's close is not theirs
        browser.close()


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_alert_offers_a_unit_open_is_recorded_and_follow_up_enters_the_profile(hub):
    from playwright.sync_api import sync_playwright

    app, base, ids = hub
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page()
        _login(page, f"{base}/session?id={ids['session']}", "ana@x.org")
        offer = "#alerts .unit-offer[data-unit=outer-race-envelope] button"
        page.wait_for_selector(offer, timeout=60_000)
        assert page.inner_text(offer) == \
            "Defecto en la pista exterior del rodamiento: cómo leer un espectro de envolvente"  # her language
        with app.state.sessions() as db:
            row = db.scalar(select(LearningOffer))
            assert (row.user_id, row.unit_id, row.event_ts, row.opened_at) == (ids["ana"], "outer-race-envelope",
                                                                                 ALERT_TS, None)
        page.click(offer)
        page.wait_for_selector("#unit-panel .follow-up")
        assert "BPFO = n·fr/2" in page.inner_text("#unit-panel .unit-body")
        assert page.evaluate("document.getElementById('unit-panel').dataset.opened") != ""

        def opened():
            with app.state.sessions() as db:
                return db.scalar(select(LearningOffer.opened_at))
        assert wait_until(opened, timeout=10, what="the open to be recorded")
        page.check("#unit-panel .follow-up input[value='3']")
        page.click("#unit-panel .follow-up button[type=submit]")
        page.wait_for_selector("#unit-panel .follow-up-done")
        with app.state.sessions() as db:
            row = db.scalar(select(LearningOffer))
            assert row.completed_at is not None and row.follow_up_level == 3
            level = db.get(SkillLevel, (ids["ana"], "signal-processing"))
            assert (level.self_level, level.source) == (3, "self")
        # the portal's pathway: she adopts it, which the pathway KPIs count
        page.goto(f"{base}/skills#pathway?job=predictive-maintenance-specialist")
        page.click("#pathway-adopt")
        page.wait_for_selector("#pathway-adopted:not([hidden])")
        assert page.inner_text("#pathway-adopted").startswith("Adoptaste este itinerario el ")
        with app.state.sessions() as db:
            adopted = db.scalar(select(PathwayAdoption))
            steps = page.eval_on_selector_all("#pathway > li", "ls => ls.map(l => l.dataset.entry)")
            assert (adopted.user_id, adopted.job_id, adopted.credentials) == (
                ids["ana"], "predictive-maintenance-specialist", steps)
        browser.close()
