"""Every role against every endpoint: 401 without a token, 403 for a role not admitted, 2xx with scoped data.

The table ``ACCESS`` must name every ``/api`` route of the app; a new route
without a row fails :func:`test_every_route_has_an_access_rule`.
"""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from cloud.access import Role, api_routes, route_roles
from cloud.accounts.service import create_user
from cloud.challenges import teams
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from contract.payloads import parse_message

TS = 1_790_000_000_000_000_000
PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
ALL = frozenset(Role)
STAFF = frozenset({Role.hub_operator, Role.mentor, Role.assessor})
OPERATOR = frozenset({Role.hub_operator})
RUNS = frozenset({Role.hub_operator, Role.mentor})
SIGNERS = frozenset({Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner})
DEPLOYERS = frozenset({Role.hub_operator, Role.mentor, Role.learner})
LEARNER = frozenset({Role.learner})
COMPANIES = frozenset({Role.hub_operator, Role.sme_partner})
JOB = {"job_id": "reliability-engineer"}
NO_SESSION = {"session_id": "999"}
NO_CREDENTIAL = {"credential_id": "urn:uuid:00000000-0000-4000-8000-000000000000"}  # admitted, then 404: the behaviour is tested in test_lab_session_e2e.py
NOWHERE = {"site": "nowhere"}  # admitted, then 404: no such site (scoping in tests/learning/test_kpis_api.py)
LOGGERS = frozenset({Role.hub_operator, Role.mentor, Role.sme_partner})  # admitted, then 404: the behaviour is tested in test_lab_session_e2e.py


def _uid() -> str:
    return uuid.uuid4().hex[:8]


