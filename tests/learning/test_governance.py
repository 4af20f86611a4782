"""Data governance on SQLite and PostgreSQL: retention deletes what expired and nothing else, the
learner export is complete, erasure pseudonymises and leaves the ledger verifiable."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, or_, select

from cloud.accounts.models import User
from cloud.challenges import charters, ledger, sessions, sla
from cloud.challenges.models import Charter, Evidence, Submission
from cloud.database import Base
from cloud.governance import agreement, retention, rights
from cloud.governance.models import AccessLogEntry, RightsRequest
from cloud.skills import joining, selfassess, sharing
from cloud.telemetry.factory import open_store
from contract.payloads import parse_message
from tests.learning.support import S, T0, new_challenge, recorded_telemetry, sign_all

DAY = 86_400 * S
NOW = time.time_ns() // S * S
HUB = agreement.HUB_DEFAULT_DAYS


def _put(store, site: str, kind: str, ts: int, seq: int, **body) -> None:
    asset = "pump-1"
    payload = {"features": {"records": [{"ts": ts, "features": {"rms": 0.5}}]},
               "alert": {"ts": ts, "score": 9.0, "threshold": 8.0, "message": "high"},
               "waveform": {"ts": ts, "channel": "vib", "rate": 100.0, "units": "g", "values": [0.1, 0.2]}}[kind]
    store.write(parse_message(f"tf/v1/{site}/e1/{asset}/{kind}",
                              json.dumps({"v": 1, "edge": "e1", "boot": "b", "seq": seq, **payload}).encode()))


def _challenge(db, p, retention_terms=None):
    kw = {} if retention_terms is None else {"charter": {"data_sharing": {
        "owner": "VET college", "learners_may": ["analyse"], "retention": retention_terms}}}
    c = new_challenge(db, p, **kw)
    sign_all(db, p, c.id)
    charters.activate(db, c.id, p.mentor)
    return c


def _session_with_submission(db, p, challenge, note: str):
    s = sessions.start_session(db, challenge.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    sessions.close_session(db, s, recorded_telemetry(s), p.mentor, wall_ns=T0 + 330 * S)
    return s, sla.submit(db, s.id, p.ana, note, [])


def test_retention_deletes_what_expired_and_nothing_else(db, people):
    p = people
    # A: short terms, closed 100 days ago; C: the pack's terms (365 days), still active
    a = _challenge(db, p, {"telemetry": 30, "waveforms": 7, "learner_records": 60})
    sa, sub_a = _session_with_submission(db, p, a, "report of A")
    charters.close(db, a.id, p.mentor)
    db.get(Charter, a.id).closed_at = datetime.fromtimestamp(NOW / 1e9, UTC) - timedelta(days=100)
    c = _challenge(db, p)
    sc, sub_c = _session_with_submission(db, p, c, "report of C")
    agreement.set_site_defaults(db, "acme-plant", {"telemetry": 10}, p.ops.id)
    store = open_store("sqlite://:memory:")
    rows = [(sa.site, "features", 40), (sa.site, "features", 20), (sa.site, "waveform", 8), (sa.site, "waveform", 1),
            (sa.site, "alert", 31), ("vet-lab", "features", 40),  # vet-lab: C's 365 days are the longest there
            ("acme-plant", "features", 11), ("acme-plant", "features", 9),
            ("nowhere", "alert", 400), ("nowhere", "alert", 300)]  # an unregistered site: the hub's 365 days
    for i, (site, kind, age) in enumerate(rows):
        _put(store, site, kind, NOW - age * DAY, i + 1)
    old_read = AccessLogEntry(reader_email="m@x", reader_roles=["mentor"], subject_kind="learner", subject="1",
                              route="r", path="p", at=datetime.fromtimestamp(NOW / 1e9, UTC) - timedelta(days=6 * 365))
    new_read = AccessLogEntry(reader_email="m@x", reader_roles=["mentor"], subject_kind="learner", subject="1",
                              route="r", path="p", at=datetime.fromtimestamp(NOW / 1e9, UTC) - timedelta(days=1))
    db.add_all([old_read, new_read])
    db.commit()
    before = ledger.verify_chain(db)["entries"]

    run = retention.run(db, store, HUB, now_ns=NOW)

    # telemetry rows: a feature window is one row (the SQLite store's schema 2), an alert one row
    assert retention.summary(run.report) == {"telemetry": 1 + 1 + 1 + 1, "waveforms": 1, "quarantine": 0,
                                             "learner_records": 1, "access_log": 1}
    assert [ts for ts, _ in store.series(sa.site, "pump-1", "rms")] == [NOW - 20 * DAY]
    assert [w["ts"] for w in store.waveforms(sa.site, "pump-1")] == [NOW - 1 * DAY]
    assert store.alerts(sa.site, "pump-1") == []  # 31 days > A's 30
    assert len(store.series("vet-lab", "pump-1", "rms")) == 1
    assert [ts for ts, _ in store.series("acme-plant", "pump-1", "rms")] == [NOW - 9 * DAY]
    assert [a["ts"] for a in store.alerts("nowhere", "pump-1")] == [NOW - 300 * DAY]
    assert db.get(Submission, sub_a.id) is None and db.get(Submission, sub_c.id) is not None
    assert db.get(AccessLogEntry, old_read.id) is None and db.get(AccessLogEntry, new_read.id) is not None
    periods = {(r["site"], r["kind"]): (r["days"], r["source"]) for r in run.report["telemetry"]}
    assert periods[(sa.site, "telemetry")] == (30, "charter")
    assert periods[("acme-plant", "telemetry")] == (10, "site default")
    assert periods[("vet-lab", "telemetry")] == (365, "charter (retention_days)")
    # the ledger keeps the deleted record's hash, not the record, and still verifies
    [entry] = [e for e in ledger.entries(db, "hub") if e["kind"] == "retention"]
    [gone] = entry["payload"]["learner_records"]
    assert gone["id"] == sub_a.id and len(gone["sha256"]) == 64 and "report of A" not in json.dumps(entry)
    assert ledger.verify_chain(db) == {**ledger.verify_chain(db), "ok": True, "entries": before + 1}
    # a second pass finds nothing more to delete and writes no ledger entry
    again = retention.run(db, store, HUB, now_ns=NOW)
    assert not any(retention.summary(again.report).values()) and again.ledger_hash == ""


def test_quarantine_keeps_the_hubs_period_and_a_charter_never_means_forever(db, people):
    store = open_store("sqlite://:memory:")
    store.quarantine("tf/v1/x/y/z/features", "bad json", b"{")
    now = time.time_ns()
    kept = retention.run(db, store, {**HUB, "quarantine": 32}, now_ns=now + 31 * DAY)
    assert kept.report["quarantine"]["deleted"] == 0 and len(store.quarantined()) == 1
    gone = retention.run(db, store, {**HUB, "quarantine": 30}, now_ns=now + 31 * DAY)
    assert gone.report["quarantine"]["deleted"] == 1 and store.quarantined() == []
    # no retention terms at all: the site's default or the hub's, always a number of days
    terms = {"owner": "x", "learners_may": ["y"]}
    assert agreement.retention_of(terms, {}, HUB)["telemetry"] == {"days": 365, "source": "hub default"}
    with pytest.raises(ValueError, match="nothing is kept forever"):
        agreement.set_site_defaults(db, "acme-plant", {"telemetry": 0}, None)


def _user_rows(db, user_id: int) -> dict[str, int]:
    out = {}
    for table in Base.metadata.sorted_tables:
        cols = rights._user_columns(table)
        if cols:
            n = db.scalar(select(func.count()).select_from(table).where(or_(*[c == user_id for c in cols])))
            if n:
                out[table.name] = n
    return out


def _learner_history(db, p):
    c = _challenge(db, p)
    s, sub = _session_with_submission(db, p, c, "our report, by Ana (ana@learner.example)")
    selfassess.submit(db, p.ana.id, {"python": 2}, "before the course")
    sharing.set_consents(db, p.ana.id, ["acme-plant"])
    joining.set_language(db, p.ana.id, "it")
    return c, s, sub


def test_export_is_complete(db, people):
    p = people
    c, s, sub = _learner_history(db, p)
    registry = rights.default_registry()
    registry.register("credentials", export=lambda db, uid: [{"credential": "pdm-101", "holder": uid}])
    held = _user_rows(db, p.ana.id)
    doc = rights.export(db, registry, p.ana.id, p.ana.id)
    assert doc["profile"]["email"] == "ana@learner.example" and doc["profile"]["language"] == "it"
    # every row of every table that refers to her is in it, with its values
    assert {t: len(rows) for t, rows in doc["records"].items()} == held
    assert {"team_members", "submissions", "skill_levels", "skill_changes", "skill_consents", "user_preferences"} <= set(
        doc["records"])
    assert "password_hash" not in json.dumps(doc) and "token_hash" not in json.dumps(doc)
    # her history with the evidence she is named in (her team's), submissions and what the areas add
    ch = doc["areas"]["challenges"]
    assert [x["id"] for x in ch["sessions"]] == [s.id]
    assert ch["sessions"][0]["evidence"][0]["sha256"] == s.evidence[0].sha256
    assert ch["submissions"][0]["note"] == sub.note
    assert doc["areas"]["skills"]["levels"] == [{"skill": "python", "level": 2, "source": "self", "self_level": 2}]
    assert doc["areas"]["credentials"] == [{"credential": "pdm-101", "holder": p.ana.id}]
    # logged and ledgered with the document's hash
    [req] = db.scalars(select(RightsRequest).where(RightsRequest.user_id == p.ana.id)).all()
    assert req.kind == "export" and req.detail["sha256"] == doc["sha256"]
    [entry] = [e for e in ledger.entries(db, f"user:{p.ana.id}") if e["kind"] == "data_export"]
    assert entry["payload"]["sha256"] == doc["sha256"] == ledger.sha256_of({k: v for k, v in doc.items()
                                                                           if k != "sha256"})


def test_erasure_pseudonymises_and_the_ledger_stays_verifiable(db, people):
    p = people
    c, s, sub = _learner_history(db, p)
    ana_id, email = p.ana.id, p.ana.email
    evidence_before = {e.id: (e.sha256, ledger.sha256_of(e.document)) for e in db.scalars(select(Evidence))}
    chain_before = ledger.verify_chain(db)
    seen = {}
    registry = rights.default_registry()
    registry.register("credentials", erase=lambda db, uid, who: seen.update(who) or {"credentials_kept_valid": 1})

    report = rights.erase(db, registry, ana_id, p.ops.id, f"request by {email}")

    db.expire_all()
    user = db.get(User, ana_id)
    assert user.email == f"erased-{ana_id}@erased.invalid" and user.display_name == f"erased-{ana_id}"
    assert not user.active
    assert db.get(Submission, sub.id).note == f"our report, by Ana (erased-{ana_id}@erased.invalid)"
    assert report["areas"] == {"credentials": {"credentials_kept_valid": 1}} and seen["email"] == email
    assert "evidence" in report["kept"] and "ledger" in report["kept"]
    # her e-mail is in no mutable record any more; the write-once ones are as they were
    after = rights.records(db, ana_id)
    mutable = {t: rows for t, rows in after.items() if t not in rights.KEPT}
    assert email not in json.dumps(mutable)
    assert {e.id: (e.sha256, ledger.sha256_of(e.document)) for e in db.scalars(select(Evidence))} == evidence_before
    # the chain verifies, one entry longer, and names the pseudonym, not the person
    chain = ledger.verify_chain(db)
    assert chain["ok"] and chain["entries"] == chain_before["entries"] + 1
    [entry] = [e for e in ledger.entries(db, f"user:{ana_id}") if e["kind"] == "data_erasure"]
    assert entry["payload"]["pseudonym"] == f"erased-{ana_id}" and email not in json.dumps(entry)
    assert db.scalar(select(RightsRequest.kind).where(RightsRequest.user_id == ana_id)) == "erasure"
    # she can no longer log in; what she was assessed on still joins to her id
    from cloud.accounts.security import verify_password
    assert not verify_password(user.password_hash, "a-long-test-passphrase")
    assert rights.export(db, registry, ana_id, p.ops.id)["areas"]["challenges"]["sessions"][0]["id"] == s.id


def test_erasure_replaces_the_name_as_a_whole_word_only(db, people):
    p = people
    p.ana.display_name = "Ana"
    c = _challenge(db, p)
    _, sub = _session_with_submission(db, p, c, "Ana's Analysis of the bearing (Ana, Banana-shaped spectrum) - ANA")
    rights.erase(db, rights.default_registry(), p.ana.id, p.ops.id)
    db.expire_all()
    n = p.ana.id
    assert db.get(Submission, sub.id).note == (f"erased-{n}'s Analysis of the bearing (erased-{n}, Banana-shaped "
                                               "spectrum) - ANA")


def test_a_charter_that_gives_learners_no_access_keeps_its_telemetry_from_them(db, people):
    from cloud.challenges.scope import scope_of

    p = people
    open_c = _challenge(db, p)
    closed_c = new_challenge(db, p, charter={"data_sharing": {
        "owner": "VET college", "learners_may": ["read the results"], "access": ["mentor", "assessor", "hub_operator"]}})
    sign_all(db, p, closed_c.id)
    charters.activate(db, closed_c.id, p.mentor)
    s_open = sessions.start_session(db, open_c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    s_closed = sessions.start_session(db, closed_c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    ana = scope_of(db, p.ana)
    assert {open_c.id, closed_c.id} <= ana.challenge_ids  # she still sees both challenges
    assert ana.whole_site(s_open.site) and not ana.whole_site(s_closed.site)
    assert scope_of(db, p.mentor).whole_site(s_closed.site)  # the mentor's duty needs the data
    assert agreement.agreement(db, db.get(Charter, closed_c.id), HUB)["access"] == ["mentor", "assessor",
                                                                                    "hub_operator"]
