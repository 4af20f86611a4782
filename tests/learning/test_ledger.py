"""The hash-chained ledger and the write-once evidence, on SQLite and PostgreSQL: the chain verifies,
tampering is found, the database triggers refuse UPDATE and DELETE, and a session's evidence has
one segment per deployment, the final one last, and ignores alerts outside the session.
"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cloud.challenges import ledger, sessions, sla
from cloud.challenges.charters import ChallengeError
from cloud.challenges.models import Evidence, LedgerEntry
from labs.packs import load_pack
from tests.learning.support import PACK, T0, S, active_challenge, recorded_telemetry, run_session


def _audit(db) -> dict:  # noqa: F811
    """``verify_chain`` as an auditor runs it: from a fresh session, reading what the database holds."""
    with Session(db.get_bind()) as fresh:
        return ledger.verify_chain(fresh)


def _tamper(db, sql: str, **params) -> None:  # noqa: F811
    """Run ``sql`` around the write-once triggers, as someone with the database's keys could."""
    engine = db.get_bind()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # triggers do not fire
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_no_delete"))
        conn.execute(text(sql), params)


def test_chain_links_every_entry_and_verifies(db, people):  # noqa: F811
    p = people
    challenge = active_challenge(db, p)
    s = run_session(db, p, challenge.id)
    sla.submit(db, s.id, p.ana, "Our report.", [])
    rows = db.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert rows[0].prev_hash == ledger.GENESIS
    for before, entry in zip(rows, rows[1:]):
        assert entry.prev_hash == before.hash
    for entry in rows:
        body = ledger.canonical({"kind": entry.kind, "subject": entry.subject, "created_ns": entry.created_ns,
                                 "payload": entry.payload})
        assert entry.hash == hashlib.sha256((entry.prev_hash + body).encode()).hexdigest()
    assert ledger.head(db) == rows[-1].hash
    assert _audit(db) == {"ok": True, "entries": len(rows), "head": rows[-1].hash, "broken_at": None}
    assert ledger.verify_chain(db)["ok"]

    kinds = [e["kind"] for e in ledger.entries(db, f"session:{s.id}")]
    assert kinds == ["deployment", "session_started", "evidence", "session_closed", "submission"]
    assert {e.subject for e in rows} == {f"challenge:{challenge.id}", f"session:{s.id}"}
    assert ledger.entries(db, "session:999") == []


def test_tampering_breaks_the_chain_where_it_happened(db):  # noqa: F811
    entries = [ledger.append(db, "kpi", "challenge:1", {"n": n}) for n in range(5)]
    db.commit()
    ids = [e.id for e in entries]
    original = entries[2].payload
    assert _audit(db)["ok"]

    _tamper(db, "UPDATE ledger SET payload = :forged WHERE id = :id", forged='{"n":200}', id=ids[2])
    assert _audit(db) == {"ok": False, "entries": 3, "head": entries[1].hash, "broken_at": ids[2]}
    # the session that wrote the entries still holds them unchanged; it must check the database, not its memory
    assert ledger.verify_chain(db)["broken_at"] == ids[2]

    # re-hashing the forged entry too only moves the break to the next one
    body = ledger.canonical({"kind": "kpi", "subject": "challenge:1", "created_ns": entries[2].created_ns,
                             "payload": '{"n":200}'})
    forged = hashlib.sha256((entries[1].hash + body).encode()).hexdigest()
    _tamper(db, "UPDATE ledger SET hash = :forged WHERE id = :id", forged=forged, id=ids[2])
    assert _audit(db)["broken_at"] == ids[3]

    _tamper(db, "UPDATE ledger SET payload = :payload, hash = :hash WHERE id = :id",
            payload=original, hash=entries[2].hash, id=ids[2])
    assert _audit(db)["ok"]  # put back as it was: intact again

    _tamper(db, "DELETE FROM ledger WHERE id = :id", id=ids[1])  # a removed entry
    assert _audit(db) == {"ok": False, "entries": 2, "head": entries[0].hash, "broken_at": ids[2]}


def test_write_once_triggers_refuse_update_and_delete(db, people):  # noqa: F811
    p = people
    s = run_session(db, p, active_challenge(db, p).id)
    [evidence] = db.scalars(select(Evidence).where(Evidence.session_id == s.id)).all()
    n_entries = db.scalar(select(func.count()).select_from(LedgerEntry))
    refused = [
        ("UPDATE evidence SET sha256 = 'forged'", "evidence"),
        (f"DELETE FROM evidence WHERE id = {evidence.id}", "evidence"),
        ("UPDATE ledger SET payload = '{}'", "ledger"),
        ("DELETE FROM ledger", "ledger"),
    ]
    for sql, table in refused:
        with pytest.raises(DBAPIError, match=f"{table} rows are write-once"):
            db.execute(text(sql))
            db.commit()
        db.rollback()
    evidence.document = {**evidence.document, "final": None}  # through the ORM as well
    with pytest.raises(DBAPIError, match="evidence rows are write-once"):
        db.commit()
    db.rollback()
    db.expire_all()
    assert db.get(Evidence, evidence.id).sha256 == ledger.sha256_of(db.get(Evidence, evidence.id).document)
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == n_entries
    ledger.append(db, "kpi", f"session:{s.id}", {"still": "appendable"})  # inserting stays allowed
    db.commit()
    audit = _audit(db)
    assert audit["ok"] and audit["entries"] == n_entries + 1


