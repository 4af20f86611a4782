"""The hub's own verification of a credential someone hands it: signature, issuer, status, validity, content.

Only this hub's issuer is known: its controller document and status lists
come from the database, contexts from the pinned copies, nothing from the
network. A credential of another issuer is answered ``issuer.known: false``
and not verified (use any standard verifier for those, ``docs/credentials.md``).
The answer always comes back: a malformed document is a result with its
reason, never an error.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from cloud.credentials import statuslist
from cloud.credentials.dataintegrity import ProofError, public_key_from_multikey, verify_proof
from cloud.credentials.service import CredentialService


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def verify(db: Session, service: CredentialService, doc, now: datetime | None = None) -> dict:
    """Check ``doc`` against this hub's issuer; a dict of checks and ``verified`` (all passed)."""
    now = now or datetime.now(timezone.utc)
    errors: list[str] = []
    if not isinstance(doc, dict):
        return {"verified": False, "errors": ["a credential is a JSON object"], "signature": {"valid": False},
                "issuer": {"known": False}, "status": [], "validity": {}, "achievement": None, "evidence": []}
    issuer = doc.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    known = issuer_id == service.issuer_id
    profile = issuer if isinstance(issuer, dict) else {}
    address = profile.get("address") if isinstance(profile.get("address"), dict) else {}
    out = {"issuer": {"id": issuer_id if isinstance(issuer_id, str) else None, "known": known,
                      "name": profile.get("name"), "country": address.get("addressCountryCode")}}
    # --- signature
    sig = {"valid": False, "method": None, "key_revoked": None}
    proof = doc.get("proof") if isinstance(doc.get("proof"), dict) else {}
    method = proof.get("verificationMethod")
    sig["method"], sig["created"] = method, proof.get("created")
    if not known:
        errors.append(f"issuer {issuer_id!r} is not this hub's issuer ({service.issuer_id})")
    elif not isinstance(method, str) or not method.startswith(service.issuer_id + "#"):
        errors.append("proof.verificationMethod is not one of the issuer's keys")
    else:
        controller = service.controller(db)
        vm = next((m for m in controller["verificationMethod"] if m["id"] == method), None)
        if vm is None:
            errors.append(f"verification method {method} is not in the issuer's controller document")
        else:
            created, revoked = _parse_time(proof.get("created")), _parse_time(vm.get("revoked"))
            sig["key_revoked"] = vm.get("revoked")
            try:
                sig["valid"] = verify_proof(doc, public_key_from_multikey(vm["publicKeyMultibase"]),
                                            service.loader(db))
            except ProofError as exc:
                errors.append(str(exc))
            if sig["valid"] and revoked is not None and (created is None or created >= revoked):
                sig["valid"] = False
                errors.append(f"the proof was created after its key was retired ({vm['revoked']})")
            elif not sig["valid"] and not errors:
                errors.append("the signature does not match the credential: it was changed after signing")
    out["signature"] = sig
    # --- status
    status = []
    entries = doc.get("credentialStatus") or []
    for e in entries if isinstance(entries, list) else [entries]:
        if not isinstance(e, dict):
            continue
        item = {"purpose": e.get("statusPurpose"), "list": e.get("statusListCredential"), "set": None}
        try:
            list_id = str(e["statusListCredential"]).rsplit("/", 1)[-1]
            if e["statusListCredential"] != statuslist.list_url(service.public_url, list_id):
                raise LookupError(e["statusListCredential"])
            list_doc = service.status_list(db, list_id)
            bits = statuslist.decode_list(list_doc["credentialSubject"]["encodedList"])
            item["set"] = statuslist.get_bit(bits, int(e["statusListIndex"]))
        except (LookupError, ValueError, TypeError):
            errors.append(f"status entry {e.get('id')!r} cannot be checked against this hub's lists")
        status.append(item)
    for item in status:
        if item["set"]:
            errors.append("the credential is revoked" if item["purpose"] == "revocation" else
                          "the credential is suspended")
    out["status"] = status
    # --- validity
    start, end = _parse_time(doc.get("validFrom")), _parse_time(doc.get("validUntil"))
    current = start is not None and start <= now and (end is None or now < end)
    if not current:
        errors.append("the credential is outside its validity period" if start else "validFrom is missing")
    out["validity"] = {"valid_from": doc.get("validFrom"), "valid_until": doc.get("validUntil"), "current": current}
    # --- content summary
    subject = doc.get("credentialSubject") if isinstance(doc.get("credentialSubject"), dict) else {}
    ach = subject.get("achievement") if isinstance(subject.get("achievement"), dict) else {}
    out["achievement"] = {"name": ach.get("name"), "description": ach.get("description"),
                          "credits": ach.get("creditsAvailable"),
                          "skills": [a.get("targetName") for a in ach.get("alignment", []) if isinstance(a, dict)
                                     and a.get("targetFramework") == "ESCO"],
                          "eqf": next((a.get("targetUrl") for a in ach.get("alignment", []) if isinstance(a, dict)
                                       and str(a.get("targetUrl", "")).startswith("http://data.europa.eu/snb/eqf/")),
                                      None),
                          "subject": subject.get("id")} if ach else None
    ev = doc.get("evidence") if isinstance(doc.get("evidence"), list) else []
    out["evidence"] = [{"name": e.get("name"), "sha256": str(e.get("description", "")).removeprefix("sha256:")}
                       for e in ev if isinstance(e, dict)]
    out["errors"] = errors
    out["verified"] = not errors and sig["valid"]
    return out
