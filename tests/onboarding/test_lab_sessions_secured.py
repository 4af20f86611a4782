"""A hub-run lab session on a broker that admits no anonymous client: the session's edge gets a user of its own.

Real parts: the secured Mosquitto (TLS, password and ACL files the hub
manages), the hub with its lab runner, the session process (the pack's
OPC UA simulator and an edge agent). The session's data reach the store;
while it runs, its broker user is in the broker's files with that edge's
topics only, its password is in the process's environment and not on its
command line; once it is closed, the user is gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.accounts.service import create_user
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from tests.onboarding.broker_fixture import SecureMosquitto
from tests.onboarding.test_kits import hub_settings
from tests.servers import OPERATOR
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
PW = "a-long-test-passphrase"


def _login(client, email, password=PW) -> dict:
    r = client.post("/api/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_lab_session_on_a_secured_broker_has_its_own_broker_user(tmp_path):
    broker = SecureMosquitto(tmp_path / "broker")
    try:
        app = create_app(HubSettings(**{**hub_settings(broker, tmp_path), "lab_sessions": True}))
        with TestClient(app) as client:
            wait_until(app.state.ingest.subscribed.is_set, 20, what="the hub subscribed")
            with app.state.sessions() as db:
                reg.create_site(db, "vet-lab", "VET college lab", "lab")
                users = {"mentor": create_user(db, "mentor@vet.example", PW, ["mentor"]),
                         "sme": create_user(db, "partner@acme.example", PW, ["sme_partner"], sites=["vet-lab"]),
                         "ana": create_user(db, "ana@learner.example", PW, ["learner"], "Ana")}
                ids = {k: u.id for k, u in users.items()}
            auth = {k: _login(client, u.email) for k, u in users.items()}
            auth["ops"] = _login(client, OPERATOR["admin_email"], OPERATOR["admin_password"])

            def call(method, path, who, expect=200, **kw):
                r = client.request(method, path, headers=auth[who], **kw)
                assert r.status_code == expect, (method, path, r.status_code, r.text)
                return r.json() if r.content else None

            team = call("POST", "/api/teams", "mentor", 201, json={"name": "Team Ana", "members": [ids["ana"]]})
            ch = call("POST", "/api/challenges", "mentor", 201, json={
                "name": "Pump 1", "site": "vet-lab", "pack": "outer-race-early",
                "parties": {"industry_partner": "Acme", "provider": "VET college", "hub": "Regional hub",
                            "mentor": "M. Entor"}, "teams": [team["id"]]})
            for who, party in (("sme", "industry_partner"), ("mentor", "provider"), ("ops", "hub")):
                call("POST", f"/api/challenges/{ch['id']}/signatures", who, 201, json={"party": party})
            call("POST", f"/api/challenges/{ch['id']}/activate", "mentor")
            session = call("POST", f"/api/challenges/{ch['id']}/sessions", "mentor", 201,
                           json={"team_id": team["id"], "speed": 10.0})
            sid, site, edge = session["id"], session["site"], session["edge"]
            user = f"{site}/{edge}/s{sid}"

            store = app.state.store
            wait_until(lambda: any(a["site"] == site for a in store.assets()), 120,
                       what="the session's telemetry stored", show=lambda: broker.log_text()[-2000:])
            assert app.state.ingest.quarantined == 0
            passwd, acl = broker.files.passwd_file.read_text(), broker.files.acl_file.read_text()
            assert f"\n{user}:$7$" in passwd
            assert f"user {user}\ntopic write tf/v1/{site}/{edge}/+/features" in acl
            assert f"topic read tf/v1/{site}/{edge}/cmd/#" in acl
            proc = app.state.lab.runner._running[sid].proc
            environ = dict(v.split("=", 1) for v in Path(f"/proc/{proc.pid}/environ").read_text().split("\0") if v)
            assert environ["TEACHFAB_EDGE_BROKER_USERNAME"] == user
            password = environ["TEACHFAB_EDGE_BROKER_PASSWORD"]
            assert len(password) >= 24 and password not in Path(f"/proc/{proc.pid}/cmdline").read_text()
            assert environ["TEACHFAB_EDGE_BROKER_CA"] == str(broker.ca)

            call("POST", f"/api/sessions/{sid}/close", "mentor")
            assert user not in broker.files.passwd_file.read_text()
            assert user not in broker.files.acl_file.read_text()
            assert app.state.kits.session_accounts == {}
    finally:
        broker.stop()
