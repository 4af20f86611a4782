"""What the hub issues, verified by code that is not ours: Digital Bazaar's @digitalbazaar/vc stack, offline,
with only the contexts and the controller document and status lists fetched from the running hub.

That stack's top-level ``verified`` stays true for a revoked or suspended credential (the status is not part
of the proof): revocation and suspension are asserted on its status results.
"""

from __future__ import annotations

import copy

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def fetched(hub, credential: dict) -> dict:
    """The issuer's controller document, its key documents and the credential's status lists, over HTTP."""
    issuer = credential["issuer"]["id"]
    controller = httpx.get(issuer).json()
    docs = {issuer: controller}
    for m in controller["verificationMethod"]:
        docs[m["id"]] = {"@context": "https://w3id.org/security/multikey/v1", **m}
    for entry in credential["credentialStatus"]:
        url = entry["statusListCredential"]
        r = httpx.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json"), r.text
        docs[url] = r.json()
    return docs


def wallet(hub, email: str) -> list[dict]:
    token = hub.token(email)
    r = httpx.get(f"{hub.url}/api/credentials/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def status_of(answer: dict) -> dict:
    return {s["purpose"]: s["set"] for s in answer["status"]}


def change(hub, credential_id: str, action: str, reason: str) -> None:
    r = httpx.post(f"{hub.url}/api/credentials/{credential_id}/status", json={"action": action, "reason": reason},
                   headers={"Authorization": f"Bearer {hub.ops_token}"})
    assert r.status_code == 200, r.text


def test_fresh_credential_verifies_and_one_changed_character_fails(live_hub, node_verifier):
    creds = wallet(live_hub, "ana@vet.example")
    assert len(creds) == 1 and creds[0]["status"] == "active"
    doc = creds[0]["document"]
    answer = node_verifier.verify(doc, fetched(live_hub, doc))
    assert answer["verified"], answer
    assert status_of(answer) == {"revocation": False, "suspension": False}
    tampered = copy.deepcopy(doc)
    name = tampered["credentialSubject"]["achievement"]["name"]
    tampered["credentialSubject"]["achievement"]["name"] = name[:-1] + ("X" if name[-1] != "X" else "Y")
    assert not node_verifier.verify(tampered, fetched(live_hub, doc))["verified"]
    # the same achievement as an (unsealed) Europass credential, the learner's own only
    ana, ben = live_hub.token("ana@vet.example"), live_hub.token("ben@vet.example")
    url = f"{live_hub.url}/api/credentials/me/{doc['id']}/europass"
    r = httpx.get(url, headers={"Authorization": f"Bearer {ana}"})
    assert r.status_code == 200 and r.json()["type"] == ["VerifiableCredential", "EuropeanDigitalCredential"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {ben}"}).status_code == 404


def test_revocation_is_seen_by_the_status_check(live_hub, node_verifier):
    doc = wallet(live_hub, "ben@vet.example")[0]["document"]
    change(live_hub, doc["id"], "revoke", "the evidence was not the team's own")
    answer = node_verifier.verify(doc, fetched(live_hub, doc))
    assert status_of(answer) == {"revocation": True, "suspension": False}, answer
    assert answer["verified"]  # this stack's proof check still passes: the status result says revoked


def test_suspension_then_reinstatement(live_hub, node_verifier):
    doc = wallet(live_hub, "ana@vet.example")[0]["document"]
    change(live_hub, doc["id"], "suspend", "an appeal is under review")
    assert status_of(node_verifier.verify(doc, fetched(live_hub, doc))) == {"revocation": False, "suspension": True}
    change(live_hub, doc["id"], "reinstate", "the appeal was rejected")
    answer = node_verifier.verify(doc, fetched(live_hub, doc))
    assert answer["verified"] and status_of(answer) == {"revocation": False, "suspension": False}


def test_credential_of_a_rotated_out_key_still_verifies(live_hub, node_verifier):
    doc = wallet(live_hub, "ana@vet.example")[0]["document"]
    live_hub.app.state.credentials.use_key(Ed25519PrivateKey.generate())
    # a status change re-signs the lists with the new key, which retires the old one
    change(live_hub, doc["id"], "suspend", "rotation check: suspended")
    change(live_hub, doc["id"], "reinstate", "rotation check: reinstated")
    docs = fetched(live_hub, doc)
    controller = docs[doc["issuer"]["id"]]
    assert len(controller["verificationMethod"]) == 2
    old = next(m for m in controller["verificationMethod"] if m["id"] == doc["proof"]["verificationMethod"])
    assert "revoked" in old
    suspension = next(e for e in doc["credentialStatus"] if e["statusPurpose"] == "suspension")
    # the suspension list was re-signed by the new key; the revocation list still carries the old key's proof
    assert docs[suspension["statusListCredential"]]["proof"]["verificationMethod"] != old["id"]
    answer = node_verifier.verify(doc, docs)
    assert answer["verified"] and status_of(answer) == {"revocation": False, "suspension": False}, answer
