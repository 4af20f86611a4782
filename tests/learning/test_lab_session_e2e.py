"""A remote lab session end to end, with real parts: Mosquitto, the hub (ingest + API + lab runner),
the pack's OPC UA simulator and an edge agent that obeys only hub-signed deploys.

Two teams run pack 1 (early outer-race detection) at once, sped up: one
deploys a pipeline that detects the spall, the other the same pipeline
with a threshold far too low. When the sessions close, the hub's evidence
shows a detection delay consistent with the scenario's onset and no false
alarms for the first ("met"), false alarms per hour above the charter's
limit for the second ("not met"). Assessors from both sides score the
rubric, a mentor moderates where they disagree, the outcome is signed off
and recorded, and the service levels and the hash chain are checked.
"""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import text

from cloud.accounts.service import create_user
from cloud.credentials.dataintegrity import secret_multikey
from cloud.hub import create_app
from cloud.settings import HubSettings
from contract.signing import generate_keypair, save_private_key
from labs.packs import load_pack
from tests.servers import OPERATOR, Mosquitto, free_port
from tests.waiting import wait_until

PW = "a-long-test-passphrase"
SPEED = 10.0          # scenario seconds per wall second
AFTER_ONSET_S = 90.0  # the mentor closes a session this long (scenario time) after its fault's onset
PACK = "outer-race-early"


def _login(client, email, password=PW) -> dict:
    r = client.post("/api/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab-e2e")
    broker = Mosquitto(tmp)
    key, _ = generate_keypair()
    save_private_key(key, tmp / "hub-key.pem")
    settings = HubSettings(broker=broker.url, issuer_country="SI",  # an awarding body issues credentials
                           credential_key_secret=secret_multikey(Ed25519PrivateKey.generate()), db_path=str(tmp / "hub.sqlite"), http_port=free_port(),
                           command_key=str(tmp / "hub-key.pem"), command_key_id="hub-test", **OPERATOR)
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            with app.state.sessions() as db:
                from cloud.sites import service as reg

                reg.create_site(db, "vet-lab", "VET college lab", "lab")
                users = {
                    "mentor": create_user(db, "mentor@vet.example", PW, ["mentor"]),
                    "academic": create_user(db, "academic@vet.example", PW, ["assessor"]),
                    "industrial": create_user(db, "industrial@acme.example", PW, ["assessor"]),
                    "sme": create_user(db, "partner@acme.example", PW, ["sme_partner"], sites=["vet-lab"]),
                    "ana": create_user(db, "ana@learner.example", PW, ["learner"], "Ana"),
                    "ben": create_user(db, "ben@learner.example", PW, ["learner"], "Ben"),
                    "outsider": create_user(db, "eve@learner.example", PW, ["learner"]),
                }
                ids = {k: u.id for k, u in users.items()}
            auth = {k: _login(client, u.email) for k, u in users.items()}
            auth["ops"] = _login(client, OPERATOR["admin_email"], OPERATOR["admin_password"])
            yield client, auth, ids, app
    finally:
        broker.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)  # 33 s of scenario at 10x, then close, assessment
