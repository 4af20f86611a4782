"""A mentor reaches an SME's site only through a link to it, and a learner sees only their own teams.

Issue 17, finding 5: a mentor with no link to ``plant-b`` created a draft
challenge there and then read the site's telemetry, alerts, edges and
registry. Finding 11: ``GET /api/teams`` showed a learner other teams'
members and e-mails. Everything below goes through the HTTP API with real
tokens from ``POST /api/auth/token``.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from cloud.accounts.service import create_user
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from contract.payloads import parse_message

TS = 1_790_000_000_000_000_000
PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


def _login(client: TestClient, email: str, password: str = PW) -> dict:
    r = client.post("/api/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture()
def hub(tmp_path):
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app) as client:
        with app.state.sessions() as db:
            for slug, kind in (("plant-a", "sme"), ("plant-b", "sme"), ("lab", "lab")):
                reg.create_site(db, slug, slug.title(), kind)
            reg.create_asset(db, "plant-b", "pump-9")
            reg.create_edge(db, "plant-b", "gw-b")
            ids = {"stranger": create_user(db, "stranger@x.org", PW, ["mentor"]).id,
                   "linked": create_user(db, "linked@x.org", PW, ["mentor"], sites=["plant-b"]).id,
                   "partner": create_user(db, "partner@x.org", PW, ["sme_partner"], sites=["plant-b"]).id,
                   "ana": create_user(db, "ana@x.org", PW, ["learner"]).id,
                   "ben": create_user(db, "ben@x.org", PW, ["learner"]).id}
        env = {"v": 1, "edge": "gw-b", "boot": "b1"}
        for seq, (kind, body) in enumerate((
                ("status", {"state": "online", "ts": TS, "assets": ["pump-9"]}),
                ("pump-9/features", {"records": [{"ts": TS, "features": {"rms": 0.1}, "score": 1.0}]}),
                ("pump-9/alert", {"ts": TS, "score": 9.0, "threshold": 8.0, "message": "high"})), start=1):
            app.state.store.write(parse_message(f"tf/v1/plant-b/gw-b/{kind}",
                                                json.dumps({**env, "seq": seq, **body}).encode()))
        yield client, ids


def _reach(client, auth) -> dict[str, int | list]:
    """What the caller reaches of plant-b: each route's status (or the list it gets)."""
    assets = client.get("/api/assets", headers=auth).json()
    alerts = client.get("/api/alerts", headers=auth).json()
    return {"assets": sorted(a["asset"] for a in assets if a["site"] == "plant-b"),
            "alerts": sorted(a["asset"] for a in alerts if a["site"] == "plant-b"),
            "telemetry": client.get("/api/assets/plant-b/pump-9/telemetry", headers=auth).status_code,
            "edge": client.get("/api/edges/plant-b/gw-b", headers=auth).status_code,
            "edges": client.get("/api/sites/plant-b/edges", headers=auth).status_code,
            "registry": client.get("/api/sites/plant-b/assets", headers=auth).status_code}


NONE = {"assets": [], "alerts": [], "telemetry": 404, "edge": 404, "edges": 404, "registry": 404}
WHOLE = {"assets": ["pump-9"], "alerts": ["pump-9"], "telemetry": 200, "edge": 200, "edges": 200, "registry": 200}


def _challenge(name: str, site: str = "plant-b", **extra) -> dict:
    return {"name": name, "site": site, "pack": "outer-race-early", **extra}


def test_a_mentor_without_a_link_cannot_create_a_challenge_at_the_site(hub):
    client, ids = hub
    stranger = _login(client, "stranger@x.org")
    r = client.post("/api/challenges", headers=stranger, json=_challenge("Pump watch"))
    assert r.status_code == 403 and "plant-b" in r.json()["detail"]
    assert client.get("/api/challenges", headers=stranger).json() == []
    assert _reach(client, stranger) == NONE
    # a teaching lab needs no link; an SME site the mentor is a member of neither
    assert client.post("/api/challenges", headers=stranger, json=_challenge("Lab run", "lab")).status_code == 201
    linked = _login(client, "linked@x.org")
    assert _reach(client, linked) == WHOLE
    assert client.post("/api/challenges", headers=linked, json=_challenge("Pump watch")).status_code == 201


def test_a_draft_grants_no_reach_until_every_party_signs(hub):
    client, ids = hub
    ops = _login(client, OPS["admin_email"], OPS["admin_password"])
    r = client.post("/api/challenges", headers=ops, json=_challenge("Pump watch", mentors=[ids["stranger"]]))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    stranger = _login(client, "stranger@x.org")
    assert [c["id"] for c in client.get("/api/challenges", headers=stranger).json()] == [cid]
    assert _reach(client, stranger) == NONE  # staff of a draft: the challenge, not the site
    # nor does the draft count as a link for creating another one
    assert client.post("/api/challenges", headers=stranger, json=_challenge("Second")).status_code == 403
    for who, party in ((ops, "hub"), (stranger, "provider"), (_login(client, "partner@x.org"), "industry_partner")):
        assert client.post(f"/api/challenges/{cid}/signatures", headers=who, json={"party": party}).status_code == 201
    assert client.get(f"/api/challenges/{cid}", headers=ops).json()["status"] == "signed"
    stranger = _login(client, "stranger@x.org")
    assert _reach(client, stranger) == WHOLE
    assert client.post("/api/challenges", headers=stranger, json=_challenge("Second")).status_code == 201


def test_a_learner_sees_only_their_own_teams_members(hub):
    client, ids = hub
    linked = _login(client, "linked@x.org")
    blue = client.post("/api/teams", headers=linked, json={"name": "Blue", "members": [ids["ana"]]}).json()["id"]
    red = client.post("/api/teams", headers=linked, json={"name": "Red", "members": [ids["ben"]]}).json()["id"]
    r = client.post("/api/challenges", headers=linked, json=_challenge("Pump watch", teams=[blue, red]))
    assert r.status_code == 201, r.text
    ana = _login(client, "ana@x.org")
    seen = client.get("/api/teams", headers=ana).json()
    assert [(t["name"], [m["email"] for m in t["members"]]) for t in seen] == [("Blue", ["ana@x.org"])]
    assert "ben@x.org" not in json.dumps(seen)
    assert {t["name"] for t in client.get("/api/teams", headers=linked).json()} == {"Blue", "Red"}
