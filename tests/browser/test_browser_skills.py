"""The skills portal in real headless Chromium, in English, Slovenian and Spanish.

A hub runs under uvicorn on a free port. A learner logs in through the
page's own form, sees the empty dashboard with its clear start, gets skills
suggested from free text and confirms them, saves the self-assessment;
evidence of a lab session then raises one skill (as the sign-off hook
would), and the profile matrix shows the source badges and the history
naming the session; job matches, the pathway (ordered, ECTS total) with a
filter, and the catalogue search follow. She switches to Slovenian: the
navigation, the data labels and the hub's refusals come in Slovenian. The
mentor sees the team's gaps, the SME partner only the company aggregate
of consenting learners, and a learner invited by the mentor joins in
Spanish and lands on the Spanish portal.
"""

from __future__ import annotations


import pytest

from cloud.accounts.service import create_user
from cloud.challenges import teams
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from cloud.skills import profiles, sharing
from tests.browser.serving import log_in, served
from tests.browser.test_browser import launch_chromium
from tests.waiting import wait_in_page, wait_until

PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


@pytest.fixture
def portal(tmp_path):
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPS), ingest=False)
    with app.state.sessions() as db:
        reg.create_site(db, "acme", "Acme Pumps", "sme")
        reg.create_site(db, "lab", "VET lab", "lab")
        ana = create_user(db, "ana@x.org", PW, ["learner"], "Ana")
        mates = [create_user(db, f"m{i}@x.org", PW, ["learner"], f"Mate {i}") for i in range(3)]
        mentor = create_user(db, "mentor@x.org", PW, ["mentor"], "Mentor")
        create_user(db, "sme@x.org", PW, ["sme_partner"], "Partner", sites=["acme"])
        team = teams.create_team(db, "Blue", [ana, *mates])
        teams.create_challenge(db, "Pump watch", "lab", [], [team], [mentor])
        for i, m in enumerate(mates):
            profiles.propose(db, m.id, "signal-processing", i + 1, "self", {"kind": "seed"})
            sharing.set_consents(db, m.id, ["acme"], commit=False)
        db.commit()
        ids = {"ana": ana.id, "team": team.id}
    with served(app) as base:
        yield app, base, ids


def _login(page, url, email):
    log_in(page, url, email, PW)


def _view(page, name):
    page.wait_for_selector(f"#view[data-view={name}][data-ready]")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(240)
