"""Issuing credentials at the service level, on SQLite and PostgreSQL: a real session's passing outcome and the
operator's "issued" decision give each learner a signed OpenBadgeCredential; idempotent, ledgered, the service
level closed, skills confirmed; revoke / suspend / reinstate flip the status lists; key rotation keeps old proofs."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from cloud.challenges import assessment, ledger, sla
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.models import Outcome
from cloud.credentials import dataintegrity as di
from cloud.credentials import statuslist
from cloud.credentials import verify as verifier
from cloud.credentials.models import IssuedCredential, IssuerKey, StatusList
from cloud.credentials.service import CredentialService, IssuerConfig
from cloud.errors import Conflict, Invalid, Unavailable
from cloud.skills import updates
from tests.learning.support import active_challenge
from tests.learning.test_skill_profiles import CRITERIA, close_with_hooks

ISSUER = IssuerConfig(public_url="https://hub.example", slug="vet-hub", name="VET college hub", country="SI",
                      locality="Ljubljana", email="credentials@hub.example", legal_id="SI12345678")


@pytest.fixture
def service():
    return CredentialService(ISSUER, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


def hooks_with(service):
    return LearningHooks(on_evidence=[updates.from_evidence], on_outcome=[updates.from_outcome],
                         on_credential_decision=[service.on_decision])


def passed(db, p, service):
    c = active_challenge(db, p)
    s = close_with_hooks(db, p, c.id)
    for assessor in (p.academic, p.industrial):
        assessment.submit_score(db, s.id, assessor, {k: 3 for k in CRITERIA})
    outcome = assessment.sign_off(db, s.id, p.industrial, hooks=hooks_with(service))
    assert outcome.result == "pass"
    return s, outcome


def test_issue_on_decision_signs_a_complete_open_badge(db, people, service):
    p = people
    s, outcome = passed(db, p, service)
    assessment.record_credential_decision(db, s.id, p.ops, "issued", hooks=hooks_with(service))
    rows = list(db.scalars(select(IssuedCredential)))
    pack_creds = outcome.document["credentials"]
    assert len(rows) == len(pack_creds) * len(outcome.document["learners"]) >= 1
    doc = rows[0].document
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["@context"] == [di.CREDENTIALS_V2, di.OB_V3]
    assert doc["issuer"]["id"] == "https://hub.example/issuers/vet-hub"
    assert doc["issuer"]["address"]["addressCountryCode"] == "SI"
    ach = doc["credentialSubject"]["achievement"]
    assert ach["name"] == pack_creds[0]["title"] and ach["criteria"]["narrative"]
    assert ach["creditsAvailable"] == outcome.document["workload"]["ects"]
    esco = {a["targetUrl"] for a in ach["alignment"] if a["targetFramework"] == "ESCO"}
    assert esco == {s_["uri"] for s_ in pack_creds[0]["skills"]}
    assert f"http://data.europa.eu/snb/eqf/{outcome.document['eqf_level']}" in {a["targetUrl"] for a in ach["alignment"]}
    assert doc["credentialSubject"]["result"][0]["value"] == "pass"
    shas = {e["description"] for e in doc["evidence"]}
    assert {f"sha256:{e['sha256']}" for e in outcome.document["evidence"]} < shas
    assert f"sha256:{ledger.sha256_of(outcome.document)}" in shas
    purposes = {e["statusPurpose"]: int(e["statusListIndex"]) for e in doc["credentialStatus"]}
    assert set(purposes) == {"revocation", "suspension"}
    assert all(0 <= i < statuslist.LIST_SIZE for i in purposes.values())
    # signed by the configured key and verified by the hub's own verifier
    result = verifier.verify(db, service, doc)
    assert result["verified"], result["errors"]
    # the service level is closed (done: decided well inside 10 business days), all ledgered
    item = next(i for i in sla.items(db, _AllScope()) if i["kind"] == "credential_decision")
    assert item["state"] == "done"
    kinds = [e["kind"] for e in ledger.entries(db, f"learner:{p.ana.id}")]
    assert "credential_issued" in kinds
    assert ledger.verify_chain(db)["ok"]
    # the credential's skills are assessor-confirmed and the row says so
    assert rows[0].raised and all(r["source"] == "assessor" for r in rows[0].raised)
    # idempotent: issuing again gives the same rows
    again = service.issue_for_outcome(db, db.get(Outcome, s.id))
    assert {r.id for r in again} == {r.id for r in rows}


class _AllScope:
    def site(self, _):
        return True

    def challenge(self, _):
        return True


def test_no_country_no_decision(db, people):
    p = people
    svc = CredentialService(IssuerConfig(public_url="https://hub.example"),
                            Ed25519PrivateKey.from_private_bytes(bytes(32)))
    s, _ = passed(db, p, svc)
    with pytest.raises(Unavailable, match="ISSUER_COUNTRY"):
        assessment.record_credential_decision(db, s.id, p.ops, "issued", hooks=hooks_with(svc))
    db.rollback()
    assert db.get(Outcome, s.id).credential_decided_at is None  # nothing recorded, the clock still runs


def test_revoke_suspend_reinstate_and_tamper(db, people, service):
    p = people
    s, _ = passed(db, p, service)
    assessment.record_credential_decision(db, s.id, p.ops, "issued", hooks=hooks_with(service))
    row = db.scalars(select(IssuedCredential)).first()
    doc = row.document
    tampered = copy.deepcopy(doc)
    tampered["credentialSubject"]["achievement"]["name"] += "!"
    bad = verifier.verify(db, service, tampered)
    assert not bad["verified"] and not bad["signature"]["valid"]
    with pytest.raises(Invalid, match="reason"):
        service.change_status(db, row.id, "suspend", "no", p.ops)
    service.change_status(db, row.id, "suspend", "under investigation", p.ops)
    r = verifier.verify(db, service, doc)
    assert not r["verified"] and "the credential is suspended" in r["errors"]
    lst = db.get(StatusList, row.suspension_list)
    assert statuslist.get_bit(statuslist.decode_list(lst.document["credentialSubject"]["encodedList"]),
                              row.suspension_index)
    service.change_status(db, row.id, "reinstate", "investigation closed", p.ops)
    assert verifier.verify(db, service, doc)["verified"]
    service.change_status(db, row.id, "revoke", "evidence was fabricated", p.ops)
    r = verifier.verify(db, service, doc)
    assert "the credential is revoked" in r["errors"]
    with pytest.raises(Conflict, match="final"):
        service.change_status(db, row.id, "reinstate", "changed our mind", p.ops)
    kinds = [e["kind"] for e in ledger.entries(db, f"learner:{row.user_id}")]
    assert {"credential_suspended", "credential_reinstated", "credential_revoked"} <= set(kinds)
    # the status list credential itself is signed by the issuer
    lst_doc = service.status_list(db, row.revocation_list)
    assert lst_doc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    key = di.public_key_from_multikey(service.controller(db)["verificationMethod"][0]["publicKeyMultibase"])
    assert di.verify_proof(lst_doc, key)


def test_rotation_keeps_old_credentials_verifiable(db, people, service):
    p = people
    s, _ = passed(db, p, service)
    assessment.record_credential_decision(db, s.id, p.ops, "issued", hooks=hooks_with(service))
    old = db.scalars(select(IssuedCredential)).first().document
    service.use_key(Ed25519PrivateKey.from_private_bytes(bytes([7] * 32)))
    service.signer(db)
    db.commit()
    controller = service.controller(db)
    assert len(controller["verificationMethod"]) == 2
    retired, active = controller["verificationMethod"]
    assert "revoked" in retired and "revoked" not in active
    assert old["proof"]["verificationMethod"] == retired["id"]
    assert verifier.verify(db, service, old)["verified"]
    # a proof the retired key made after its retirement is refused
    late = di.sign({k: v for k, v in old.items() if k != "proof"},
                   Ed25519PrivateKey.from_private_bytes(bytes(range(32))), retired["id"],
                   created=di.xsd_datetime(db.scalars(select(IssuerKey)).first().retired_at + timedelta(seconds=5)))
    r = verifier.verify(db, service, late)
    assert not r["verified"] and any("retired" in e for e in r["errors"])
