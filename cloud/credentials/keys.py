"""The issuer's signing keys: loaded from the hub's settings, published as Multikeys in a controller document.

The issuer is an https URL, ``{public_url}/issuers/{slug}``; the hub serves
its controller document there. Each key is a ``Multikey`` verification
method ``{issuer}#{publicKeyMultibase}`` listed in ``assertionMethod``.

Rotation: point the settings at a new private key and restart. The first
signing with it registers it (:func:`active_key`); the key before it gets
``retired_at`` and stays in the document, marked ``revoked`` from that time
(Data Integrity verifiers refuse proofs *created* after a key's ``revoked``
date, and accept earlier ones), so credentials it signed still verify.
Nothing is ever deleted.

The private key is read from a PEM file (``credential_key``) or a
``secretKeyMultibase`` secret (``credential_key_secret``); it is kept only
in memory, never logged, stored or returned.

Examples
--------
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from cloud.credentials.dataintegrity import secret_multikey
>>> key = load_private_key(None, secret_multikey(Ed25519PrivateKey.from_private_bytes(bytes(32))))
>>> public_multikey(key.public_key())
'z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges import ledger
from cloud.credentials.dataintegrity import (MULTIKEY_V1, private_key_from_multikey,
                                             public_multikey, xsd_datetime)
from cloud.credentials.models import IssuerKey
from cloud.database import iso_utc, utcnow
from cloud.errors import Unavailable

#: The controller document's context: the verification relationships (security v2, which verifiers frame the
#: document with) and the Multikey terms.
SECURITY_V2 = "https://w3id.org/security/v2"
CONTROLLER_CONTEXT = [SECURITY_V2, MULTIKEY_V1]


def load_private_key(path: str | None, secret: str | None) -> Ed25519PrivateKey:
    """The issuer's Ed25519 private key from a PEM file or a ``secretKeyMultibase`` (``z3u2...``).

    Raises :class:`~cloud.errors.Unavailable` naming the setting when neither
    is given or the key is not Ed25519 (never quoting the key).
    """
    if secret:
        try:
            return private_key_from_multikey(secret.strip())
        except ValueError:
            raise Unavailable("TEACHFAB_HUB_CREDENTIAL_KEY_SECRET is not an Ed25519 secretKeyMultibase") from None
    if not path:
        raise Unavailable("no credential signing key: set TEACHFAB_HUB_CREDENTIAL_KEY (PEM file) or "
                          "TEACHFAB_HUB_CREDENTIAL_KEY_SECRET (secretKeyMultibase)")
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise Unavailable(f"TEACHFAB_HUB_CREDENTIAL_KEY {path!r}: cannot read an unencrypted PEM private key "
                          f"({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise Unavailable(f"TEACHFAB_HUB_CREDENTIAL_KEY {path!r} is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class Signer:
    """The key that signs now: its row and the private key (in memory only)."""

    row_id: int
    public_multibase: str
    private: Ed25519PrivateKey

    def __repr__(self) -> str:  # never print the private key
        return f"Signer(row_id={self.row_id}, public_multibase={self.public_multibase!r})"


def active_key(db: Session, private: Ed25519PrivateKey) -> Signer:
    """Register ``private``'s public key if new (retiring the active one, ledgered); flushed, not committed."""
    public = public_multikey(private.public_key())
    row = db.scalar(select(IssuerKey).where(IssuerKey.public_multibase == public))
    if row is None:
        now = utcnow()
        for old in db.scalars(select(IssuerKey).where(IssuerKey.retired_at.is_(None))):
            old.retired_at = now
            ledger.append(db, "issuer_key_retired", f"issuer_key:{old.id}", {"publicKeyMultibase": old.public_multibase})
        row = IssuerKey(public_multibase=public, created_at=now)
        db.add(row)
        db.flush()
        ledger.append(db, "issuer_key", f"issuer_key:{row.id}", {"publicKeyMultibase": public})
    elif row.retired_at is not None:
        raise Unavailable(f"the configured credential key {public} was retired on {iso_utc(row.retired_at)}; "
                          "a retired key never signs again: configure a new key")
    return Signer(row.id, public, private)


def method_id(issuer: str, public_multibase: str) -> str:
    """The verification method URL of a key: ``{issuer}#{publicKeyMultibase}``."""
    return f"{issuer}#{public_multibase}"


def controller_document(db: Session, issuer: str) -> dict:
    """The issuer's controller document: every key ever used, retired ones marked ``revoked``."""
    methods = []
    for row in db.scalars(select(IssuerKey).order_by(IssuerKey.id)):
        m = {"id": method_id(issuer, row.public_multibase), "type": "Multikey", "controller": issuer,
             "publicKeyMultibase": row.public_multibase}
        if row.retired_at is not None:
            # the next whole second: every proof made before retirement (``created`` is in whole seconds) is earlier
            m["revoked"] = xsd_datetime(row.retired_at.replace(microsecond=0) + timedelta(seconds=1))
        methods.append(m)
    ids = [m["id"] for m in methods]
    return {"@context": CONTROLLER_CONTEXT, "id": issuer, "verificationMethod": methods,
            "assertionMethod": ids}


def method_document(controller: dict, method: str) -> dict:
    """One verification method with the Multikey context, as a verifier dereferencing ``method`` expects."""
    for m in controller["verificationMethod"]:
        if m["id"] == method:
            return {"@context": MULTIKEY_V1, **m}
    raise KeyError(method)
