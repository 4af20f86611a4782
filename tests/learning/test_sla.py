"""Service levels at the service level: every SLA state at its boundaries, submissions and mentor
feedback, and the tracked items (overdue first) with clocks started in the past, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cloud.challenges import assessment, ledger, sla
from cloud.challenges.assessment import add_business_days
from cloud.challenges.charters import ChallengeError
from cloud.challenges.models import Outcome, Submission
from cloud.challenges.scope import scope_of
from cloud.database import utcnow
from labs.packs import load_pack
from tests.learning.support import PACK, active_challenge, run_session

H = timedelta(hours=1)


def test_sla_state_at_every_boundary():
    t0 = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)
    target, deadline = t0 + sla.FEEDBACK_TARGET, t0 + sla.FEEDBACK_DEADLINE
    assert (target - t0, deadline - t0) == (24 * H, 48 * H)
    state = lambda done, now: sla.sla_state(t0, target, deadline, done, now)  # noqa: E731
    tick = timedelta(microseconds=1)
    assert [state(None, now) for now in (t0, target - tick, target, deadline - tick, deadline, deadline + 24 * H)] == \
        ["on_track", "on_track", "due_soon", "due_soon", "overdue", "overdue"]
    # once answered, the answer's time decides, whenever one looks
    for now in (t0 + H, deadline + 100 * H):
        assert [state(done, now) for done in (t0 + H, target + H, deadline, deadline + tick)] == \
            ["done", "done", "done", "done_late"]
    # the credential decision has one due date: on track until it, overdue from it, never "due soon"
    due = add_business_days(t0, assessment.CREDENTIAL_DECISION_BUSINESS_DAYS)
    assert [sla.sla_state(t0, due, due, None, now) for now in (t0, due - tick, due)] == \
        ["on_track", "on_track", "overdue"]


def test_submissions_and_feedback_rules(db, people):  # noqa: F811
    p = people
    s = run_session(db, p, active_challenge(db, p).id)
    for user in (p.ben, p.mentor):
        with pytest.raises(PermissionError, match=f"{user.email} is not in the team of session {s.id}"):
            sla.submit(db, s.id, user, "Our report.", [])
    for note in ("", "   "):
        with pytest.raises(ValueError, match="a submission needs a note or at least one link"):
            sla.submit(db, s.id, p.ana, note, [])
    with pytest.raises(LookupError, match="no session 999"):
        sla.submit(db, 999, p.ana, "Our report.", [])
    only_link = sla.submit(db, s.id, p.ana, "", ["https://lab.example/report.pdf"])
    sub = sla.submit(db, s.id, p.ana, "Envelope hSNR at BPFO, frozen z-score.", [])
    entry = ledger.entries(db, f"session:{s.id}")[-1]
    assert entry["kind"] == "submission" and entry["payload"] == {
        "submission": sub.id, "by": p.ana.id, "note_sha256": ledger.sha256_of(sub.note), "links": []}
    view = sla.submission_view(sub)
    assert view["sla"] == "on_track" and view["feedback"] is None and view["submitted_by"] == p.ana.id

    text = "Good feature choice; justify the threshold with the healthy score distribution."
    with pytest.raises(LookupError, match="no submission 999"):
        sla.give_feedback(db, 999, p.mentor, text)
    for user in (p.stranger_mentor, p.academic, p.industrial, p.ana, p.sme):
        with pytest.raises(PermissionError, match=f"{user.email} is not a mentor of challenge {s.challenge_id}"):
            sla.give_feedback(db, sub.id, user, text)
    with pytest.raises(ValueError, match="feedback needs at least 10 characters"):
        sla.give_feedback(db, sub.id, p.mentor, "  fine  ")
    row = sla.give_feedback(db, sub.id, p.mentor, text)
    assert (row.feedback, row.feedback_by) == (text, p.mentor.id) and row.feedback_at is not None
    assert sla.submission_view(row)["sla"] == "done"
    with pytest.raises(ChallengeError, match=f"submission {sub.id} has feedback already"):
        sla.give_feedback(db, sub.id, p.ops, text)
    assert sla.give_feedback(db, only_link.id, p.ops, text).feedback_by == p.ops.id  # hub operators answer too
    assert ledger.entries(db, f"session:{s.id}")[-1]["payload"] == {"submission": only_link.id, "by": p.ops.id}


def test_items_overdue_first_with_clocks_started_in_the_past(db, people):  # noqa: F811
    p = people
    c = active_challenge(db, p)
    s = run_session(db, p, c.id)
    feedback = "Explain why the load change does not alarm."

    def submitted(hours_ago: float, answered: bool = False) -> Submission:
        row = sla.submit(db, s.id, p.ana, f"Report, {hours_ago} h old.", [])
        row.submitted_at = utcnow() - hours_ago * H
        db.commit()
        return sla.give_feedback(db, row.id, p.mentor, feedback) if answered else row

    fresh, due_soon, overdue = submitted(0.5), submitted(30), submitted(50)
    late, answered = submitted(50, answered=True), submitted(3, answered=True)
    assert sla.submission_view(due_soon)["sla"] == "due_soon" and sla.submission_view(late)["sla"] == "done_late"

    all3 = {c.id: 3 for c in load_pack(PACK).rubric.criteria}
    decided = {}
    for session in (s, run_session(db, p, c.id)):
        for assessor in (p.academic, p.industrial):
            assessment.submit_score(db, session.id, assessor, all3)
        decided[session.id] = assessment.sign_off(db, session.id, p.ops)
    old = decided[max(decided)]  # the second outcome was signed off 20 days ago, its decision still open
    old.signed_off_at = utcnow() - timedelta(days=20)
    old.credential_due_at = add_business_days(old.signed_off_at, assessment.CREDENTIAL_DECISION_BUSINESS_DAYS)
    db.commit()

    got = sla.items(db, scope_of(db, p.mentor))
    assert [(i["kind"], i.get("submission", i["session"]), i["state"]) for i in got] == [
        ("credential_decision", old.session_id, "overdue"),
        ("mentor_feedback", overdue.id, "overdue"),
        ("mentor_feedback", due_soon.id, "due_soon"),
        ("mentor_feedback", fresh.id, "on_track"),
        ("credential_decision", s.id, "on_track"),
        ("mentor_feedback", late.id, "done_late"),
        ("mentor_feedback", answered.id, "done"),
    ]
    first = got[1]
    assert (first["session"], first["challenge"], first["team"]) == (s.id, c.id, p.team.id)
    assert datetime.fromisoformat(first["deadline"]) - datetime.fromisoformat(first["started_at"]) == 48 * H
    assert got[0]["result"] == "pass" and got[0]["decision"] is None

    # the learner's team sees its items; a learner of no team of the challenge sees none
    assert len(sla.items(db, scope_of(db, p.ana))) == len(got)
    assert sla.items(db, scope_of(db, p.ben)) == []
    # looked at later, every open item is overdue
    later = sla.items(db, scope_of(db, p.ops), now=utcnow() + 30 * 24 * H)
    assert [i["state"] for i in later] == ["overdue"] * 5 + ["done_late", "done"]

    assessment.record_credential_decision(db, old.session_id, p.ops, "issued")
    states = {(i["kind"], i["session"]): i["state"] for i in sla.items(db, scope_of(db, p.mentor))}
    assert states[("credential_decision", old.session_id)] == "done_late"
    assert db.get(Outcome, old.session_id).credential_decision == "issued"
