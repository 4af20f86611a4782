"""A learner's credentials in the data export and through erasure, by the hub's own routes.

Erasure leaves an issued credential exactly as signed (it still verifies,
its status unchanged), removes its public share link, and reports the
signed-off outcome that still names the person; the export holds each
credential's signed document. The KPIs count the issued badges, not the
revoked ones.
"""

from __future__ import annotations

import httpx
import pytest

from cloud.challenges import ledger
from cloud.credentials.models import IssuedCredential
from cloud.kpis.sources import OutcomeCredentials, aware
from tests.credentials.conftest import OPS, LiveHub, seed_passed_session

pytestmark = pytest.mark.slow


def test_export_holds_the_credentials_and_erasure_keeps_them_valid(tmp_path):
    with LiveHub(tmp_path) as hub:
        seeded = seed_passed_session(hub.app)
        ops = {"Authorization": f"Bearer {hub.token(OPS['admin_email'], OPS['admin_password'])}"}
        ana = {"Authorization": f"Bearer {hub.token('ana@vet.example')}"}
        with httpx.Client(base_url=hub.url, timeout=60) as api:
            r = api.post(f"/api/sessions/{seeded.session}/credential-decision", headers=ops, json={"decision": "issued"})
            assert r.status_code == 200, r.text
            [mine] = api.get("/api/credentials/me", headers=ana).json()
            signed = api.get(f"/api/credentials/me/{mine['id']}/download", headers=ana).json()
            link = api.post(f"/api/credentials/me/{mine['id']}/share", headers=ana).json()
            assert api.get(f"/api/credentials/shared/{link['token']}").status_code == 200

            export = api.get("/api/me/export", headers=ana).json()
            [held] = export["areas"]["credentials"]
            assert held["document"] == signed and held["status"] == "active" and held["shared"] is True
            assert held["id"] == signed["id"] and held["session"] == seeded.session
            assert "issued_credentials" in export["records"]  # the raw row, found from the schema, too

            r = api.post(f"/api/governance/users/{seeded.ana}/erasure", headers=ops, json={"reason": "request 12"})
            assert r.status_code == 200, r.text
            report = r.json()
            assert report["areas"]["credentials"] == {"credentials_kept_valid": 1, "share_links_removed": 1}
            assert {"issued_credentials", "outcomes"} <= set(report["kept"])
            assert report["outcomes_naming_the_person"] == [seeded.session]

            # the signed document is as it was and still verifies; the share link shows nothing any more
            with hub.app.state.sessions() as db:
                row = db.get(IssuedCredential, signed["id"].removeprefix("urn:uuid:"))
                assert row.document == signed and row.status == "active" and row.share_token_hash is None
                assert ledger.verify_chain(db)["ok"]
            check = api.post("/api/credentials/verify", json=signed).json()
            assert check["verified"] is True, check["errors"]
            assert api.get(f"/api/credentials/shared/{link['token']}").status_code == 404
            # Ben's credential of the same session is untouched
            ben = {"Authorization": f"Bearer {hub.token('ben@vet.example')}"}
            [his] = api.get("/api/credentials/me", headers=ben).json()
            assert his["status"] == "active"


def test_kpis_count_the_issued_badges_not_the_revoked_ones(tmp_path):
    with LiveHub(tmp_path) as hub:
        seeded = seed_passed_session(hub.app)
        ops = {"Authorization": f"Bearer {hub.token(OPS['admin_email'], OPS['admin_password'])}"}
        with httpx.Client(base_url=hub.url, timeout=60) as api:
            r = api.post(f"/api/sessions/{seeded.session}/credential-decision", headers=ops, json={"decision": "issued"})
            assert r.status_code == 200, r.text
            with hub.app.state.sessions() as db:
                rows = {r.user_id: r for r in db.query(IssuedCredential)}
                assert set(rows) == {seeded.ana, seeded.ben}
                ben_id = rows[seeded.ben].id
            r = api.post(f"/api/credentials/{ben_id}/status", headers=ops,
                         json={"action": "revoke", "reason": "evidence found copied"})
            assert r.status_code == 200, r.text
        sources = hub.app.state.kpi_sources
        with hub.app.state.sessions() as db:
            counted = sources.credentials.issued(db)
            badge = db.get(IssuedCredential, rows[seeded.ana].id)
            assert [(c.learner_id, c.entry_id) for c in counted] == [(seeded.ana, badge.credential_key)]
            assert counted[0].issued_at == aware(badge.issued_at)
            # the outcome alone would have counted both learners
            assert sorted(c.learner_id for c in OutcomeCredentials().issued(db)) == sorted([seeded.ana, seeded.ben])
