"""The onboarding page in real headless Chromium: records, issuing, revoking and re-issuing kits, scope.

A hub under uvicorn on a free port with two SME sites. The hub operator
sees both sites' records, issues a kit from the form (the archive downloads
and is a valid kit for that site), is told in words what was wrong with a
kit for an unregistered asset, revokes and re-issues; the site's record
shows the kit issued, an overdue site is marked. The SME partner sees only
their own site and no kits.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from cloud.accounts.service import create_user
from cloud.database import utcnow
from cloud.hub import create_app
from cloud.onboarding.models import OnboardingRecord
from cloud.settings import HubSettings
from cloud.sites import service as reg
from contract.kit import read_archive
from tests.browser.serving import log_in, served
from tests.browser.test_browser import launch_chromium
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]
PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
SPEC = {"sources": [{"adapter": "opcua", "asset": "press-1",
                     "options": {"url": "opc.tcp://192.168.1.20:4840/", "namespace": "urn:teachfab:simulator",
                                 "browse_path": "Assets/press-1"}}],
        "pipelines": {"press-1": {"rpm": 1480, "bearing": "6205"}}}


@pytest.fixture
def hub(tmp_path):
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPS), ingest=False)
    with app.state.sessions() as db:
        acme = reg.create_site(db, "acme", "Acme Pumps", "sme")
        beta = reg.create_site(db, "beta", "Beta Foods", "sme")
        reg.create_asset(db, "acme", "press-1")
        reg.create_asset(db, "beta", "mixer-1")
        create_user(db, "sme@x.org", PW, ["sme_partner"], "Partner", sites=["acme"])
        # Beta registered 60 days ago and not live: overdue against the 8-week target
        db.get(OnboardingRecord, beta.id).registered_at = utcnow() - timedelta(days=60)
        db.commit()
        ids = {"acme": acme.id}
    with served(app) as base:
        yield app, base, ids


def _login(page, url, email, password=PW):
    log_in(page, url, email, password)


def _row(page, site):
    return page.eval_on_selector(f"#records tr[data-site={site}]",
                                 "r => ({cls: r.className, cells: [...r.cells].map(c => c.innerText)})")


def test_operator_issues_revokes_reissues_and_partner_sees_own_site(hub, tmp_path):
    from playwright.sync_api import sync_playwright

    app, base, ids = hub
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(accept_downloads=True)
        _login(page, f"{base}/onboarding", OPS["admin_email"], OPS["admin_password"])
        page.wait_for_selector("#records tr[data-site=beta]")
        acme, beta = _row(page, "acme"), _row(page, "beta")
        assert acme["cells"][0] == "Acme Pumps (acme)" and acme["cells"][2] == "—"
        assert acme["cells"][-1] == "next: kit issued" and "overdue" not in acme["cls"]
        assert beta["cells"][-1] == "overdue" and "overdue" in beta["cls"]
        assert beta["cells"][-2].startswith("60.0 / 56")
        assert page.is_visible("#kits-card")

        # a kit for an asset the site does not have: refused, and the banner says which
        page.select_option("#kit-site", "acme")
        page.fill("#kit-edge", "gw-1")
        bad = {**SPEC, "sources": [{**SPEC["sources"][0], "asset": "mixer-1"}], "pipelines": {}}
        page.fill("#kit-spec", json.dumps(bad))
        page.click("#kit-form button[type=submit]")
        page.wait_for_selector("#page-error:not([hidden])")
        assert "'mixer-1' is not registered at site 'acme'" in page.inner_text("#page-error")

        # the real one: the archive downloads at once and is a kit for acme/gw-1
        page.fill("#kit-spec", json.dumps(SPEC))
        with page.expect_download() as dl:
            page.click("#kit-form button[type=submit]")
        archive = tmp_path / dl.value.suggested_filename
        dl.value.save_as(archive)
        manifest, files = read_archive(archive)
        cfg = yaml.safe_load(files["edge.yaml"])
        assert (manifest["site"], cfg["site"], cfg["edge_id"]) == ("acme", "acme", "gw-1")
        assert cfg["broker_username"].startswith("acme/gw-1/k") and len(cfg["broker_password"]) >= 24
        wait_until(lambda: page.inner_text("#kit-result").startswith("kit 1 issued"), 30, what="the issue result")
        assert manifest["short_code"] in page.inner_text("#kit-result")
        wait_until(lambda: page.is_hidden("#page-error"), 30, what="the earlier refusal cleared")
        kit_row = "#kits tr[data-kit='1']"
        page.wait_for_selector(kit_row)
        assert "acme / gw-1" in page.inner_text(kit_row) and "active" in page.inner_text(kit_row)
        assert cfg["broker_password"] not in page.content()  # only the archive holds it
        wait_until(lambda: _row(page, "acme")["cells"][2] != "—", 30, what="kit issued on acme's record")
        assert _row(page, "acme")["cells"][-1] == "next: first data"

        # re-issue: a new archive with a new user; the old kit is revoked
        with page.expect_download() as dl2:
            page.click(f"{kit_row} button.reissue")
        again = tmp_path / ("re-" + dl2.value.suggested_filename)
        dl2.value.save_as(again)
        cfg2 = yaml.safe_load(read_archive(again)[1]["edge.yaml"])
        assert cfg2["broker_username"] != cfg["broker_username"]
        wait_until(lambda: "revoked" in page.inner_text(kit_row), 30, what="the old kit shown revoked")
        page.wait_for_selector("#kits tr[data-kit='2'] button.revoke")
        page.click("#kits tr[data-kit='2'] button.revoke")
        wait_until(lambda: "revoked" in page.inner_text("#kits tr[data-kit='2']"), 30, what="the new kit revoked")
        with page.expect_navigation():
            page.click("#logout")

        # the SME partner: their own site only, no kits
        _login(page, f"{base}/onboarding", "sme@x.org")
        page.wait_for_selector("#records tr[data-site=acme]")
        assert page.eval_on_selector_all("#records tbody tr", "rs => rs.map(r => r.dataset.site)") == ["acme"]
        assert page.is_hidden("#kits-card")
        assert page.is_hidden("#page-error")
        browser.close()
    assert Path(archive).exists()
