"""The wallet and the public verifier in real headless Chromium, against a running hub that issued two credentials.

Ana logs in on /wallet and sees her credential active with the skills it confirmed, downloads its JSON and makes
a share link; the link opens the verifier without a log-in and shows it verified. On /verify a pasted credential
verifies, a copy with one changed character does not (the signature check fails), and Ben's credential, revoked by
an operator, shows as revoked; the verdict comes in Slovenian once the language is switched.
"""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from tests.browser.test_browser import launch_chromium
from tests.learning.support import PW

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]


def _wallet_json(hub, email):
    token = hub.token(email)
    return httpx.get(f"{hub.url}/api/credentials/me", headers={"Authorization": f"Bearer {token}"}).json()


def _verify(page, hub, doc):
    page.goto(f"{hub.url}/verify")
    page.wait_for_selector("body[data-ready]")
    page.fill("#credential", json.dumps(doc))
    page.click("#verify")
    page.wait_for_selector("#result[data-ready]")
    return page.get_attribute("#result", "data-verified"), page.get_attribute("#result", "data-status")


def test_wallet_share_and_verify_pages(live_hub, tmp_path):
    from playwright.sync_api import sync_playwright

    hub = live_hub
    ben_doc = _wallet_json(hub, "ben@vet.example")[0]["document"]
    r = httpx.post(f"{hub.url}/api/credentials/{ben_doc['id']}/status",
                   json={"action": "revoke", "reason": "the evidence was not the team's own"},
                   headers={"Authorization": f"Bearer {hub.ops_token}"})
    assert r.status_code == 200, r.text
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(locale="en-GB", accept_downloads=True)
        # the wallet: log in through the page's form
        page.goto(f"{hub.url}/wallet")
        page.fill("#login-email", "ana@vet.example")
        page.fill("#login-password", PW)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#wallet[data-ready] .credential[data-status=active]")
        assert "active" in page.inner_text(".credential .badge")
        assert page.locator(".credential .raised li").count() >= 1
        with page.expect_download() as dl:
            page.click(".credential button.download")
        saved = tmp_path / "credential.json"
        dl.value.save_as(saved)
        ana_doc = json.loads(saved.read_text())
        assert ana_doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"] and "proof" in ana_doc
        page.click(".credential button.share")
        page.wait_for_selector(".share-link a")
        link = page.get_attribute(".share-link a", "href")
        assert link.startswith(f"{hub.url}/verify?share=")
        # the share link, in a fresh context without a log-in
        public = browser.new_context(locale="en-GB").new_page()
        public.goto(link)
        public.wait_for_selector("#result[data-ready]")
        assert public.get_attribute("#result", "data-verified") == "true"
        assert public.inner_text("#achievement-name") == ana_doc["credentialSubject"]["achievement"]["name"]
        assert public.locator("#evidence li").count() == len(ana_doc["evidence"])
        # the verifier: valid, tampered, revoked
        verifier = browser.new_context(locale="en-GB").new_page()
        assert _verify(verifier, hub, ana_doc) == ("true", "active")
        assert verifier.get_attribute("[data-check=signature]", "data-ok") == "true"
        tampered = copy.deepcopy(ana_doc)
        tampered["credentialSubject"]["achievement"]["name"] += "."
        assert _verify(verifier, hub, tampered)[0] == "false"
        assert verifier.get_attribute("[data-check=signature]", "data-ok") == "false"
        assert _verify(verifier, hub, ben_doc) == ("false", "revoked")
        assert verifier.get_attribute("[data-check=signature]", "data-ok") == "true"  # authentic, but revoked
        # the same verdict in Slovenian
        before = verifier.get_attribute("#result", "data-ready")
        verifier.select_option("#lang", "sl")
        verifier.wait_for_selector(f"#result:not([data-ready='{before}'])")
        assert verifier.inner_text("[data-check=status] span") == "preklicana"
        assert verifier.inner_text("#verdict") == "Ni preverjeno"
        browser.close()
