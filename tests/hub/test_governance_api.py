"""Governance over the hub's API: the access log records who read a learner's profile or a site's data and
shows it to that learner or SME partner (not to others); the export and the erasure by their routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.accounts.service import create_user
from cloud.challenges import ledger
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from tests.waiting import wait_until

PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("governance")
    app = create_app(HubSettings(db_path=str(tmp / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app) as client:
        with app.state.sessions() as db:
            for slug in ("plant-a", "plant-b"):
                reg.create_site(db, slug, slug.title(), "sme")
                reg.create_asset(db, slug, "press-1")
            ids = {"learner": create_user(db, "lea@x.org", PW, ["learner"], "Lea Learner").id,
                   "mentor": create_user(db, "men@x.org", PW, ["mentor"]).id,
                   "sme": create_user(db, "sme@x.org", PW, ["sme_partner"], sites=["plant-a"]).id,
                   "sme_b": create_user(db, "smeb@x.org", PW, ["sme_partner"], sites=["plant-b"]).id}
        tokens = {}
        for key, email, pw in (("learner", "lea@x.org", PW), ("mentor", "men@x.org", PW), ("sme", "sme@x.org", PW),
                               ("sme_b", "smeb@x.org", PW), ("ops", OPS["admin_email"], OPS["admin_password"])):
            r = client.post("/api/auth/token", data={"username": email, "password": pw})
            tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield app, client, tokens, ids


def test_reads_of_a_learners_profile_are_logged_and_shown_to_the_learner(hub):
    app, client, t, ids = hub
    assert client.get("/api/skills/me/profile", headers=t["learner"]).status_code == 200  # her own: not logged
    assert client.get(f"/api/skills/learners/{ids['learner']}/profile", headers=t["ops"]).status_code == 200
    log = wait_until(lambda: client.get("/api/me/access-log", headers=t["learner"]).json() or None, timeout=30,
                     what="the read in the access log")
    assert [(e["reader"], e["route"]) for e in log] == [
        (OPS["admin_email"], "/api/skills/learners/{user_id}/profile")]
    assert client.get("/api/me/access-log", headers=t["mentor"]).json() == []  # nobody read the mentor's


def test_reads_of_a_sites_data_are_shown_to_its_partner_only(hub):
    app, client, t, ids = hub
    assert client.get("/api/sites/plant-a/assets", headers=t["sme"]).status_code == 200  # their own: not logged
    assert client.get("/api/sites/plant-a/assets", headers=t["ops"]).status_code == 200
    assert client.get("/api/sites/plant-b/assets", headers=t["ops"]).status_code == 200
    log = wait_until(lambda: client.get("/api/governance/sites/plant-a/access-log", headers=t["sme"]).json() or None,
                     timeout=30, what="the read in the site's access log")
    assert [(e["reader"], e["subject"]) for e in log] == [(OPS["admin_email"], "plant-a")]
    assert client.get("/api/governance/sites/plant-a/access-log", headers=t["sme_b"]).status_code == 404
    by_ops = client.get("/api/governance/sites/plant-b/access-log", headers=t["ops"]).json()
    assert [e["subject"] for e in by_ops] == ["plant-b"]


def test_export_and_erasure_by_their_routes(hub):
    app, client, t, ids = hub
    doc = client.get("/api/me/export", headers=t["learner"]).json()
    assert doc["format"] == "teachfab-personal-data/1" and doc["profile"]["email"] == "lea@x.org"
    assert doc["areas"]["governance"]["reads_of_my_data"][0]["reader"] == OPS["admin_email"]
    r = client.post(f"/api/governance/users/{ids['learner']}/erasure", headers=t["ops"], json={"reason": "ticket 7"})
    assert r.status_code == 200, r.text
    assert r.json()["pseudonym"] == f"erased-{ids['learner']}" and r.json()["tokens_revoked"] >= 1
    assert client.get("/api/me/export", headers=t["learner"]).status_code == 401  # her tokens are revoked
    assert client.post("/api/auth/token", data={"username": "lea@x.org", "password": PW}).status_code == 401
    with app.state.sessions() as db:
        assert ledger.verify_chain(db)["ok"]
    r = client.post("/api/governance/retention/run", headers=t["ops"])
    assert r.status_code == 200 and set(r.json()["deleted"]) == {"telemetry", "waveforms", "quarantine",
                                                                 "learner_records", "access_log"}
    bad = client.put("/api/governance/sites/plant-a/retention", headers=t["ops"], json={"days": {"telemetry": 0}})
    assert bad.status_code == 422 and "nothing is kept forever" in bad.json()["detail"]
