"""The KPI routes over HTTP: who sees which sites, the logs' checks, CSV export, closing a period, the
ledger's verify route covering it, adopting a pathway. A real hub app (SQLite) under FastAPI's test client.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from cloud.accounts.service import create_user
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from contract.payloads import parse_message

PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
ALERT_TS = 1_793_000_000 * 10**9  # 2026-10-26


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    app = create_app(HubSettings(db_path=str(tmp_path_factory.mktemp("kpi") / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app) as client:
        with app.state.sessions() as db:
            for slug in ("acme", "beta"):
                reg.create_site(db, slug, slug.title(), "sme")
                reg.create_asset(db, slug, "press-1")
            create_user(db, "sme@x.org", PW, ["sme_partner"], sites=["acme"])
            create_user(db, "mentor@x.org", PW, ["mentor"])
            create_user(db, "ana@x.org", PW, ["learner"])
        app.state.store.write(parse_message("tf/v1/acme/gw/press-1/alert", json.dumps(
            {"v": 1, "edge": "gw", "boot": "b", "seq": 1, "ts": ALERT_TS, "score": 9.0, "threshold": 8.0,
             "message": "x"}).encode()))

        def token(email, pw=PW):
            return {"Authorization": "Bearer " + client.post("/api/auth/token", data={"username": email, "password": pw}
                                                             ).json()["access_token"]}
        yield client, {"ops": token(OPS["admin_email"], OPS["admin_password"]), "sme": token("sme@x.org"),
                       "mentor": token("mentor@x.org"), "ana": token("ana@x.org")}


def test_an_sme_partner_sees_their_own_sites_only(hub):
    client, t = hub
    ops = client.get("/api/kpis?first=2026-10&last=2026-11", headers=t["ops"]).json()
    assert ops["scope"] == "hub" and {s["site"] for s in ops["sites"]} == {"acme", "beta"}
    assert ops["periods"] == ["2026-10", "2026-11"]
    sme = client.get("/api/kpis?first=2026-10&last=2026-11", headers=t["sme"]).json()
    assert sme["scope"] == "sites:acme" and [s["site"] for s in sme["sites"]] == ["acme"]
    r = client.get("/api/kpis?site=beta", headers=t["sme"])
    assert r.status_code == 404 and r.json()["detail"] == "no site 'beta' in your scope"
    assert client.get("/api/kpis/sites/beta/settings", headers=t["sme"]).status_code == 404
    r = client.get("/api/kpis?first=2026-11&last=2026-01", headers=t["ops"])
    assert r.status_code == 422 and "is after" in r.json()["detail"]
    assert client.get("/api/kpis?first=2026-13", headers=t["ops"]).status_code == 422
    assert len(client.get("/api/kpis", headers=t["ops"]).json()["periods"]) == 12  # the last 12 months


def test_logs_check_their_input(hub):
    client, t = hub
    url = "/api/kpis/sites/acme/assets/press-1"
    r = client.post(f"{url}/stops", headers=t["sme"], json={"start": "2026-11-02T08:00:00"})
    assert r.status_code == 422 and "start: 2026-11-02T08:00:00 has no UTC offset" in r.json()["detail"]
    r = client.post(f"{url}/stops", headers=t["sme"], json={"start": "2026-11-02T08:00:00Z",
                                                            "end": "2026-11-02T07:00:00Z"})
    assert r.status_code == 422 and r.json()["detail"].startswith("end: 2026-11-02T07:00:00+00:00 is not after")
    assert client.post("/api/kpis/sites/beta/assets/press-1/stops", headers=t["sme"],
                       json={"start": "2026-11-02T08:00:00Z"}).status_code == 404
    stop = client.post(f"{url}/stops", headers=t["sme"], json={"start": "2026-11-02T08:00:00Z", "reason": "seized"})
    assert stop.status_code == 201 and stop.json()["end"] is None
    sid = stop.json()["id"]
    ended = client.post(f"/api/kpis/stops/{sid}/end", headers=t["ops"], json={"end": "2026-11-02T11:30:00Z"})
    assert ended.json()["end"] == "2026-11-02T11:30:00Z"
    assert client.post(f"/api/kpis/stops/{sid}/end", headers=t["ops"],
                       json={"end": "2026-11-02T12:00:00Z"}).status_code == 409
    wo = client.post(f"{url}/work-orders", headers=t["ops"], json={
        "number": "WO-7", "opened_at": "2026-11-02T08:10:00Z", "closed_at": "2026-11-02T11:30:00Z",
        "fault": "bearing", "action": "replaced the bearing", "fixed_first_time": True, "stop_id": sid,
        "alert_ts": ALERT_TS})
    assert wo.status_code == 201, wo.text
    assert client.post(f"{url}/work-orders", headers=t["ops"], json={
        "number": "WO-8", "opened_at": "2026-11-02T08:10:00Z", "fault": "x", "action": "none",
        "stop_id": 999}).json()["detail"] == "stop_id: 999 is not a stop of asset 'press-1'"
    assert client.post(f"{url}/alert-reviews", headers=t["ops"],
                       json={"alert_ts": ALERT_TS + 1, "confirmed": True}).status_code == 404
    assert client.post(f"{url}/alert-reviews", headers=t["ops"],
                       json={"alert_ts": ALERT_TS, "confirmed": True, "finding": "outer race"}).status_code == 201
    assert client.post(f"{url}/alert-reviews", headers=t["ops"],
                       json={"alert_ts": ALERT_TS, "confirmed": False}).status_code == 409
    log = client.get("/api/kpis/sites/acme/log", headers=t["sme"]).json()
    assert [s["reason"] for s in log["stops"]] == ["seized"] and log["work_orders"][0]["number"] == "WO-7"
    rep = client.get("/api/kpis?first=2026-10&last=2026-11&site=acme", headers=t["sme"]).json()
    press = rep["sites"][0]["assets"]["press-1"]["series"]
    assert press["unplanned_downtime_h"][1]["value"] == pytest.approx(3.5)
    assert press["alert_precision"][0]["value"] == 1.0  # the October alert, confirmed
    assert press["first_time_fix"][1]["value"] == 1.0


def test_settings_csv_close_and_the_ledger(hub):
    client, t = hub
    r = client.put("/api/kpis/sites/acme/settings", headers=t["ops"], json={
        "baseline_start": "2026-06-01T00:00:00Z", "baseline_end": "2026-09-01T00:00:00Z",
        "operating_hours_per_week": 80, "engineered": {"mttr_h": 6.0}})
    assert r.status_code == 200 and r.json()["operating_hours_per_week"] == 80
    assert client.put("/api/kpis/sites/acme/settings", headers=t["ops"],
                      json={"baseline_start": "2026-06-01T00:00:00Z"}).status_code == 422
    assert client.put("/api/kpis/sites/acme/settings", headers=t["sme"], json={}).status_code == 403
    export = client.get("/api/kpis/export?first=2026-11&last=2026-11&site=acme", headers=t["sme"]).json()
    assert export["filename"] == "teachfab-kpis-sites-acme-2026-11-2026-11.csv"
    rows = list(csv.DictReader(io.StringIO(export["text"])))
    mttr = next(r for r in rows if r["kpi"] == "mttr_h" and r["asset"] == "press-1")
    assert (mttr["period"], mttr["baseline"]) == ("2026-11", "6.0")
    closed = client.post("/api/kpis/closes", headers=t["ops"], json={"scope": "site:acme", "period": "2026-11"})
    assert closed.status_code == 201 and closed.json()["ok"] is True
    assert client.post("/api/kpis/closes", headers=t["ops"],
                       json={"scope": "site:acme", "period": "2026-11"}).status_code == 409
    assert client.post("/api/kpis/closes", headers=t["ops"],
                       json={"scope": "hub", "period": "2026-11"}).status_code == 201
    assert client.get("/api/ledger/verify", headers=t["ops"]).json()["ok"] is True
    assert [c["scope"] for c in client.get("/api/kpis/closes", headers=t["sme"]).json()] == ["site:acme"]
    one = client.get(f"/api/kpis/closes/{closed.json()['id']}", headers=t["sme"]).json()
    assert any(r["kpi"] == "mttr_h" for r in one["values"]["rows"])
    hub_close = client.get("/api/kpis/closes", headers=t["ops"]).json()[1]["id"]
    assert client.get(f"/api/kpis/closes/{hub_close}", headers=t["sme"]).status_code == 404


def test_a_learner_adopts_a_pathway(hub):
    client, t = hub
    r = client.post("/api/pathways/adopt", headers=t["ana"], json={"job_id": "reliability-engineer"})
    assert r.status_code == 201 and r.json()["job_id"] == "reliability-engineer" and r.json()["credentials"]
    assert client.post("/api/pathways/adopt", headers=t["ana"], json={"job_id": "no-such-job"}).status_code == 404