# (method, path template) -> (roles admitted, path parameters, JSON body factory or None, success status)
ACCESS = {
    ("GET", "/api/summary"): (STAFF, {}, None, 200),
    ("GET", "/api/assets"): (ALL, {}, None, 200),
    ("GET", "/api/edges"): (ALL, {}, None, 200),
    ("GET", "/api/assets/{site}/{asset}/telemetry"): (ALL, {"site": "plant-a", "asset": "press-1"}, None, 200),
    ("GET", "/api/assets/{site}/{asset}/waveforms"): (ALL, {"site": "plant-a", "asset": "press-1"}, None, 200),
    ("GET", "/api/assets/{site}/{asset}/series/{name}"): (ALL, {"site": "plant-a", "asset": "press-1", "name": "rms"},
                                                          None, 200),
    ("GET", "/api/alerts"): (ALL, {}, None, 200),
    ("GET", "/api/drift"): (ALL, {}, None, 200),
    ("GET", "/api/edges/{site}/{edge}"): (ALL, {"site": "plant-a", "edge": "gw-a"}, None, 200),
    ("GET", "/api/quarantine"): (OPERATOR, {}, None, 200),
    ("GET", "/api/stream"): (ALL, {}, None, 200),
    ("POST", "/api/auth/logout"): (ALL, {}, None, 204),
    ("GET", "/api/auth/me"): (ALL, {}, None, 200),
    # a wrong current password: 422 once admitted (the change itself: tests/hub/test_login_policy.py)
    ("POST", "/api/auth/password"): (ALL, {}, lambda: {"current_password": "not-my-password",
                                                       "new_password": "another-long-test-passphrase"}, 422),
    ("GET", "/api/users"): (OPERATOR, {}, None, 200),
    ("POST", "/api/users"): (OPERATOR, {}, lambda: {"email": f"u{_uid()}@x.org", "password": PW,
                                                    "roles": ["learner"]}, 201),
    ("PATCH", "/api/users/{user_id}"): (OPERATOR, {"user_id": "outsider"}, lambda: {"display_name": "Out"}, 200),
    ("GET", "/api/sites"): (ALL, {}, None, 200),
    ("POST", "/api/sites"): (OPERATOR, {}, lambda: {"slug": f"s-{_uid()}", "name": "S", "kind": "lab"}, 201),
    ("GET", "/api/sites/{site}/assets"): (ALL, {"site": "plant-a"}, None, 200),
    ("POST", "/api/sites/{site}/assets"): (OPERATOR, {"site": "plant-a"}, lambda: {"name": f"a-{_uid()}"}, 201),
    ("POST", "/api/sites/{site}/assets/{asset}/sensors"): (
        OPERATOR, {"site": "plant-a", "asset": "press-1"},
        lambda: {"channel": f"c-{_uid()}", "units": "g", "rate_hz": 12000}, 201),
    ("GET", "/api/sites/{site}/edges"): (ALL, {"site": "plant-a"}, None, 200),
    ("POST", "/api/sites/{site}/edges"): (OPERATOR, {"site": "plant-a"}, lambda: {"edge_id": f"e-{_uid()}"}, 201),
    ("GET", "/api/challenges"): (ALL, {}, None, 200),
    # admitted, then 503: this hub has no command key (tests/hub/test_access_commands.py signs and publishes)
    ("POST", "/api/edges/{site}/{edge}/commands"): (OPERATOR, {"site": "plant-a", "edge": "gw-a"},
                                                    lambda: {"cmd": "snapshot", "asset": "press-1"}, 503),
    # challenges: the seed's challenge 1 has no charter, so charter steps answer 404 once admitted
    ("POST", "/api/teams"): (RUNS, {}, lambda: {"name": f"t-{_uid()}", "members": [999_999]}, 422),
    ("GET", "/api/teams"): (ALL, {}, None, 200),
    ("POST", "/api/challenges"): (RUNS, {}, lambda: {"name": f"c-{_uid()}", "site": "lab"}, 409),  # no charter
    ("GET", "/api/challenges/{challenge_id}"): (ALL, {"challenge_id": "1"}, None, 200),
    ("PUT", "/api/challenges/{challenge_id}/charter"): (RUNS, {"challenge_id": "1"}, lambda: {"charter": {}}, 404),
    ("POST", "/api/challenges/{challenge_id}/staff"): (OPERATOR, {"challenge_id": "1"},
                                                       lambda: {"user_id": 999_999, "duty": "mentor"}, 422),
    ("POST", "/api/challenges/{challenge_id}/signatures"): (SIGNERS, {"challenge_id": "1"},
                                                            lambda: {"party": "hub"}, 404),
    ("POST", "/api/challenges/{challenge_id}/activate"): (RUNS, {"challenge_id": "1"}, None, 404),
    ("POST", "/api/challenges/{challenge_id}/close"): (RUNS, {"challenge_id": "1"}, None, 404),
    # sessions: this hub has no command key, so starting one and deploying answer 503 once admitted
    ("POST", "/api/challenges/{challenge_id}/sessions"): (RUNS, {"challenge_id": "1"}, lambda: {"team_id": 1}, 503),
    ("POST", "/api/challenges/{challenge_id}/windows"): (RUNS, {"challenge_id": "1"},
                                                         lambda: {"team_id": 1, "edge": "gw-a"}, 404),  # no charter
    ("POST", "/api/sessions/{session_id}/events"): (RUNS, NO_SESSION, lambda: {
        "asset": "press-1", "event": "misalignment", "category": "fault", "start_ns": TS}, 404),
    ("GET", "/api/sessions"): (ALL, {}, None, 200),
    ("GET", "/api/sessions/{session_id}"): (ALL, NO_SESSION, None, 404),
    ("POST", "/api/sessions/{session_id}/close"): (RUNS, NO_SESSION, None, 404),
    ("POST", "/api/sessions/{session_id}/deployments"): (DEPLOYERS, NO_SESSION,
                                                         lambda: {"asset": "pump-1", "pipeline": {}}, 503),
    ("GET", "/api/sessions/{session_id}/evidence"): (ALL, NO_SESSION, None, 404),
    ("POST", "/api/sessions/{session_id}/submissions"): (frozenset({Role.learner}), NO_SESSION,
                                                         lambda: {"note": "our report"}, 404),
    ("GET", "/api/sessions/{session_id}/submissions"): (ALL, NO_SESSION, None, 404),
    ("POST", "/api/submissions/{submission_id}/feedback"): (RUNS, {"submission_id": "999"},
                                                            lambda: {"text": "ten chars or more"}, 404),
    ("POST", "/api/sessions/{session_id}/scores"): (frozenset({Role.assessor}), NO_SESSION,
                                                    lambda: {"levels": {"impact": 3}}, 404),
    ("GET", "/api/sessions/{session_id}/assessment"): (ALL, NO_SESSION, None, 404),
    ("POST", "/api/sessions/{session_id}/moderation"): (RUNS, NO_SESSION,
                                                        lambda: {"levels": {}, "rationale": "ten chars or more"}, 404),
    ("POST", "/api/sessions/{session_id}/signoff"): (frozenset({Role.hub_operator, Role.assessor}), NO_SESSION,
                                                     lambda: {}, 404),
    ("POST", "/api/sessions/{session_id}/credential-decision"): (OPERATOR, NO_SESSION,
                                                                 lambda: {"decision": "issued"}, 404),
    ("GET", "/api/sla"): (STAFF, {}, None, 200),
    ("GET", "/api/sessions/{session_id}/ledger"): (STAFF, NO_SESSION, None, 404),
    ("GET", "/api/ledger/verify"): (OPERATOR, {}, None, 200),
    ("POST", "/api/ledger/checkpoints"): (OPERATOR, {}, None, 201),
    ("GET", "/api/ledger/checkpoints/latest"): (ALL, {}, None, 200),  # the seed wrote one
    # skills: the learner portal (tenant isolation and consent in tests/hub/test_skills_access.py)
    ("GET", "/api/skills/framework"): (ALL, {}, None, 200),
    ("GET", "/api/skills/me/profile"): (LEARNER, {}, None, 200),
    ("PUT", "/api/skills/me/self-assessment"): (LEARNER, {}, lambda: {"levels": {"python": 2}}, 200),
    ("POST", "/api/skills/me/suggestions"): (LEARNER, {}, lambda: {"text": "I wrote Python scripts"}, 200),
    ("GET", "/api/skills/checks"): (LEARNER, {}, None, 200),
    ("POST", "/api/skills/checks"): (LEARNER, {}, lambda: {"skill": "signal-processing"}, 201),
    ("POST", "/api/skills/checks/{check_id}/answers"): (LEARNER, {"check_id": "999"},
                                                        lambda: {"answers": [0, 0, 0, 0, 0]}, 404),
    ("GET", "/api/skills/me/report"): (LEARNER, {}, None, 200),
    ("GET", "/api/skills/me/matches"): (LEARNER, {}, None, 200),
    ("GET", "/api/skills/me/gaps/{job_id}"): (LEARNER, JOB, None, 200),
    ("GET", "/api/skills/me/pathway/{job_id}"): (LEARNER, JOB, None, 200),
    ("GET", "/api/skills/me/consents"): (LEARNER, {}, None, 200),
    ("PUT", "/api/skills/me/consents"): (LEARNER, {}, lambda: {"sites": []}, 200),
    ("GET", "/api/me/language"): (ALL, {}, None, 200),
    ("PUT", "/api/me/language"): (ALL, {}, lambda: {"language": "en"}, 200),
    ("GET", "/api/jobs"): (ALL, {}, None, 200),
    ("GET", "/api/jobs/{job_id}"): (ALL, JOB, None, 200),
    ("GET", "/api/jobs/{job_id}/career"): (ALL, JOB, None, 200),
    ("GET", "/api/jobs/export"): (STAFF, {}, None, 200),
    ("POST", "/api/jobs/import"): (OPERATOR, {}, lambda: {"format": "csv", "text": "not,a,template"}, 422),
    ("GET", "/api/catalogue"): (ALL, {}, None, 200),
    ("GET", "/api/catalogue/{entry_id}"): (ALL, {"entry_id": "python-for-engineers"}, None, 200),
    ("GET", "/api/skills/learners"): (STAFF, {}, None, 200),
    ("GET", "/api/skills/learners/{user_id}/profile"): (STAFF, {"user_id": "learner"}, None, 200),
    ("GET", "/api/skills/learners/{user_id}/matches"): (STAFF, {"user_id": "learner"}, None, 200),
    ("GET", "/api/skills/teams"): (STAFF, {}, None, 200),
    ("GET", "/api/skills/teams/{team_id}/gaps/{job_id}"): (STAFF, {"team_id": "team", **JOB}, None, 200),
    ("GET", "/api/skills/companies"): (COMPANIES, {}, None, 200),
    ("GET", "/api/skills/companies/{site}/gaps/{job_id}"): (COMPANIES, {"site": "plant-a", **JOB}, None, 200),
    ("POST", "/api/invitations"): (RUNS, {}, lambda: {"email": f"new-{_uid()}@x.org"}, 201),
    # credentials: the learner's wallet (own only; the behaviour is in tests/credentials/test_credentials_hub.py)
    ("GET", "/api/credentials/me"): (LEARNER, {}, None, 200),
    ("GET", "/api/credentials/me/{credential_id}/download"): (LEARNER, NO_CREDENTIAL, None, 404),
    ("GET", "/api/credentials/me/{credential_id}/europass"): (LEARNER, NO_CREDENTIAL, None, 404),
    ("POST", "/api/credentials/me/{credential_id}/share"): (LEARNER, NO_CREDENTIAL, None, 404),
    ("DELETE", "/api/credentials/me/{credential_id}/share"): (LEARNER, NO_CREDENTIAL, None, 404),
    ("POST", "/api/credentials/{credential_id}/status"): (OPERATOR, NO_CREDENTIAL,
                                                          lambda: {"action": "revoke", "reason": "a test reason"}, 404),
    # handover packages: the seed's challenge 1 has no charter, so none was built (tests/learning/test_handover.py)
    ("GET", "/api/challenges/{challenge_id}/handover"): (SIGNERS, {"challenge_id": "1"}, None, 404),
    ("GET", "/api/challenges/{challenge_id}/handover/archive"): (SIGNERS, {"challenge_id": "1"}, None, 404),
    ("GET", "/api/challenges/{challenge_id}/handover/check"): (SIGNERS, {"challenge_id": "1"}, None, 404),
    ("POST", "/api/challenges/{challenge_id}/handover"): (RUNS, {"challenge_id": "1"}, None, 404),
    # governance (behaviour in tests/learning/test_governance.py and tests/hub/test_governance_api.py)
    ("GET", "/api/governance/challenges/{challenge_id}/agreement"): (ALL, {"challenge_id": "1"}, None, 404),
    ("GET", "/api/governance/sites/{site}/retention"): (COMPANIES, {"site": "plant-a"}, None, 200),
    ("PUT", "/api/governance/sites/{site}/retention"): (OPERATOR, {"site": "plant-a"},
                                                        lambda: {"days": {"waveforms": 400}}, 200),
    ("POST", "/api/governance/retention/run"): (OPERATOR, {}, None, 200),
    ("GET", "/api/me/export"): (ALL, {}, None, 200),
    ("POST", "/api/governance/users/{user_id}/erasure"): (OPERATOR, {"user_id": "999999"},
                                                          lambda: {"reason": "access test"}, 404),
    ("GET", "/api/me/access-log"): (ALL, {}, None, 200),
    ("GET", "/api/governance/sites/{site}/access-log"): (COMPANIES, {"site": "plant-a"}, None, 200),
    # KPIs: operators and SME partners (their own sites); the logs also mentors (tests/learning/test_kpis*.py)
    ("GET", "/api/kpis"): (COMPANIES, {}, None, 200),
    ("GET", "/api/kpis/export"): (COMPANIES, {}, None, 200),
    ("GET", "/api/kpis/sites/{site}/settings"): (COMPANIES, NOWHERE, None, 404),
    ("PUT", "/api/kpis/sites/{site}/settings"): (OPERATOR, NOWHERE, lambda: {"operating_hours_per_week": 40}, 404),
    ("GET", "/api/kpis/sites/{site}/log"): (LOGGERS, NOWHERE, None, 404),
    ("POST", "/api/kpis/sites/{site}/assets/{asset}/stops"): (
        LOGGERS, {**NOWHERE, "asset": "press-1"}, lambda: {"start": "2026-11-02T08:00:00Z"}, 404),
    ("POST", "/api/kpis/stops/{stop_id}/end"): (LOGGERS, {"stop_id": "999"},
                                                lambda: {"end": "2026-11-02T09:00:00Z"}, 404),
    ("POST", "/api/kpis/sites/{site}/assets/{asset}/work-orders"): (
        LOGGERS, {**NOWHERE, "asset": "press-1"},
        lambda: {"number": "WO-1", "opened_at": "2026-11-02T08:00:00Z", "fault": "bearing", "action": "replaced"}, 404),
    ("POST", "/api/kpis/sites/{site}/assets/{asset}/alert-reviews"): (
        LOGGERS, {**NOWHERE, "asset": "press-1"}, lambda: {"alert_ts": TS, "confirmed": True}, 404),
    ("POST", "/api/kpis/closes"): (OPERATOR, {}, lambda: {"scope": "site:nowhere", "period": "2026-01"}, 404),
    ("GET", "/api/kpis/closes"): (COMPANIES, {}, None, 200),
    ("GET", "/api/kpis/closes/{close_id}"): (COMPANIES, {"close_id": "999"}, None, 404),
    ("POST", "/api/pathways/adopt"): (LEARNER, {}, lambda: dict(JOB), 201),
    # learning in the flow of work: any signed-in user, for events they see (tests/learning/test_learnflow.py)
    ("POST", "/api/learnflow/offers"): (ALL, {}, lambda: {"site": "plant-a", "asset": "press-1", "kind": "alert",
                                                          "ts": TS}, 200),
    ("GET", "/api/learnflow/offers"): (ALL, {}, None, 200),
    ("POST", "/api/learnflow/offers/{offer_id}/open"): (ALL, {"offer_id": "999"}, None, 404),
    ("POST", "/api/learnflow/offers/{offer_id}/follow-up"): (ALL, {"offer_id": "999"}, lambda: {"level": 2}, 404),
    ("GET", "/api/learnflow/units"): (ALL, {}, None, 200),
    # the deploy form of the learner page
    ("GET", "/api/pipelines/registry"): (ALL, {}, None, 200),
    ("POST", "/api/pipelines/validate"): (DEPLOYERS, {}, lambda: {"pipeline": {"window": 4096}}, 200),
    # onboarding: kits (operators) and onboarding records (operators; an SME partner its own site)
    ("GET", "/api/onboarding"): (COMPANIES, {}, None, 200),
    ("GET", "/api/onboarding/{site}"): (COMPANIES, {"site": "plant-a"}, None, 200),
    ("GET", "/api/kits"): (OPERATOR, {}, None, 200),
    ("POST", "/api/kits"): (OPERATOR, {}, lambda: {"site": "plant-a", "edge": f"e-{_uid()}", "sources": [
        {"adapter": "opcua", "asset": "press-1", "options": {"url": "opc.tcp://127.0.0.1:4840/"}}]}, 201),
    ("POST", "/api/kits/{kit_id}/revoke"): (OPERATOR, {"kit_id": "999"}, None, 404),
    ("POST", "/api/kits/{kit_id}/reissue"): (OPERATOR, {"kit_id": "999"}, None, 404),
    ("PUT", "/api/sites/{site}/assets/{asset}/nameplate"): (OPERATOR, {"site": "plant-a", "asset": "press-1"},
                                                            lambda: {"manufacturer": "ACME"}, 200),
    ("GET", "/api/assets/{site}/{asset}/aas"): (ALL, {"site": "plant-a", "asset": "press-1"}, None, 200),
    ("POST", "/api/sites/{site}/aas"): (OPERATOR, {"site": "plant-a"}, lambda: {"aasx_b64": "bm90IGFhc3g="}, 422),
}
# public routes and what they answer without a token
PUBLIC = {
    ("POST", "/api/auth/token"): 422,  # no form given
    ("GET", "/api/auth/config"): 200,
    ("POST", "/api/auth/demo-token"): 404,  # production mode
    ("GET", "/"): 200,
    ("GET", "/session"): 200,  # the learner page; it logs in itself
    ("GET", "/skills"): 200,  # the learner portal and staff skills views; they log in themselves
    ("GET", "/join"): 200,  # joining by invitation
    ("GET", "/onboarding"): 200,  # the operator's kits and onboarding page; it logs in itself
    ("GET", "/kpis"): 200,  # the KPI page; it logs in itself
    ("GET", "/verify"): 200,  # the public credential verifier
    ("GET", "/wallet"): 200,  # the learner's credentials; it logs in itself
    ("GET", "/api/invitations/{token}"): 404,  # the token is the secret: an unknown one is not found
    ("POST", "/api/invitations/{token}/accept"): 422,  # no body given
    ("GET", "/issuers/{slug}"): 404,  # the issuer's controller document (this hub's slug is "hub")
    ("GET", "/api/credentials/status/{list_id}"): 404,  # signed status lists, for any verifier
    ("GET", "/api/credentials/shared/{token}"): 404,  # a share link: the token is the secret
    ("POST", "/api/credentials/verify"): 422,  # the public verifier; no credential given
    ("GET", "/healthz"): 200,
    ("GET", "/vendor/plotly.min.js"): 200,
    ("GET", "/docs"): 200,  # Swagger UI, served from the hub's own files
    ("GET", "/metrics"): 200,  # Prometheus scrape; restrict it at the network, not with tokens
}
ROLES = list(Role)