def test_the_portal_walk_in_two_languages(portal):
    from playwright.sync_api import sync_playwright

    app, base, ids = portal
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(locale="en-GB")
        _login(page, f"{base}/skills", "ana@x.org")
        # the empty state with a clear start
        page.wait_for_selector("#start-self")
        assert page.inner_text("#view h2") == "Welcome! Your skill profile is empty"
        page.click("#start-self")
        _view(page, "self")
        page.fill("#experience", "I did vibration analysis on pumps and wrote Python scripts")
        page.click("#suggest")
        page.wait_for_selector("#suggestions li[data-skill=signal-processing]")
        assert page.eval_on_selector_all("#suggestions li[data-skill]", "ls => ls.map(l => l.dataset.skill)") == [
            "signal-processing", "python"]
        page.select_option("#suggestions li[data-skill=signal-processing] select", "2")
        page.click("#suggestions li[data-skill=signal-processing] button.confirm")
        page.click("#suggestions li[data-skill=python] button.remove")  # removed: it stays out of the profile
        assert page.input_value("#self-form select[data-skill=signal-processing]") == "2"
        assert page.input_value("#self-form select[data-skill=python]") == ""
        page.select_option("#self-form select[data-skill=sensors]", "1")
        page.click("#self-form button[type=submit]")
        page.wait_for_selector("#self-result .ok")
        assert page.inner_text("#self-result") == "Saved 2 level(s)."
        # a lab session's evidence raises sensors (what the hub's hook does at close)
        with app.state.sessions() as db:
            profiles.propose(db, ids["ana"], "sensors", 2, "evidence",
                             {"kind": "evidence", "session": 7, "credential": "pdm-bearing-early-detection",
                              "met": [{"asset": "pump-1", "criteria": [{"metric": "detection_delay_s", "op": "<=",
                                                                        "value": 60, "measured": 10.2}]}]})
            db.commit()
        page.goto(f"{base}/skills#profile")
        _view(page, "profile")
        assert page.get_attribute(".profile-matrix tr[data-skill=sensors]", "data-source") == "evidence"
        assert page.inner_text(".profile-matrix tr[data-skill=sensors] .src") == "evidence-verified"
        assert page.inner_text(".profile-matrix tr[data-skill=signal-processing] .src") == "self-assessed"
        page.click(".profile-matrix tr[data-skill=sensors] summary")
        history = page.inner_text(".profile-matrix tr[data-skill=sensors] details ol")
        assert "session 7" in history and "detection_delay_s <= 60 (10.2)" in history
        # job matches, then the pathway and a filter
        page.click("nav a[data-view=matches]")
        _view(page, "matches")
        fits = page.eval_on_selector_all("#matches > li", "ls => ls.map(l => Number(l.dataset.fit))")
        assert fits == sorted(fits, reverse=True) and fits[0] > 0
        cm = "#matches > li[data-job=condition-monitoring-technician]"
        assert page.get_attribute(f"{cm} .ind[data-skill=signal-processing]", "data-status") == "under"
        assert page.get_attribute(f"{cm} .ind[data-skill=sensors]", "data-status") == "met"
        page.click(f"{cm} a[href^='#pathway']")
        _view(page, "pathway")
        total = page.inner_text("#pathway-total")
        steps = page.eval_on_selector_all("#pathway > li", "ls => ls.map(l => l.dataset.entry)")
        assert "ECTS in total" in total and steps.index("vibration-analysis-1") < steps.index("vibration-analysis-2")
        page.select_option("#f-mode", "online")
        wait_until(lambda: "mode=online" in page.url, what="the filter in the address")
        _view(page, "pathway")
        page.wait_for_selector("#unclosable")
        # the catalogue's search and filters
        page.click("nav a[data-view=catalogue]")
        _view(page, "catalogue")
        page.fill("#c-q", "vibration")
        page.select_option("#c-mode", "on-site")
        page.click("#cat-filters button[type=submit]")
        wait_in_page(page, "document.querySelector('#cat-count')?.textContent === '3 entries'")
        assert page.eval_on_selector_all("#catalogue article", "as => as.map(a => a.dataset.entry)") == [
            "rotating-machinery-maintenance", "vibration-analysis-1", "vibration-analysis-2"]
        # Slovenian: the page, the data labels and the hub's refusals
        page.select_option("#lang", "sl")
        wait_in_page(page, "document.querySelector('nav a[data-view=pathway]')?.textContent === 'Učna pot'")
        page.click("nav a[data-view=profile]")
        _view(page, "profile")
        wait_in_page(page, "document.querySelector('.profile-matrix tr[data-skill=sensors] .src')?.textContent"
                               " === 'potrjeno z dokazi'")
        assert page.inner_text(".profile-matrix tr[data-skill=signal-processing] td") == "obdelava signalov"
        page.goto(f"{base}/skills#gaps?job=no-such-job")
        page.wait_for_selector("#page-error:not([hidden])")
        assert "poklicnega profila 'no-such-job' ni" in page.inner_text("#page-error")
        page.reload()
        page.wait_for_selector("nav a[data-view=pathway]")
        assert page.inner_text("nav a[data-view=pathway]") == "Učna pot"  # the choice is remembered by the hub
        page.close()

        # the mentor: the team's gaps; an invitation
        staff = browser.new_page(locale="en-GB")
        _login(staff, f"{base}/skills#team", "mentor@x.org")
        _view(staff, "team")
        staff.select_option(".job-select", "condition-monitoring-technician")
        staff.wait_for_selector("#team-out .aggregate tr[data-skill=signal-processing]")
        assert staff.inner_text("#team-out .aggregate tr[data-skill=signal-processing] .short") == "3"  # levels 2, 1, 2, 3 against 3
        staff.fill("#invite-email", "nova@x.org")
        staff.select_option("#invite-lang", "es")
        staff.click("#invite button[type=submit]")
        staff.wait_for_selector("#invite-result .ok")
        link = staff.inner_text("#invite-result").split("Send this link: ")[1].strip()
        staff.close()

        # the SME partner: only the aggregate of the three consenting learners
        sme = browser.new_page(locale="en-GB")
        _login(sme, f"{base}/skills", "sme@x.org")
        _view(sme, "company")
        assert sme.inner_text("#consenting") == "3 learner(s) share with this company."
        assert sme.query_selector("#company-out .aggregate") is not None and "Ana" not in sme.inner_text("#view")
        sme.close()

        # joining in Spanish
        new = browser.new_page(locale="es-ES")
        new.goto(link)
        new.wait_for_selector("#join-card:not([hidden])")
        assert new.inner_text("#join-card h2") == "Bienvenido a TeachFab"
        new.fill("#join-password", "short")
        new.click("#join-form button[type=submit]")
        new.wait_for_selector("#join-result .error")
        assert "la contraseña tiene 5 caracteres" in new.inner_text("#join-result")
        new.fill("#join-name", "Nova")
        new.fill("#join-password", "a-new-learners-passphrase")
        new.check("#join-companies input[value=acme]")
        new.click("#join-form button[type=submit]")
        new.wait_for_selector("#start-self")
        assert new.inner_text("#view h2") == "¡Bienvenido! Su perfil de competencias está vacío"
        browser.close()
