"""The tamper-evident log of DESIGN.md "Security": charter signatures, deployments, evidence,
assessments and outcomes, each chained to the one before by SHA-256.

``hash = sha256(prev_hash + canonical_json({kind, subject, created_ns, payload}))``;
the first entry's ``prev_hash`` is :data:`GENESIS`. Changing, removing or
reordering any entry breaks every hash after it, which :func:`verify_chain`
reports. The table is write-once at the database level as well, and
``prev_hash`` is unique, so two hubs appending at once cannot fork the chain
(the loser retries on the new head).

What the chain alone cannot show is the loss of its newest entries (the
remaining prefix still chains) or a wholesale rewrite by someone who can
recompute every hash: :mod:`cloud.challenges.checkpoints` anchors the head
in signed checkpoints kept outside the database. Evidence rows are checked
against the hash their ledger entry recorded (:func:`evidence_problems`).

Examples
--------
>>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
>>> engine = make_engine("sqlite://"); upgrade_database(engine)
>>> with make_sessionmaker(engine)() as db:
...     a = append(db, "deployment", "session:1", {"hash": "0123abcd0123abcd"})
...     b = append(db, "evidence", "session:1", {"sha256": "ff" * 32})
...     db.commit()
...     verify_chain(db)["ok"], b.prev_hash == a.hash
(True, True)
"""

from __future__ import annotations

import hashlib
import json
import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.challenges.models import Evidence, LedgerEntry

#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64


def canonical(doc) -> str:
    """JSON with sorted keys and no spaces: the same document always gives the same text."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_of(doc) -> str:
    """SHA-256 (hex) of ``doc``'s canonical JSON."""
    return hashlib.sha256(canonical(doc).encode()).hexdigest()


def _link(prev_hash: str, kind: str, subject: str, created_ns: int, payload: str) -> str:
    body = canonical({"kind": kind, "subject": subject, "created_ns": created_ns, "payload": payload})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def head(db: Session) -> str:
    """Hash of the newest entry (:data:`GENESIS` for an empty ledger)."""
    last = db.scalar(select(LedgerEntry.hash).order_by(LedgerEntry.id.desc()).limit(1))
    return last or GENESIS


def append(db: Session, kind: str, subject: str, payload: dict, attempts: int = 5) -> LedgerEntry:
    """Add an entry on the current head inside the caller's transaction (flushed, not committed).

    Parameters
    ----------
    kind : str
        What is recorded (``charter_signature``, ``deployment``, ``evidence``,
        ``assessment``, ``moderation``, ``outcome``, ``kpi``...).
    subject : str
        What it is about, e.g. ``session:12`` or ``challenge:3``.
    payload : dict
        The recorded facts (JSON-serialisable).
    """
    text = canonical(payload)
    for _ in range(attempts):
        prev = head(db)
        created = time.time_ns()
        entry = LedgerEntry(kind=kind, subject=subject, payload=text, created_ns=created, prev_hash=prev,
                            hash=_link(prev, kind, subject, created, text))
        try:
            with db.begin_nested():
                db.add(entry)
            return entry
        except IntegrityError:  # another writer appended on the same head: retry on the new one
            continue
    raise RuntimeError(f"could not append to the ledger after {attempts} attempts (heavy contention)")


def verify_chain(db: Session) -> dict:
    """Recompute every link; ``{"ok", "entries", "head", "broken_at"}`` (``broken_at``: first bad id).

    Reads what the database holds, not the entries this session loaded before.
    """
    prev, n = GENESIS, 0
    for e in db.scalars(select(LedgerEntry).order_by(LedgerEntry.id).execution_options(populate_existing=True)):
        n += 1
        if e.prev_hash != prev or e.hash != _link(prev, e.kind, e.subject, e.created_ns, e.payload):
            return {"ok": False, "entries": n, "head": prev, "broken_at": e.id}
        prev = e.hash
    return {"ok": True, "entries": n, "head": prev, "broken_at": None}


def chain_hashes(db: Session) -> list[str]:
    """The hash of every entry, oldest first (entry ``n`` of a checkpoint is ``chain_hashes(db)[n - 1]``)."""
    return list(db.scalars(select(LedgerEntry.hash).order_by(LedgerEntry.id)
                           .execution_options(populate_existing=True)))


def evidence_problems(db: Session) -> dict[int, str]:
    """Evidence rows that do not match what the ledger recorded, by id, each with the reason.

    A row's document must hash to its ``sha256``, and that must be the hash
    recorded by the **first** ``evidence`` entry of its session for its asset
    (evidence is written once per asset), which ``ledger_hash`` must name.
    Recomputing a rewritten row's own hash, or appending a new ledger entry
    for it, does not pass: the first entry still holds the original.
    """
    first: dict[tuple[str, str], LedgerEntry] = {}
    for e in db.scalars(select(LedgerEntry).where(LedgerEntry.kind == "evidence").order_by(LedgerEntry.id)
                        .execution_options(populate_existing=True)):
        try:
            asset = json.loads(e.payload).get("asset")
        except (ValueError, AttributeError):
            continue
        first.setdefault((e.subject, str(asset)), e)
    out = {}
    for ev in db.scalars(select(Evidence).order_by(Evidence.id).execution_options(populate_existing=True)):
        entry = first.get((f"session:{ev.session_id}", ev.asset))
        recorded = json.loads(entry.payload).get("sha256") if entry is not None else None
        if entry is None:
            out[ev.id] = "no ledger entry records this evidence"
        elif sha256_of(ev.document) != ev.sha256:
            out[ev.id] = "the document does not hash to its recorded sha256"
        elif ev.sha256 != recorded:
            out[ev.id] = f"the ledger recorded sha256 {recorded}, the row holds {ev.sha256}"
        elif ev.ledger_hash != entry.hash:
            out[ev.id] = f"the row names ledger entry {ev.ledger_hash}, the evidence was recorded in {entry.hash}"
    return out


def entries(db: Session, subject: str) -> list[dict]:
    """Every entry about ``subject``, oldest first, with its payload decoded."""
    rows = db.scalars(select(LedgerEntry).where(LedgerEntry.subject == subject).order_by(LedgerEntry.id))
    return [{"id": e.id, "kind": e.kind, "created_ns": e.created_ns, "hash": e.hash, "prev_hash": e.prev_hash,
             "payload": json.loads(e.payload)} for e in rows]