def _write(store, topic: str, body: dict) -> None:
    store.write(parse_message(topic, json.dumps(body).encode()))


def _seed(app) -> dict[str, int]:
    with app.state.sessions() as db:
        for slug, kind in (("plant-a", "sme"), ("plant-b", "sme"), ("lab", "lab")):
            reg.create_site(db, slug, slug.title(), kind)
        for site, asset in (("plant-a", "press-1"), ("plant-a", "fan-1"), ("plant-b", "pump-9"), ("lab", "pump-1")):
            reg.create_asset(db, site, asset)
        reg.create_edge(db, "plant-a", "gw-a")
        reg.create_edge(db, "plant-b", "gw-b")
        users = {r: create_user(db, f"{r.value}@x.org", PW, [r], sites=["plant-a"] if r is Role.sme_partner else [])
                 for r in ROLES if r is not Role.hub_operator}
        outsider = create_user(db, "outsider@x.org", PW, [Role.learner])
        team = teams.create_team(db, "Team Blue", [users[Role.learner]])
        teams.create_challenge(db, "Press watch", "plant-a", ["press-1"], [team],
                             [users[Role.mentor], users[Role.assessor]])
        ids = {"outsider": outsider.id, "learner": users[Role.learner].id, "team": team.id}
        app.state.ledger_checkpoints.write(db)
    seq = iter(range(1, 100))
    for site, edge, assets in (("plant-a", "gw-a", ["press-1", "fan-1"]), ("plant-b", "gw-b", ["pump-9"])):
        env = {"v": 1, "edge": edge, "boot": "b1"}
        _write(app.state.store, f"tf/v1/{site}/{edge}/status",
               {**env, "seq": next(seq), "state": "online", "ts": TS, "assets": assets})
        for i, asset in enumerate(assets):
            _write(app.state.store, f"tf/v1/{site}/{edge}/{asset}/features",
                   {**env, "seq": next(seq), "records": [{"ts": TS + i, "features": {"rms": 0.1}, "score": 1.0}]})
            _write(app.state.store, f"tf/v1/{site}/{edge}/{asset}/alert",
                   {**env, "seq": next(seq), "ts": TS + i, "score": 9.0, "threshold": 8.0, "message": "high"})
    return ids