def test_evidence_has_a_segment_per_deployment_and_ignores_other_alerts(db, people):  # noqa: F811
    p = people
    challenge = active_challenge(db, p)
    session = sessions.start_session(db, challenge.id, p.team.id, p.mentor, speed=2.0, start_ns=T0, public_script=True)
    starter = load_pack(PACK).starter_pipeline.model_dump(mode="json", exclude={"lineage"})
    deployed = []
    for wall_s, name, threshold in ((50, "ana-v1", 6.0), (100, "ana-v2", 5.0)):  # scenario 100 s and 200 s
        cfg = sessions.prepare_deployment(db, session, p.ana, "pump-1", {**starter, "name": name,
                                                                         "threshold": threshold})
        deployed.append(sessions.record_deployment(db, session, p.ana, "pump-1", cfg, f"bundle-{name}",
                                                   T0 + wall_s * S))
    starter_dep = session.deployments[0]
    assert [d.active_ns for d in session.deployments] == [T0, T0 + 100 * S, T0 + 200 * S]
    assert [d.parent_hash for d in deployed] == [starter_dep.config_hash, deployed[0].config_hash]

    edge = session.edge
    store = recorded_telemetry(
        session, accepted=["bundle-ana-v1", "bundle-ana-v2"], alerts=[(T0 - 5 * S, edge), (T0 + 250 * S, edge), (T0 + 300 * S, "another-edge"), (T0 + 400 * S, edge)],
        drift=[(T0 + 130 * S, edge), (T0 + 500 * S, edge)])
    sessions.close_session(db, session, store, p.mentor, wall_ns=T0 + 165 * S)  # scenario 330 s at speed 2
    with pytest.raises(ChallengeError, match=f"session {session.id} is closed"):
        sessions.prepare_deployment(db, session, p.ana, "pump-1", starter)

    [ev] = session.evidence
    doc = ev.document
    assert (doc["asset"], doc["start_ns"], doc["end_ns"], doc["speed"]) == ("pump-1", T0, T0 + 330 * S, 2.0)
    windows = [(seg["start_ns"], seg["end_ns"]) for seg in doc["segments"]]
    assert windows == [(T0, T0 + 100 * S), (T0 + 100 * S, T0 + 200 * S), (T0 + 200 * S, T0 + 330 * S)]
    assert [seg["pipeline"]["hash"] for seg in doc["segments"]] == \
        [starter_dep.config_hash, deployed[0].config_hash, deployed[1].config_hash]
    assert doc["final"] == doc["segments"][-1]
    final = doc["final"]
    assert final["pipeline"]["name"] == "ana-v2" and final["pipeline"]["author"] == p.ana.email
    assert final["pipeline"]["deployed_by"] == p.ana.id and final["pipeline"]["ledger_hash"] == deployed[1].ledger_hash
    assert doc["lineage"] == [seg["pipeline"] for seg in doc["segments"]]

    # only the session edge's events inside [start, end) count
    assert [a["ts"] for a in doc["alerts"]] == [T0 + 250 * S] and [d["ts"] for d in doc["drift"]] == [T0 + 130 * S]
    assert [e["start_ns"] for e in doc["ground_truth"]] == [T0 + 120 * S, T0 + 240 * S]
    early, middle = doc["segments"][0]["evidence"], doc["segments"][1]["evidence"]
    assert early["faults"] == [] and early["alert_episodes"] == 0 and early["drift_events"] == 0
    assert middle["drift_events"] == 1 and middle["regimes"][0]["handled"] is True
    fault = final["evidence"]["faults"][0]
    assert (fault["detected"], fault["detection_delay_s"], final["evidence"]["false_alarms"]) == (True, 10.0, 0)
    assert final["acceptance"]["met"] is True
    whole = doc["whole_session"]["evidence"]
    assert (whole["alert_episodes"], whole["false_alarms"], whole["drift_events_handled"]) == (1, 0, 1)

    entry = [e for e in ledger.entries(db, f"session:{session.id}") if e["kind"] == "evidence"][0]
    assert ev.sha256 == ledger.sha256_of(doc) == entry["payload"]["sha256"] and ev.ledger_hash == entry["hash"]
    assert entry["payload"]["met"] is True


def test_a_deployment_the_edge_never_confirmed_is_listed_but_not_scored(db, people):  # noqa: F811
    p = people
    challenge = active_challenge(db, p)
    session = sessions.start_session(db, challenge.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    starter = load_pack(PACK).starter_pipeline.model_dump(mode="json", exclude={"lineage"})
    cfg = sessions.prepare_deployment(db, session, p.ana, "pump-1", {**starter, "name": "lost", "threshold": 2.0})
    lost = sessions.record_deployment(db, session, p.ana, "pump-1", cfg, "bundle-lost", T0 + 100 * S)
    store = recorded_telemetry(session, alerts=[(T0 + 250 * S, session.edge)])  # no cmd_result for bundle-lost
    sessions.close_session(db, session, store, p.mentor, wall_ns=T0 + 330 * S)
    doc = session.evidence[0].document
    assert [seg["pipeline"]["name"] for seg in doc["segments"]] == ["outer-race-starter"]
    assert doc["final"]["end_ns"] == T0 + 330 * S and doc["final"]["acceptance"]["met"] is True
    assert [(d["deployment"], d["edge_answer"]) for d in doc["not_applied"]] == [(lost.id, "none")]
