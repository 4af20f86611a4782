"""Skills API: nobody reads someone else's profile, SME partners see only aggregates of consenting learners
(and only from three), joining by invitation, import refusals, answers in the caller's language."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.accounts.service import create_user
from cloud.challenges import teams
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from cloud.skills import profiles
from labs.skills.jobs import export_csv, load_jobs

PW = "a-long-test-passphrase"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
JOB = "condition-monitoring-technician"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    app = create_app(HubSettings(db_path=str(tmp_path_factory.mktemp("skills") / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app) as client:
        with app.state.sessions() as db:
            for slug, kind in (("acme", "sme"), ("globex", "sme"), ("lab", "lab")):
                reg.create_site(db, slug, slug.title(), kind)
            u = {name: create_user(db, f"{name}@x.org", PW, roles, sites=sites) for name, roles, sites in [
                ("mentor", ["mentor"], []), ("stranger", ["mentor"], []), ("acme_sme", ["sme_partner"], ["acme"]),
                ("globex_sme", ["sme_partner"], ["globex"]),
                *[(f"l{i}", ["learner"], []) for i in range(5)]]}
            blue = teams.create_team(db, "Blue", [u["l0"], u["l1"], u["l2"]])
            red = teams.create_team(db, "Red", [u["l3"], u["l4"]])
            teams.create_challenge(db, "Blue's challenge", "lab", [], [blue], [u["mentor"]])
            teams.create_challenge(db, "Red's challenge", "lab", [], [red], [u["stranger"]])
            for i, lvl in enumerate((1, 2, 3, 3, 4)):
                profiles.propose(db, u[f"l{i}"].id, "signal-processing", lvl, "self", {"kind": "seed"})
            db.commit()
            ids = {k: v.id for k, v in u.items()} | {"blue": blue.id, "red": red.id}

        def login(email, password=PW):
            r = client.post("/api/auth/token", data={"username": email, "password": password})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        auth = {k: login(f"{k}@x.org") for k in ids if k not in ("blue", "red")}
        auth["ops"] = login(OPS["admin_email"], OPS["admin_password"])
        yield client, auth, ids, login


def test_profiles_are_visible_only_to_the_learner_their_staff_and_operators(hub):
    client, auth, ids, _ = hub
    l0 = ids["l0"]
    assert client.get("/api/skills/me/profile", headers=auth["l0"]).json()["user"] == l0
    for who, code in (("mentor", 200), ("ops", 200), ("stranger", 404)):
        assert client.get(f"/api/skills/learners/{l0}/profile", headers=auth[who]).status_code == code, who
        assert client.get(f"/api/skills/learners/{l0}/matches", headers=auth[who]).status_code == code, who
    for who in ("l1", "acme_sme"):  # another learner, an SME partner: not even the route
        assert client.get(f"/api/skills/learners/{l0}/profile", headers=auth[who]).status_code == 403
    seen = {r["user"] for r in client.get("/api/skills/learners", headers=auth["mentor"]).json()}
    assert seen == {ids["l0"], ids["l1"], ids["l2"]}
    assert [t["name"] for t in client.get("/api/skills/teams", headers=auth["stranger"]).json()] == ["Red"]
    r = client.get(f"/api/skills/teams/{ids['blue']}/gaps/{JOB}", headers=auth["stranger"])
    assert r.status_code == 404 and f"no team {ids['blue']}" in r.json()["detail"]
    team = client.get(f"/api/skills/teams/{ids['blue']}/gaps/{JOB}", headers=auth["mentor"]).json()
    sp = next(a for a in team["aggregate"] if a["skill"] == "signal-processing")
    assert (sp["required"], sp["short"], sp["mean_short_by"]) == (3, 2, 1.5)  # levels 1, 2, 3 against 3


def test_companies_see_aggregates_of_consenting_learners_only_from_three(hub):
    client, auth, ids, _ = hub
    url = f"/api/skills/companies/acme/gaps/{JOB}"
    assert [c["site"] for c in client.get("/api/skills/companies", headers=auth["acme_sme"]).json()] == ["acme"]
    assert client.get(f"/api/skills/companies/globex/gaps/{JOB}", headers=auth["acme_sme"]).status_code == 404
    r = client.put("/api/skills/me/consents", headers=auth["l0"], json={"sites": ["lab"]})
    assert r.status_code == 422 and "not an SME site" in r.json()["detail"]
    for k in ("l0", "l3"):
        assert client.put("/api/skills/me/consents", headers=auth[k], json={"sites": ["acme"]}).status_code == 200
    two = client.get(url, headers=auth["acme_sme"]).json()
    assert (two["consenting"], two["shown"], two["aggregate"]) == (2, False, [])  # two people: nothing shown
    assert client.put("/api/skills/me/consents", headers=auth["l4"], json={"sites": ["acme", "globex"]}).status_code == 200
    three = client.get(url, headers=auth["acme_sme"]).json()
    sp = next(a for a in three["aggregate"] if a["skill"] == "signal-processing")
    assert three["shown"] and (sp["short"], sp["mean_level"]) == (1, 2.67)  # levels 1, 3, 4
    assert "email" not in str(three) and "user" not in str(three)
    # revoking takes effect at once; the history keeps when
    assert client.put("/api/skills/me/consents", headers=auth["l4"], json={"sites": ["globex"]}).status_code == 200
    assert client.get(url, headers=auth["acme_sme"]).json()["consenting"] == 2
    mine = {c["site"]: c for c in client.get("/api/skills/me/consents", headers=auth["l4"]).json()}
    assert not mine["acme"]["shared"] and mine["acme"]["history"][0]["revoked_at"] and mine["globex"]["shared"]


def test_joining_by_invitation(hub):
    client, auth, ids, login = hub
    r = client.post("/api/invitations", headers=auth["stranger"], json={"email": "new@x.org", "team_id": ids["blue"]})
    assert r.status_code == 404  # not a team the stranger runs
    r = client.post("/api/invitations", headers=auth["mentor"],
                    json={"email": "New@X.org", "team_id": ids["blue"], "language": "sl"})
    assert r.status_code == 201, r.text
    token = r.json()["link"].split("token=")[1]
    seen = client.get(f"/api/invitations/{token}").json()
    assert (seen["email"], seen["team"], seen["language"]) == ("new@x.org", "Blue", "sl")
    assert {c["site"] for c in seen["companies"]} == {"acme", "globex"}
    weak = client.post(f"/api/invitations/{token}/accept", json={"password": "short", "language": "sl"},
                       headers={"Accept-Language": "sl"})
    assert weak.status_code == 422 and weak.json()["detail"] == "geslo ima 5 znakov; pričakovanih vsaj 12"
    ok = client.post(f"/api/invitations/{token}/accept", json={
        "password": "a-new-learners-passphrase", "display_name": "Nova", "language": "sl", "share_with": ["acme"]})
    assert ok.status_code == 201, ok.text
    me = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert client.get("/api/me/language", headers=me).json() == {"language": "sl"}
    assert client.get("/api/auth/me", headers=me).json()["roles"] == ["learner"]
    assert any(c["site"] == "acme" and c["shared"] for c in client.get("/api/skills/me/consents", headers=me).json())
    assert ok.json()["user"] in {r["user"] for r in client.get("/api/skills/learners", headers=auth["mentor"]).json()}
    again = client.post(f"/api/invitations/{token}/accept", json={"password": "a-new-learners-passphrase"})
    assert again.status_code == 409
    assert "accepted already" in again.json()["detail"]
    login("new@x.org", "a-new-learners-passphrase")
    dup = client.post("/api/invitations", headers=auth["ops"], json={"email": "new@x.org"})
    assert dup.status_code == 409 and "exists already" in dup.json()["detail"]


def test_refusals_are_worded_in_the_callers_language(hub):
    client, auth, ids, _ = hub
    body = {"levels": {"python": 7}}
    en = client.put("/api/skills/me/self-assessment", headers=auth["l1"], json=body)
    assert en.status_code == 422 and en.json()["detail"] == "level of python: 7; expected 1 (Beginner) to 4 (Expert)"
    es = client.put("/api/skills/me/self-assessment?lang=es", headers=auth["l1"], json=body)
    assert es.json()["detail"] == "nivel de python: 7; se esperaba de 1 (Principiante) a 4 (Experto)"
    tr = client.put("/api/skills/me/self-assessment", headers={**auth["l1"], "Accept-Language": "tr-TR,tr;q=0.9"},
                    json=body)
    assert tr.json()["detail"] == "python düzeyi: 7; 1 (Başlangıç) ile 4 (Uzman) arası bekleniyordu"
    assert tr.headers["content-language"] == "tr"
    labels = client.get("/api/jobs/reliability-engineer?lang=it", headers=auth["l1"]).json()
    assert labels["title"] == "Ingegnere dell'affidabilità" and not labels["title_fallback"]


def test_job_import_is_all_or_nothing_and_named(hub):
    client, auth, ids, _ = hub
    good = export_csv([load_jobs()["reliability-engineer"]]).replace("reliability-engineer,", "my-reliability-lead,", 1)
    good = good.replace("Reliability engineer", "Reliability lead").replace("Ingeniero de fiabilidad", "Jefe de fiabilidad")
    good = good.replace("Ingénieur fiabilité", "Responsable fiabilité").replace("Ingegnere dell'affidabilità", "Responsabile affidabilità")
    good = good.replace("Güvenilirlik mühendisi", "Güvenilirlik sorumlusu").replace("Inženir za zanesljivost", "Vodja zanesljivosti")
    header, row = good.splitlines()
    bad = row.replace("my-reliability-lead,", "other-lead,", 1).replace("statistics:3", "statistix:3")
    r = client.post("/api/jobs/import", headers=auth["ops"], json={"format": "csv", "text": "\n".join([header, row, bad])})
    assert r.status_code == 422 and "row 3 (id 'other-lead'): essential: skill 'statistix'" in r.json()["detail"]
    assert "nothing imported" in r.json()["detail"]
    assert client.get("/api/jobs/my-reliability-lead", headers=auth["ops"]).status_code == 404
    r = client.post("/api/jobs/import", headers=auth["ops"], json={"format": "csv", "text": good})
    assert r.status_code == 201 and r.json() == {"imported": ["my-reliability-lead"]}
    assert client.get("/api/jobs/my-reliability-lead?lang=tr", headers=auth["l0"]).json()["title"] == "Güvenilirlik sorumlusu"
    shipped = export_csv([load_jobs()["reliability-engineer"]])
    r = client.post("/api/jobs/import", headers=auth["ops"], json={"format": "csv", "text": shipped})
    assert r.status_code == 409 and "shipped with TeachFab" in r.json()["detail"]
    text = client.get("/api/jobs/export?format=csv", headers=auth["mentor"]).json()["text"]
    assert "my-reliability-lead" in text