def _login(client: TestClient, email: str, password: str | None = None) -> str:
    password = password or (OPS["admin_password"] if email == OPS["admin_email"] else PW)
    r = client.post("/api/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    app = create_app(HubSettings(db_path=str(tmp / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app) as client:
        ids = _seed(app)
        tokens = {r: _login(client, OPS["admin_email"] if r is Role.hub_operator else f"{r.value}@x.org")
                  for r in ROLES}
        yield app, client, tokens, ids


def _call(client, method, template, params, body, token):
    path = template.format(**params)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if template == "/api/stream":  # read only the head of the endless event stream
        with client.stream(method, path, headers=headers) as r:
            return r.status_code
    return client.request(method, path, headers=headers, json=body() if body else None).status_code


def test_every_route_has_an_access_rule(hub):
    app = hub[0]
    seen = {}
    for method, path, route in api_routes(app):
        if method == "HEAD":
            continue
        seen[(method, path)] = route_roles(route)
    assert set(seen) == set(ACCESS) | set(PUBLIC), "add the new route to ACCESS or PUBLIC"
    for key, roles in seen.items():
        if key in PUBLIC:
            assert roles is None, f"{key} is gated but listed as public"
        else:
            assert set(roles) == set(ACCESS[key][0]), key


@pytest.mark.parametrize("key", sorted(ACCESS), ids=lambda k: f"{k[0]} {k[1]}")
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_role_against_endpoint(hub, key, role):
    app, client, tokens, ids = hub
    admitted, params, body, ok = ACCESS[key]
    params = {k: ids.get(v, v) for k, v in params.items()}
    token = tokens[role]
    if key == ("POST", "/api/auth/logout"):
        token = _login(client, OPS["admin_email"] if role is Role.hub_operator else f"{role.value}@x.org")
    status = _call(client, *key, params, body, token)
    assert status == (ok if role in admitted else 403), (key, role)


@pytest.mark.parametrize("key", sorted(ACCESS), ids=lambda k: f"{k[0]} {k[1]}")
def test_no_or_bad_token_is_401(hub, key):
    app, client, tokens, ids = hub
    _, params, body, _ = ACCESS[key]
    params = {k: ids.get(v, v) for k, v in params.items()}
    assert _call(client, *key, params, body, None) == 401
    assert _call(client, *key, params, body, "not-a-token") == 401


@pytest.mark.parametrize("key", sorted(PUBLIC), ids=lambda k: f"{k[0]} {k[1]}")
def test_public_routes_answer_without_token(hub, key):
    assert hub[1].request(*key).status_code == PUBLIC[key]


def _get(client, token, path):
    r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    return r.status_code, (r.json() if r.status_code == 200 else None)


ASSETS = {
    Role.hub_operator: {("plant-a", "press-1"), ("plant-a", "fan-1"), ("plant-b", "pump-9")},
    Role.sme_partner: {("plant-a", "press-1"), ("plant-a", "fan-1")},
    Role.mentor: {("plant-a", "press-1"), ("plant-a", "fan-1")},
    Role.assessor: {("plant-a", "press-1"), ("plant-a", "fan-1")},
    Role.learner: {("plant-a", "press-1")},
}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_each_role_sees_only_its_scope(hub, role):
    app, client, tokens, ids = hub
    t = tokens[role]
    want = ASSETS[role]
    assert {(a["site"], a["asset"]) for a in _get(client, t, "/api/assets")[1]} == want
    assert {(a["site"], a["asset"]) for a in _get(client, t, "/api/alerts")[1]} == want
    edges = {(e["site"], e["edge"]) for e in _get(client, t, "/api/edges")[1]}
    assert edges == ({("plant-a", "gw-a"), ("plant-b", "gw-b")} if role is Role.hub_operator else {("plant-a", "gw-a")})
    sites = {s["slug"] for s in _get(client, t, "/api/sites")[1]}
    if role is Role.hub_operator:  # (other tests register more sites)
        assert {"plant-a", "plant-b", "lab"} <= sites
    else:
        assert sites == {"plant-a"}
    registered = {a["name"] for a in _get(client, t, "/api/sites/plant-a/assets")[1]}
    assert {"press-1"} <= registered and (("fan-1" in registered) == (("plant-a", "fan-1") in want))
    if role in COMPANIES:  # onboarding: the operator sees every SME site, an SME partner only its own
        onboarding = {r["site"] for r in _get(client, t, "/api/onboarding")[1]}
        assert onboarding == ({"plant-a", "plant-b"} if role is Role.hub_operator else {"plant-a"})
        assert _get(client, t, "/api/onboarding/plant-b")[0] == (200 if role is Role.hub_operator else 404)
    for site, asset in [("plant-a", "fan-1"), ("plant-b", "pump-9")]:
        code = _get(client, t, f"/api/assets/{site}/{asset}/telemetry")[0]
        assert code == (200 if (site, asset) in want else 404), (site, asset)
        code = _get(client, t, f"/api/alerts?site={site}&asset={asset}")[0]
        assert code == (200 if (site, asset) in want else 404), (site, asset)
    assert _get(client, t, "/api/edges/plant-b/gw-b")[0] == (200 if role is Role.hub_operator else 404)
    assert _get(client, t, "/api/sites/plant-b/edges")[0] == (200 if role is Role.hub_operator else 404)
    [gw] = [e for e in _get(client, t, "/api/sites/plant-a/edges")[1] if e["edge_id"] == "gw-a"]
    assert gw["status"]["state"] == "online"  # live status joined from the telemetry store
    assert [c["name"] for c in _get(client, t, "/api/challenges")[1]] == ["Press watch"]
    me = _get(client, t, "/api/auth/me")[1]
    assert me["roles"] == [role.value] and me["all_sites"] == (role is Role.hub_operator)


def test_outsider_learner_sees_nothing(hub):
    app, client, tokens, ids = hub
    t = _login(client, "outsider@x.org")
    for path in ("/api/assets", "/api/alerts", "/api/edges", "/api/sites", "/api/challenges", "/api/drift"):
        assert _get(client, t, path) == (200, []), path


def test_live_events_are_filtered_by_scope(hub):
    from cloud.access import Principal
    from cloud.scope import Scope
    from cloud.telemetry.router import visible

    learner = Principal(1, "l@x.org", frozenset({Role.learner}), Scope(assets=frozenset({("plant-a", "press-1")})), "t")
    assert visible(learner, {"type": "features", "site": "plant-a", "edge": "gw-a", "asset": "press-1"})
    assert not visible(learner, {"type": "features", "site": "plant-a", "edge": "gw-a", "asset": "fan-1"})
    assert visible(learner, {"type": "status", "site": "plant-a", "edge": "gw-a", "asset": None})
    assert not visible(learner, {"type": "status", "site": "plant-b", "edge": "gw-b", "asset": None})
    assert not visible(learner, {"type": "quarantine", "topic": "tf/v1/plant-a/x", "reason": "bad"})
    ops = Principal(2, "o@x.org", frozenset({Role.hub_operator}), Scope(everything=True), "t")
    assert visible(ops, {"type": "quarantine", "topic": "x", "reason": "bad"})


def test_login_failures_logout_and_deactivation(hub):
    app, client, tokens, ids = hub
    bad = client.post("/api/auth/token", data={"username": "learner@x.org", "password": "wrong-passphrase"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    token = _login(client, "outsider@x.org")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/auth/logout", headers=auth).status_code == 204
    assert client.get("/api/auth/me", headers=auth).status_code == 401
    token = _login(client, "outsider@x.org")
    ops = {"Authorization": f"Bearer {tokens[Role.hub_operator]}"}
    assert client.patch(f"/api/users/{ids['outsider']}", headers=ops, json={"active": False}).status_code == 200
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/api/auth/token", data={"username": "outsider@x.org", "password": PW}).status_code == 401
    assert client.patch(f"/api/users/{ids['outsider']}", headers=ops, json={"active": True}).status_code == 200
    # registry errors name what is wrong
    r = client.post("/api/sites", headers=ops, json={"slug": "plant-a", "name": "dup", "kind": "sme"})
    assert r.status_code == 409 and "plant-a" in r.json()["detail"]
    r = client.post("/api/users", headers=ops, json={"email": "z@x.org", "password": PW, "roles": ["sme_partner"],
                                                     "sites": ["nowhere"]})
    assert r.status_code == 409 and "nowhere" in r.json()["detail"]
    r = client.post("/api/sites", headers=ops, json={"slug": "bad/slug", "name": "x", "kind": "lab"})
    assert r.status_code == 422