def test_session_evidence_assessment_and_outcome(lab):
    client, auth, ids, app = lab

    def call(method, path, who, expect, **kw):
        r = client.request(method, path, headers=auth[who], **kw)
        assert r.status_code == expect, (method, path, who, r.status_code, r.text)
        return r.json() if r.content else None

    # --- teams, challenge from the pack, co-signed charter -------------------------------------
    good = call("POST", "/api/teams", "mentor", 201, json={"name": "Team Ana", "members": [ids["ana"]]})
    bad = call("POST", "/api/teams", "mentor", 201, json={"name": "Team Ben", "members": [ids["ben"]]})
    ch = call("POST", "/api/challenges", "mentor", 201, json={
        "name": "Pump 1: early outer-race detection", "site": "vet-lab", "pack": PACK,
        "parties": {"industry_partner": "Acme Pumps", "provider": "VET college", "hub": "Regional hub",
                    "mentor": "M. Entor"},
        "teams": [good["id"], bad["id"]], "academic_assessors": [ids["academic"]],
        "industrial_assessors": [ids["industrial"]]})
    cid = ch["id"]
    assert ch["status"] == "draft" and ch["unsigned"] == ["hub", "industry_partner", "provider"]
    call("POST", f"/api/challenges/{cid}/sessions", "mentor", 409, json={"team_id": good["id"]})  # not active
    call("POST", f"/api/challenges/{cid}/signatures", "mentor", 403, json={"party": "hub"})  # wrong party
    call("POST", f"/api/challenges/{cid}/signatures", "sme", 201, json={"party": "industry_partner"})
    call("PUT", f"/api/challenges/{cid}/charter", "mentor", 409, json={"charter": ch["charter"]})  # signed: frozen
    call("POST", f"/api/challenges/{cid}/signatures", "mentor", 201, json={"party": "provider"})
    signed = call("POST", f"/api/challenges/{cid}/signatures", "ops", 201, json={"party": "hub"})
    assert signed["status"] == "signed" and {s["party"] for s in signed["signatures"]} == \
        {"industry_partner", "provider", "hub"}
    assert call("POST", f"/api/challenges/{cid}/activate", "mentor", 200)["status"] == "active"

    # --- two sessions at once: a good and a bad pipeline, deployed by the learners through the hub ---
    s_good = call("POST", f"/api/challenges/{cid}/sessions", "mentor", 201,
                  json={"team_id": good["id"], "speed": SPEED})
    s_bad = call("POST", f"/api/challenges/{cid}/sessions", "mentor", 201,
                 json={"team_id": bad["id"], "speed": SPEED})
    starter = load_pack(PACK).starter_pipeline.model_dump(mode="json", exclude={"lineage"})
    detects = {**starter, "name": "ana-spall-watch"}
    too_low = {**starter, "name": "ben-hair-trigger", "threshold": 2.0}
    d_good = call("POST", f"/api/sessions/{s_good['id']}/deployments", "ana", 202,
                  json={"asset": "pump-1", "pipeline": detects, "note": "envelope hSNR at BPFO; frozen model"})
    d_bad = call("POST", f"/api/sessions/{s_bad['id']}/deployments", "ben", 202,
                 json={"asset": "pump-1", "pipeline": too_low})
    call("POST", f"/api/sessions/{s_good['id']}/deployments", "ben", 404,  # not Ben's team: not even visible
         json={"asset": "pump-1", "pipeline": too_low})
    call("POST", f"/api/sessions/{s_good['id']}/deployments", "ana", 422,
         json={"asset": "pump-1", "pipeline": {**detects, "threshold": "high"}})
    call("GET", f"/api/sessions/{s_good['id']}", "outsider", 404)
    call("GET", f"/api/sessions/{s_good['id']}", "ben", 404)  # same challenge, other team
    assert [s["id"] for s in call("GET", "/api/sessions", "ben", 200)] == [s_bad["id"]]
    assert d_good["parent"] == s_good["deployments"][0]["hash"]  # lineage: parent = the starter

    running = call("GET", f"/api/sessions/{s_good['id']}", "ana", 200)
    assert running["status"] == "running" and running["ground_truth"] is None  # hidden from learners
    assert running["variant"] is None
    # each session runs its own assessed variant (drawn by the hub, not the pack's public script); staff see it
    staff = {s["id"]: call("GET", f"/api/sessions/{s['id']}", "mentor", 200) for s in (s_good, s_bad)}
    onset_s = {}
    for sid, view in staff.items():
        drawn = view["variant"]["drawn"]["faults"]["0"]["start_s"]
        [fault_truth] = [e for e in view["ground_truth"] if e["category"] == "fault"]
        assert fault_truth["start_ns"] == view["start_ns"] + round(drawn * 1e9) and 220 <= drawn <= 380
        onset_s[sid] = drawn
    assert staff[s_good["id"]]["variant"]["seed"] != staff[s_bad["id"]]["variant"]["seed"]

    # the session's edge applied the signed deploy: its birth names the learner's pipeline
    def answer() -> list[dict]:
        edge = client.get(f"/api/edges/{running['site']}/{running['edge']}", headers=auth["ana"]).json()
        return [r for r in edge.get("command_results", []) if r.get("bundle_id") == d_good["bundle_id"]]

    results = wait_until(answer, 20, 0.5, what="the edge's answer to the learner's deploy")
    assert results[0]["status"] == "accepted", results

    # the mentor closes both once each session's scenario clock is AFTER_ONSET_S past its fault's onset and the
    # data of both up to then is at the hub (the scenarios run on the wall clock at SPEED; on a loaded machine
    # the data may trail them, and evidence is scored from what the hub has)
    close_at_s = max(onset_s.values()) + AFTER_ONSET_S
    close_wall_ns = max(s["start_ns"] for s in (s_good, s_bad)) + int(close_at_s / SPEED * 1e9)

    def data_until_close() -> bool:  # a session's clock: start_ns + (wall - start_ns) * SPEED
        return all(app.state.store.telemetry(s["site"], asset, limit=1,
                                             since_ns=s["start_ns"] + int((close_wall_ns - s["start_ns"]) * SPEED) - 1)
                   for s in (s_good, s_bad) for asset in s["assets"])

    wait_until(lambda: time.time_ns() >= close_wall_ns and data_until_close(), close_at_s / SPEED + 60, 0.5,
               what=f"both sessions' data up to the close at scenario time {close_at_s:.0f} s")
    closed = {}
    for s, who in ((s_good, "mentor"), (s_bad, "ops")):
        closed[s["id"]] = call("POST", f"/api/sessions/{s['id']}/close", who, 200)
        assert closed[s["id"]]["status"] == "closed"
    call("POST", f"/api/sessions/{s_good['id']}/deployments", "ana", 409, json={"asset": "pump-1", "pipeline": detects})

    # --- evidence: detection consistent with the onset, no false alarm vs. far too many ------------
    ev_good = call("GET", f"/api/sessions/{s_good['id']}/evidence", "ana", 200)[0]
    ev_bad = call("GET", f"/api/sessions/{s_bad['id']}/evidence", "ben", 200)[0]
    assert ev_good["intact"] and ev_bad["intact"]
    final = ev_good["document"]["final"]
    assert final["pipeline"]["hash"] == d_good["hash"] and final["pipeline"]["author"] == "ana@learner.example"
    fault = final["evidence"]["faults"][0]
    truth = ev_good["document"]["ground_truth"]
    assert [e["event"] for e in truth if e["category"] == "fault"] == ["outer_race"]
    # the variant's onset on the session clock, revealed to the team now that the session is closed
    assert fault["start_ns"] == s_good["start_ns"] + round(onset_s[s_good["id"]] * 1e9)
    assert ev_good["document"]["variant"] == staff[s_good["id"]]["variant"]
    assert call("GET", f"/api/sessions/{s_good['id']}", "ana", 200)["variant"] == staff[s_good["id"]]["variant"]
    print(f"good: detected {fault['detection_delay_s']} s after onset, "
          f"{final['evidence']['false_alarms']} false alarms in {final['evidence']['healthy_hours'] * 60:.1f} min")
    assert fault["detected"] and 0.0 <= fault["detection_delay_s"] <= 120.0, fault
    assert final["evidence"]["false_alarms"] == 0 and final["evidence"]["false_alarms_per_hour"] == 0.0
    assert final["acceptance"]["met"] is True
    bad_final = ev_bad["document"]["final"]
    print(f"bad: {bad_final['evidence']['false_alarms']} false alarms, "
          f"{bad_final['evidence']['false_alarms_per_hour']} per healthy hour")
    assert bad_final["pipeline"]["hash"] == d_bad["hash"]
    assert bad_final["evidence"]["false_alarms_per_hour"] > 0.5
    fa = [c for c in bad_final["acceptance"]["criteria"] if c["metric"] == "false_alarms_per_hour"][0]
    assert fa["met"] is False and bad_final["acceptance"]["met"] is False
    assert call("GET", f"/api/sessions/{s_good['id']}", "ana", 200)["ground_truth"]  # revealed at close

    # --- the evidence is write-once, the ledger chain verifies -------------------------------------
    with app.state.sessions() as db, pytest.raises(Exception, match="write-once"):
        db.execute(text("UPDATE evidence SET sha256 = 'forged'"))
        db.commit()
    assert call("GET", "/api/ledger/verify", "ops", 200)["ok"] is True
    kinds = [e["kind"] for e in call("GET", f"/api/sessions/{s_good['id']}/ledger", "mentor", 200)]
    assert kinds[:3] == ["deployment", "session_started", "deployment"] and "evidence" in kinds

    # --- submissions and mentor feedback (service levels) ------------------------------------------
    sub = call("POST", f"/api/sessions/{s_good['id']}/submissions", "ana", 201,
               json={"note": "Envelope hSNR at BPFO with a frozen z-score model.", "links": ["https://lab/r.pdf"]})
    assert sub["sla"] == "on_track"
    call("POST", f"/api/submissions/{sub['id']}/feedback", "mentor", 200,
         json={"text": "Good feature choice; justify the threshold with the healthy score distribution."})

    # --- dual assessment: both sides score, disagreement moderated, sign-off -----------------------
    rubric = load_pack(PACK).rubric
    academic = {c.id: 3 for c in rubric.criteria}
    industrial = {**academic, "operator_usability": 1}  # 2 levels apart: needs moderation
    call("POST", f"/api/sessions/{s_good['id']}/signoff", "academic", 409, json={})  # no scores yet
    call("POST", f"/api/sessions/{s_good['id']}/scores", "mentor", 403, json={"levels": academic})
    call("POST", f"/api/sessions/{s_good['id']}/scores", "academic", 201,
         json={"levels": academic, "comments": {"reproducibility": "Pipeline and seed recorded."}})
    st = call("POST", f"/api/sessions/{s_good['id']}/scores", "industrial", 201,
              json={"levels": industrial, "comments": {"operator_usability": "Alert text is cryptic."}})
    assert st["stage"] == "needs_moderation" and st["disagreements"] == {"operator_usability": [3, 1]}
    call("POST", f"/api/sessions/{s_good['id']}/signoff", "academic", 409, json={})
    st = call("POST", f"/api/sessions/{s_good['id']}/moderation", "mentor", 201,
              json={"levels": {"operator_usability": 2}, "rationale": "Usable after a short briefing; text unclear."})
    assert st["stage"] == "ready_for_signoff"
    outcome = call("POST", f"/api/sessions/{s_good['id']}/signoff", "industrial", 201, json={"note": "Well done."})
    assert outcome["result"] == "pass", outcome["reasons"]
    levels = {c["id"]: c["level"] for c in outcome["criteria"]}
    assert levels["operator_usability"] == 2.0 and levels["reproducibility"] == 3.0
    assert outcome["learners"][0]["email"] == "ana@learner.example"
    assert outcome["evidence"][0]["sha256"] == ev_good["sha256"] and outcome["evidence"][0]["acceptance_met"]
    assert outcome["credentials"] and outcome["eqf_level"] == load_pack(PACK).meta.eqf_level
    seen = call("GET", f"/api/sessions/{s_good['id']}/assessment", "ana", 200)
    assert seen["stage"] == "signed_off" and seen["outcome"]["result"] == "pass" and "scores" not in seen

    # the bad pipeline's session: well-scored work still is "not yet" when the evidence misses the criteria
    for who in ("academic", "industrial"):
        call("POST", f"/api/sessions/{s_bad['id']}/scores", who, 201, json={"levels": academic})
    bad_outcome = call("POST", f"/api/sessions/{s_bad['id']}/signoff", "ops", 201, json={})
    assert bad_outcome["result"] == "not_yet"
    assert any("acceptance criteria" in r for r in bad_outcome["reasons"])

    # --- service levels: feedback done in time, credential decisions due in 10 business days -------
    items = call("GET", "/api/sla", "mentor", 200)
    kinds = {(i["kind"], i["session"]): i for i in items}
    assert kinds[("mentor_feedback", s_good["id"])]["state"] == "done"
    assert kinds[("credential_decision", s_good["id"])]["state"] == "on_track"
    call("POST", f"/api/sessions/{s_good['id']}/credential-decision", "ops", 200, json={"decision": "issued"})
    call("POST", f"/api/sessions/{s_bad['id']}/credential-decision", "ops", 409, json={"decision": "issued"})
    items = {(i["kind"], i["session"]): i for i in call("GET", "/api/sla", "mentor", 200)}
    assert items[("credential_decision", s_good["id"])]["state"] == "done"


