"""Submissions, mentor feedback and the service levels the hub tracks.

=====================  ===========================  ======================================
item                   clock starts                 target / deadline
=====================  ===========================  ======================================
mentor feedback        a team's submission          24 h / 48 h
credential decision    the outcome's sign-off       10 business days (Mon-Fri)
=====================  ===========================  ======================================

Each item is ``on_track`` before its target, ``due_soon`` between target and
deadline, ``overdue`` after the deadline while still open, and ``done`` or
``done_late`` once answered. Overdue items are flagged on the mentor page.

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)
>>> [sla_state(t0, t0 + timedelta(hours=24), t0 + timedelta(hours=48), None, t0 + timedelta(hours=h))
...  for h in (2, 30, 50)]
['on_track', 'due_soon', 'overdue']
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import User
from cloud.challenges import ledger
from cloud.challenges.charters import ChallengeError, duties
from cloud.challenges.models import Duty, LabSession, Outcome, Submission
from cloud.challenges.sessions import get_session, is_team_member
from cloud.database import iso_utc, utcnow
from cloud.errors import Forbidden, Invalid, NotFound

FEEDBACK_TARGET = timedelta(hours=24)
FEEDBACK_DEADLINE = timedelta(hours=48)


def sla_state(started: datetime, target: datetime, deadline: datetime, done: datetime | None, now: datetime) -> str:
    """State of one tracked item (see the module docstring)."""
    if done is not None:
        return "done" if done <= deadline else "done_late"
    if now >= deadline:
        return "overdue"
    return "due_soon" if now >= target else "on_track"


def submit(db: Session, session_id: int, user: User, note: str, links: list[str]) -> Submission:
    """A learner of the session's team hands in the team's work (starts the feedback clock)."""
    session = get_session(db, session_id)
    if not is_team_member(db, session, user.id):
        raise Forbidden(f"{user.email} is not in the team of session {session_id}")
    if not note.strip() and not links:
        raise Invalid("a submission needs a note or at least one link to the team's report")
    row = Submission(session_id=session_id, submitted_by=user.id, note=note, links=list(links))
    db.add(row)
    db.flush()
    ledger.append(db, "submission", f"session:{session_id}", {"submission": row.id, "by": user.id,
                                                               "note_sha256": ledger.sha256_of(note), "links": links})
    db.commit()
    return row


def give_feedback(db: Session, submission_id: int, user: User, text: str) -> Submission:
    """A mentor of the challenge (or a hub operator) answers a submission (stops its clock)."""
    row = db.get(Submission, submission_id)
    if row is None:
        raise NotFound(f"no submission {submission_id}")
    session = db.get(LabSession, row.session_id)
    if not (Role.hub_operator in user.roles or duties(db, session.challenge_id).get(user.id) is Duty.mentor):
        raise Forbidden(f"{user.email} is not a mentor of challenge {session.challenge_id}")
    if row.feedback_at is not None:
        raise ChallengeError(f"submission {submission_id} has feedback already")
    if len(text.strip()) < 10:
        raise Invalid("feedback needs at least 10 characters")
    row.feedback, row.feedback_by, row.feedback_at = text, user.id, utcnow()
    ledger.append(db, "feedback", f"session:{row.session_id}", {"submission": row.id, "by": user.id})
    db.commit()
    return row


def get_submission(db: Session, submission_id: int) -> Submission:
    """The submission, or :class:`~cloud.errors.NotFound`."""
    sub = db.get(Submission, submission_id)
    if sub is None:
        raise NotFound(f"no submission {submission_id}")
    return sub


def submissions_of(db: Session, session_id: int) -> list[Submission]:
    """The submissions of a session, oldest first."""
    return list(db.scalars(select(Submission).where(Submission.session_id == session_id).order_by(Submission.id)))


def submission_view(row: Submission, now: datetime | None = None) -> dict:
    """A submission with its feedback and SLA state."""
    now = now or utcnow()
    started = _aware(row.submitted_at)
    done = None if row.feedback_at is None else _aware(row.feedback_at)
    return {"id": row.id, "session": row.session_id, "submitted_by": row.submitted_by,
            "submitted_at": iso_utc(started), "note": row.note, "links": row.links,
            "feedback": row.feedback or None, "feedback_by": row.feedback_by,
            "feedback_at": None if done is None else iso_utc(done),
            "sla": sla_state(started, started + FEEDBACK_TARGET, started + FEEDBACK_DEADLINE, done, now)}


def items(db: Session, scope, now: datetime | None = None) -> list[dict]:
    """Every tracked item of the sessions in ``scope``, overdue first, then by deadline."""
    now = now or utcnow()
    sessions = {s.id: s for s in db.scalars(select(LabSession))
                if scope.site(s.site) or scope.challenge(s.challenge_id)}
    out = []
    for sub in db.scalars(select(Submission).where(Submission.session_id.in_(sessions))):
        started = _aware(sub.submitted_at)
        done = None if sub.feedback_at is None else _aware(sub.feedback_at)
        out.append(_item("mentor_feedback", sub.session_id, sessions, started, started + FEEDBACK_TARGET,
                         started + FEEDBACK_DEADLINE, done, now, submission=sub.id))
    for oc in db.scalars(select(Outcome).where(Outcome.session_id.in_(sessions))):
        started, due = _aware(oc.signed_off_at), _aware(oc.credential_due_at)
        done = None if oc.credential_decided_at is None else _aware(oc.credential_decided_at)
        out.append(_item("credential_decision", oc.session_id, sessions, started, due, due, done, now,
                         result=oc.result, decision=oc.credential_decision or None))
    order = {"overdue": 0, "due_soon": 1, "on_track": 2, "done_late": 3, "done": 4}
    return sorted(out, key=lambda i: (order[i["state"]], i["deadline"]))


def _item(kind, session_id, sessions, started, target, deadline, done, now, **extra) -> dict:
    s = sessions[session_id]
    return {"kind": kind, "session": session_id, "challenge": s.challenge_id, "team": s.team_id,
            "started_at": iso_utc(started), "target": iso_utc(target), "deadline": iso_utc(deadline),
            "done_at": None if done is None else iso_utc(done),
            "state": sla_state(started, target, deadline, done, now), **extra}


def _aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
