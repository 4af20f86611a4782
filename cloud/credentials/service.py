"""Issuing, revoking, suspending and sharing credentials: the credentials area's service.

:meth:`CredentialService.on_decision` is wired into
:class:`cloud.challenges.hooks.LearningHooks` by the hub: when an operator
records the credential decision ``issued`` on a passing outcome, it issues,
inside that transaction, one signed ``OpenBadgeCredential`` per learner and
per credential of the pack. It is idempotent (the unique
``(session, learner, credential)`` row; :meth:`issue_for_outcome` again
returns the same rows), ledgered (``credential_issued``), and the decision's
timestamp closes the 10-business-day service level. Each issue raises the
learner's skills of that credential to ``assessor`` through the skills
area's :func:`cloud.skills.updates.from_credential`.

Revoking (final), suspending and reinstating flip the credential's bit in
its status list, re-sign the list and are ledgered with their reason.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.models import User
from cloud.challenges import ledger
from cloud.challenges.models import Outcome
from cloud.credentials import europass, keys, openbadges, statuslist
from cloud.credentials.dataintegrity import document_loader, now_xsd, sign
from cloud.credentials.models import IssuedCredential, StatusList
from cloud.errors import Conflict, Invalid, NotFound, Unavailable
from cloud.skills import updates as skill_updates

REASON_MIN = 5


@dataclass(frozen=True)
class IssuerConfig:
    """Who issues and with which key: the hub builds it from its settings (``TEACHFAB_HUB_ISSUER_*``)."""

    public_url: str
    slug: str = "hub"
    name: str = "TeachFab hub"
    country: str | None = None
    locality: str | None = None
    email: str | None = None
    url: str | None = None
    description: str | None = None
    legal_id: str | None = None
    key_file: str | None = None
    key_secret: str | None = None

    def __repr__(self) -> str:  # never print the key secret
        return f"IssuerConfig(public_url={self.public_url!r}, slug={self.slug!r}, name={self.name!r})"


class CredentialService:
    """The hub's issuer: its identity and key (an :class:`IssuerConfig`) and the operations.

    Examples
    --------
    >>> CredentialService(IssuerConfig("https://hub.example/")).issuer_id
    'https://hub.example/issuers/hub'
    """

    def __init__(self, config: IssuerConfig, private_key: Ed25519PrivateKey | None = None) -> None:
        self.config = config
        self.public_url = config.public_url.rstrip("/")
        self.issuer_id = f"{self.public_url}/issuers/{config.slug}"
        self._private = private_key

    def __repr__(self) -> str:
        return f"CredentialService(issuer_id={self.issuer_id!r})"

    # ------------------------------------------------------------------ identity and keys
    def private_key(self) -> Ed25519PrivateKey:
        """The configured signing key (loaded once; :class:`~cloud.errors.Unavailable` when none)."""
        if self._private is None:
            self._private = keys.load_private_key(self.config.key_file, self.config.key_secret)
        return self._private

    def use_key(self, private_key: Ed25519PrivateKey) -> None:
        """Sign with ``private_key`` from now on (rotation; the next signing registers it)."""
        self._private = private_key

    def signer(self, db: Session) -> keys.Signer:
        """The active key, registered (and the previous one retired) if new."""
        return keys.active_key(db, self.private_key())

    def issuer(self) -> dict:
        """The issuer Profile; :class:`~cloud.errors.Unavailable` without a country (an EU mandatory element)."""
        s = self.config
        if not s.country:
            raise Unavailable("set TEACHFAB_HUB_ISSUER_COUNTRY (ISO 3166-1 alpha-2) before issuing: the awarding "
                              "body's country is a mandatory element of a European micro-credential")
        return openbadges.issuer_profile(self.issuer_id, s.name, s.url or self.public_url, s.country,
                                         locality=s.locality, email=s.email, description=s.description,
                                         legal_id=s.legal_id)

    def controller(self, db: Session) -> dict:
        """The controller document served at the issuer URL."""
        return keys.controller_document(db, self.issuer_id)

    def _sign(self, db: Session, doc: dict) -> tuple[dict, keys.Signer]:
        signer = self.signer(db)
        return sign(doc, signer.private, keys.method_id(self.issuer_id, signer.public_multibase)), signer

    # ------------------------------------------------------------------ issuing
    def on_decision(self, db: Session, outcome: Outcome, by_user: int) -> None:
        """Hook: issue the credentials of an outcome whose decision was just recorded as ``issued``."""
        if outcome.credential_decision == "issued":
            self.issue_for_outcome(db, outcome, by_user)

    def issue_for_outcome(self, db: Session, outcome: Outcome, by_user: int | None = None) -> list[IssuedCredential]:
        """One credential per learner and pack credential of a passing outcome (flushed, not committed)."""
        doc = outcome.document
        if outcome.result != "pass":
            raise Conflict(f"session {outcome.session_id}: a credential is issued only for a passing outcome")
        if not doc.get("credentials"):
            raise Conflict(f"session {outcome.session_id} has no lab pack credential to issue")
        issuer = self.issuer()
        rows = []
        for learner in doc["learners"]:
            for cred in doc["credentials"]:
                rows.append(self._issue_one(db, outcome, learner, cred, issuer, by_user))
        return rows

    def _issue_one(self, db, outcome, learner, cred, issuer, by_user) -> IssuedCredential:
        existing = db.scalar(select(IssuedCredential).where(
            IssuedCredential.session_id == outcome.session_id, IssuedCredential.user_id == learner["id"],
            IssuedCredential.credential_key == cred["id"]))
        if existing is not None:
            return existing
        rev_list, rev_index = statuslist.allocate(db, "revocation")
        sus_list, sus_index = statuslist.allocate(db, "suspension")
        cid = str(uuid.uuid4())
        unsigned = openbadges.build(
            credential_id=f"urn:uuid:{cid}", issuer=issuer,
            learner={**learner, "subject_id": f"{self.issuer_id}/learners/{learner['id']}"},
            credential=cred, outcome=outcome.document, outcome_sha256=ledger.sha256_of(outcome.document),
            public_url=self.public_url, issued_at=now_xsd(), salt=secrets.token_hex(8),
            status=[statuslist.entry(self.public_url, rev_list.id, "revocation", rev_index),
                    statuslist.entry(self.public_url, sus_list.id, "suspension", sus_index)])
        signed, signer = self._sign(db, unsigned)
        raised = skill_updates.from_credential(db, learner["id"], cred, outcome.document,
                                               {"kind": "credential", "credential": f"urn:uuid:{cid}",
                                                "session": outcome.session_id, "pack": outcome.document.get("pack"),
                                                "achievement": cred["id"]}, by_user=by_user)
        entry = ledger.append(db, "credential_issued", f"learner:{learner['id']}",
                              {"credential": f"urn:uuid:{cid}", "session": outcome.session_id,
                               "achievement": cred["id"], "sha256": ledger.sha256_of(signed),
                               "key": signer.public_multibase, "by": by_user})
        row = IssuedCredential(id=cid, session_id=outcome.session_id, user_id=learner["id"],
                               credential_key=cred["id"], document=signed, key_id=signer.row_id,
                               revocation_list=rev_list.id, revocation_index=rev_index,
                               suspension_list=sus_list.id, suspension_index=sus_index,
                               raised=raised, ledger_hash=entry.hash)
        db.add(row)
        db.flush()
        return row

    # ------------------------------------------------------------------ reading
    def get(self, db: Session, credential_id: str) -> IssuedCredential:
        """The issued credential ``credential_id`` (uuid or ``urn:uuid:...``), or :class:`NotFound`."""
        row = db.get(IssuedCredential, credential_id.removeprefix("urn:uuid:"))
        if row is None:
            raise NotFound(f"no credential {credential_id!r}")
        return row

    def of_learner(self, db: Session, user_id: int) -> list[IssuedCredential]:
        """The learner's credentials, newest first."""
        return list(db.scalars(select(IssuedCredential).where(IssuedCredential.user_id == user_id)
                               .order_by(IssuedCredential.issued_at.desc())))

    # ------------------------------------------------------------------ data rights
    def export_person(self, db: Session, user_id: int) -> list[dict]:
        """The person's credentials for the data export: each signed document with its status and sharing."""
        return [{"id": f"urn:uuid:{r.id}", "credential": r.credential_key, "session": r.session_id,
                 "issued_at": r.issued_at.isoformat(), "status": r.status, "status_reason": r.status_reason,
                 "shared": r.share_token_hash is not None, "raised": r.raised, "ledger_hash": r.ledger_hash,
                 "document": r.document} for r in self.of_learner(db, user_id)]

    def erase_person(self, db: Session, user_id: int, identity: dict) -> dict:
        """Erasure of the person: their credentials stay as signed (valid, their status unchanged), share links go.

        A signed credential cannot change without breaking its proof, and it
        names the learner only by ``subject_id`` and a salted hash of the
        e-mail; its holder keeps it, and verifiers keep checking its status.
        Public share links are removed, so nothing of the person is shown to
        anyone holding an old link.
        """
        rows = self.of_learner(db, user_id)
        unshared = sum(r.share_token_hash is not None for r in rows)
        for r in rows:
            r.share_token_hash = None
        return {"credentials_kept_valid": len(rows), "share_links_removed": unshared}

    def own(self, db: Session, credential_id: str, user_id: int) -> IssuedCredential:
        """The credential if it is ``user_id``'s (others' answer :class:`NotFound`, like unknown ones)."""
        row = self.get(db, credential_id)
        if row.user_id != user_id:
            raise NotFound(f"no credential {credential_id!r}")
        return row

    def europass(self, db: Session, credential_id: str, user_id: int) -> dict:
        """The learner's credential as an (unsealed) ELM v3 European Digital Credential."""
        row = self.own(db, credential_id, user_id)
        outcome = db.get(Outcome, row.session_id).document
        pack_credential = next(c for c in outcome["credentials"] if c["id"] == row.credential_key)
        try:
            return europass.export(row.document, pack_credential, hours=(outcome.get("workload") or {}).get("hours"))
        except ValueError as exc:
            raise Unavailable(str(exc)) from None

    # ------------------------------------------------------------------ status lists
    def status_list(self, db: Session, list_id: str) -> dict:
        """The signed status list credential ``list_id`` (signed now if it never was)."""
        row = db.get(StatusList, list_id)
        if row is None:
            raise NotFound(f"no status list {list_id!r}")
        if row.document is None:
            self._resign(db, row)
            db.commit()
        return row.document

    def _resign(self, db: Session, row: StatusList) -> None:
        row.document, _ = self._sign(db, statuslist.list_credential(self.public_url, self.issuer_id, row))

    def loader_documents(self, db: Session) -> dict:
        """Controller document, its key documents and every status list: what verifying our credentials needs."""
        controller = self.controller(db)
        docs = {self.issuer_id: controller}
        for m in controller["verificationMethod"]:
            docs[m["id"]] = keys.method_document(controller, m["id"])
        for row in db.scalars(select(StatusList)):
            docs[statuslist.list_url(self.public_url, row.id)] = self.status_list(db, row.id)
        return docs

    def loader(self, db: Session):
        """An offline document loader holding the pinned contexts and :meth:`loader_documents`."""
        return document_loader(self.loader_documents(db))

    # ------------------------------------------------------------------ revocation and suspension
    def change_status(self, db: Session, credential_id: str, action: str, reason: str, user: User) -> IssuedCredential:
        """``revoke`` (final), ``suspend`` or ``reinstate`` (from suspension) with a reason; ledgered, committed."""
        if action not in ("revoke", "suspend", "reinstate"):
            raise Invalid(f"action must be revoke, suspend or reinstate, got {action!r}")
        if len(reason.strip()) < REASON_MIN:
            raise Invalid(f"reason: give at least {REASON_MIN} characters")
        row = self.get(db, credential_id)
        if row.status == "revoked":
            raise Conflict(f"credential {credential_id} is revoked; revocation is final")
        if action == "suspend" and row.status == "suspended":
            raise Conflict(f"credential {credential_id} is suspended already")
        if action == "reinstate" and row.status != "suspended":
            raise Conflict(f"credential {credential_id} is not suspended")
        purpose = "revocation" if action == "revoke" else "suspension"
        lst = db.get(StatusList, row.revocation_list if purpose == "revocation" else row.suspension_list)
        index = row.revocation_index if purpose == "revocation" else row.suspension_index
        statuslist.set_status(lst, index, action != "reinstate")
        self._resign(db, lst)
        row.status = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}[action]
        row.status_reason = reason.strip()
        ledger.append(db, f"credential_{row.status if action != 'reinstate' else 'reinstated'}",
                      f"learner:{row.user_id}", {"credential": f"urn:uuid:{row.id}", "reason": reason.strip(),
                                                 "list": lst.id, "index": index, "by": user.id})
        db.commit()
        return row

    # ------------------------------------------------------------------ sharing
    def share(self, db: Session, credential_id: str, user_id: int) -> str:
        """A new share token for the learner's own credential (replaces the previous link); committed."""
        row = self.own(db, credential_id, user_id)
        token = secrets.token_urlsafe(24)
        row.share_token_hash = hashlib.sha256(token.encode()).hexdigest()
        ledger.append(db, "credential_shared", f"learner:{user_id}", {"credential": f"urn:uuid:{row.id}"})
        db.commit()
        return token

    def share_url(self, token: str) -> str:
        """The public page showing a shared credential."""
        return f"{self.public_url}/verify?share={token}"

    def by_share(self, db: Session, token: str) -> IssuedCredential:
        """The credential a share token opens (:class:`NotFound` for an unknown or replaced token)."""
        if not isinstance(token, str) or not 16 <= len(token) <= 64:
            raise NotFound("no such share link")
        row = db.scalar(select(IssuedCredential).where(
            IssuedCredential.share_token_hash == hashlib.sha256(token.encode()).hexdigest()))
        if row is None:
            raise NotFound("no such share link")
        return row

    def unshare(self, db: Session, credential_id: str, user_id: int) -> None:
        """Withdraw the share link of the learner's credential."""
        row = self.own(db, credential_id, user_id)
        row.share_token_hash = None
        db.commit()