def test_window_on_real_assets_scored_against_mentor_logged_events(lab):
    """A challenge window on an SME's real press: the mentor logs the fault the maintenance team found,
    the plant's edge publishes alerts through the real broker, and the evidence at close scores them."""
    import json

    import paho.mqtt.publish as publish

    from contract.mqtt import parse_mqtt_url

    client, auth, ids, app = lab
    pack = load_pack(PACK)

    def call(method, path, who, expect, **kw):
        r = client.request(method, path, headers=auth[who], **kw)
        assert r.status_code == expect, (method, path, who, r.status_code, r.text)
        return r.json() if r.content else None

    call("POST", "/api/sites", "ops", 201, json={"slug": "acme-plant", "name": "Acme plant", "kind": "sme"})
    for asset in ("press-1", "press-2"):
        call("POST", "/api/sites/acme-plant/assets", "ops", 201, json={"name": asset})
    call("POST", "/api/sites/acme-plant/edges", "ops", 201, json={"edge_id": "gw-1"})
    with app.state.sessions() as db:
        create_user(db, "owner@acme.example", PW, ["sme_partner"], sites=["acme-plant"])
    auth["owner"] = _login(client, "owner@acme.example")
    call("POST", "/api/challenges", "mentor", 403, json={"name": "Press 1 watch", "site": "acme-plant",
                                                         "pack": PACK})  # no link to the site yet
    call("PATCH", f"/api/users/{ids['mentor']}", "ops", 200, json={"sites": ["acme-plant"]})  # the hub links them
    team = call("POST", "/api/teams", "mentor", 201, json={"name": "Team Press", "members": [ids["ana"]]})
    written = {"charter": pack.charter.model_dump(mode="json", exclude={"template"}),
               "rubric": pack.rubric.model_dump(mode="json")}
    call("POST", "/api/challenges", "mentor", 409, json={"name": "Press 1 watch", "site": "acme-plant",
                                                         "charter": written["charter"]})  # no rubric
    ch = call("POST", "/api/challenges", "mentor", 201, json={
        "name": "Press 1 watch", "site": "acme-plant", "assets": ["press-1"], "teams": [team["id"]],
        "academic_assessors": [ids["academic"]], "industrial_assessors": [ids["industrial"]], **written})
    cid = ch["id"]
    call("POST", f"/api/challenges/{cid}/signatures", "sme", 404, json={"party": "industry_partner"})  # not his site
    for who, party in (("owner", "industry_partner"), ("mentor", "provider"), ("ops", "hub")):
        call("POST", f"/api/challenges/{cid}/signatures", who, 201, json={"party": party})
    call("POST", f"/api/challenges/{cid}/activate", "mentor", 200)
    call("POST", f"/api/challenges/{cid}/windows", "mentor", 409,
         json={"team_id": team["id"], "edge": "gw-1", "assets": ["press-2"]})  # not a challenge asset
    win = call("POST", f"/api/challenges/{cid}/windows", "mentor", 201, json={"team_id": team["id"], "edge": "gw-1"})
    assert win["kind"] == "window" and win["assets"] == ["press-1"] and win["site"] == "acme-plant"

    # the learner sees the watched asset only, and no logged event while the window is open
    assert call("GET", "/api/sites/acme-plant/assets", "ana", 200)[0]["name"] == "press-1"
    assert len(call("GET", "/api/sites/acme-plant/assets", "ana", 200)) == 1
    t0 = win["start_ns"]
    fault_ns = t0 + 600 * 10**9
    call("POST", f"/api/sessions/{win['id']}/events", "ana", 403, json={
        "asset": "press-1", "event": "misalignment", "category": "fault", "start_ns": fault_ns})
    call("POST", f"/api/sessions/{win['id']}/events", "mentor", 201, json={
        "asset": "press-1", "event": "misalignment", "category": "fault", "start_ns": fault_ns,
        "note": "work order 4711: coupling misaligned 0.4 mm"})
    assert call("GET", f"/api/sessions/{win['id']}", "ana", 200)["ground_truth"] is None

    host, port = parse_mqtt_url(app.state.settings.broker)
    env = {"v": 1, "edge": "gw-1", "boot": "plant-boot-1"}
    alerts = [(t0 + 120 * 10**9, "before the fault: a false alarm"), (fault_ns + 45 * 10**9, "misalignment 1x/2x")]
    msgs = [{"topic": "tf/v1/acme-plant/gw-1/press-1/alert", "qos": 1,
             "payload": json.dumps({**env, "seq": i + 1, "ts": ts, "score": 9.5, "threshold": 8.0, "message": m})}
            for i, (ts, m) in enumerate(alerts)]
    publish.multiple(msgs, hostname=host, port=port)
    wait_until(lambda: len(app.state.store.alerts("acme-plant", "press-1")) >= 2, 10, 0.2,
               what="the plant's two alerts at the hub")
    assert len(app.state.store.alerts("acme-plant", "press-1")) == 2
    # the window closes an hour after it opened (the mentor closes it when the challenge period ends)
    with app.state.sessions() as db:
        from cloud.challenges import sessions as svc

        svc.close_session(db, svc.get_session(db, win["id"]), app.state.store, None, wall_ns=t0 + 3600 * 10**9)
    ev = call("GET", f"/api/sessions/{win['id']}/evidence", "ana", 200)[0]["document"]
    final = ev["final"]["evidence"]
    assert ev["kind"] == "window" and ev["final"]["pipeline"] is None  # nobody deployed: the edge's own pipeline
    assert final["faults"][0]["detection_delay_s"] == 45.0 and final["false_alarms"] == 1
    assert ev["ground_truth"][0]["note"].startswith("work order 4711")
