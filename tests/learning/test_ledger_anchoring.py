"""Evidence checked against the ledger, and the ledger's head anchored in signed checkpoints (issue 17, finding 7).

Found: with the database triggers dropped, rewriting an evidence row and
recomputing its own hash left the API saying ``intact: true`` and
``/api/ledger/verify`` ok, although the ledger held the original hash; and
deleting the newest ledger entries left a chain that still verified. Here
the triggers are dropped (PostgreSQL: not fired) and rows rewritten as
someone holding the database could, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cloud.challenges import ledger, sessions
from cloud.challenges.checkpoints import LedgerCheckpoints
from cloud.challenges.models import LabSession, LedgerEntry
from contract.signing import generate_keypair
from tests.learning.support import active_challenge, run_session


def _as_attacker(db, *sql: tuple[str, dict]) -> None:
    """Run statements with the write-once triggers out of the way."""
    engine = db.get_bind()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("evidence", "ledger"):
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        for statement, params in sql:
            conn.execute(text(statement), params)


def _fresh(db) -> Session:
    return Session(db.get_bind())


def test_a_rewritten_evidence_row_with_its_own_hash_recomputed_is_detected(db, people):  # noqa: F811
    session = run_session(db, people, active_challenge(db, people).id)
    [ev] = session.evidence
    assert ledger.evidence_problems(db) == {}
    forged = json.loads(json.dumps(ev.document))
    forged["final"]["acceptance"]["met"] = not forged["final"]["acceptance"]["met"]
    _as_attacker(db, ("UPDATE evidence SET document = :doc, sha256 = :sha WHERE id = :id",
                      {"doc": json.dumps(forged), "sha": ledger.sha256_of(forged), "id": ev.id}))
    with _fresh(db) as audit:
        assert ledger.verify_chain(audit)["ok"]  # the chain alone does not see it
        problems = ledger.evidence_problems(audit)
        assert list(problems) == [ev.id] and "the ledger recorded sha256" in problems[ev.id]
        row = audit.get(LabSession, session.id)
        [shown] = sessions.evidence_of(audit, row)
        assert shown["intact"] is False
    # appending a new ledger entry for the forged hash and pointing the row at it does not help
    with _fresh(db) as attacker:
        entry = ledger.append(attacker, "evidence", f"session:{session.id}",
                              {"asset": ev.asset, "sha256": ledger.sha256_of(forged), "met": True})
        attacker.commit()
        new_hash = entry.hash
    _as_attacker(db, ("UPDATE evidence SET ledger_hash = :h WHERE id = :id", {"h": new_hash, "id": ev.id}))
    with _fresh(db) as audit:
        assert ledger.verify_chain(audit)["ok"] and ev.id in ledger.evidence_problems(audit)


def test_deleting_the_newest_entries_is_detected_by_the_signed_checkpoints(db, people, tmp_path):  # noqa: F811
    run_session(db, people, active_challenge(db, people).id)
    key, _ = generate_keypair()
    book = LedgerCheckpoints(tmp_path / "state" / "ledger-checkpoints.jsonl", key, "hub")
    with _fresh(db) as s:
        first = book.write(s)["payload"]
        assert book.write(s, only_if_new=True) is None  # nothing new: no second checkpoint
        n = s.scalar(select(func.count()).select_from(LedgerEntry))
        last_ids = list(s.scalars(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(3)))
    assert first["entries"] == n and book.check(db)["ok"]
    _as_attacker(db, ("DELETE FROM ledger WHERE id >= :id", {"id": min(last_ids)}))
    with _fresh(db) as audit:
        assert ledger.verify_chain(audit)["ok"]  # what is left still chains
        result = book.check(audit)
        assert not result["ok"] and result["checked"] == 1
        assert result["problem"] == f"entries deleted: checkpoint 1 covers {n} entries, the database holds {n - 3}"


def test_a_rewritten_history_and_an_edited_checkpoint_file_are_detected(db, people, tmp_path):  # noqa: F811
    run_session(db, people, active_challenge(db, people).id)
    key, _ = generate_keypair()
    book = LedgerCheckpoints(tmp_path / "checkpoints.jsonl", key, "hub")
    with _fresh(db) as s:
        book.write(s)
        rows = list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))
    # recompute every hash after a changed payload: the chain verifies again, the checkpoint does not
    prev, fixes = ledger.GENESIS, []
    for i, e in enumerate(rows):
        payload = json.dumps({"forged": True}) if i == 1 else e.payload
        h = ledger._link(prev, e.kind, e.subject, e.created_ns, payload)
        fixes.append(("UPDATE ledger SET payload = :p, prev_hash = :prev, hash = :h WHERE id = :id",
                      {"p": payload, "prev": prev, "h": h, "id": e.id}))
        prev = h
    _as_attacker(db, *fixes)
    with _fresh(db) as audit:
        assert ledger.verify_chain(audit)["ok"]
        assert "history rewritten" in book.check(audit)["problem"]
    lines = book.path.read_text().splitlines()
    doc = json.loads(lines[0])
    doc["payload"]["head"] = prev  # make the file agree with the rewrite: the signature no longer does
    book.path.write_text(json.dumps(doc) + "\n")
    with _fresh(db) as audit:
        assert "not signed by the hub key" in book.check(audit)["problem"]
