"""Learning and pathway KPIs over one period ``[lo, hi)``, for a :class:`Slice` of the hub.

Each function returns a :class:`~cloud.kpis.stats.Figure`; the
definitions (what is counted, when, against which target) are in
``docs/kpis.md``, and each test builds a history by hand and checks the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges.models import Challenge, Charter, LabSession, SessionStatus, Submission
from cloud.challenges.sla import FEEDBACK_DEADLINE, FEEDBACK_TARGET
from cloud.kpis.models import PathwayAdoption
from cloud.kpis.sources import IssuedCredential, aware
from cloud.kpis.stats import Figure, mean, rate
from cloud.skills.models import SkillChange, SkillLevel
from labs.skills.catalogue import load_catalogue

ATTAINMENT_TARGET = 0.50
CLOSURE_TARGET = 0.75
FEEDBACK_ON_TIME_TARGET = 0.90


@dataclass(frozen=True)
class Slice:
    """Which part of the hub a figure covers: some sites (None: all), one pack, one cohort (team id)."""

    sites: frozenset[str] | None = None
    pack: str | None = None
    team_id: int | None = None

    def challenge(self, ch: Challenge, charter: Charter | None) -> bool:
        """Whether a challenge is inside the slice."""
        if self.sites is not None and ch.site.slug not in self.sites:
            return False
        if self.pack is not None and (charter is None or charter.pack_id != self.pack):
            return False
        return self.team_id is None or any(t.id == self.team_id for t in ch.teams)


def _challenges(db: Session, sl: Slice) -> list[tuple[Challenge, Charter | None]]:
    out = []
    for ch in db.scalars(select(Challenge).order_by(Challenge.id)):
        charter = db.get(Charter, ch.id)
        if sl.challenge(ch, charter):
            out.append((ch, charter))
    return out


def planned_end(charter: Charter) -> datetime:
    """When a challenge is planned to end: its start (activation, else creation) plus the last milestone's day."""
    start = aware(charter.activated_at) or aware(charter.created_at)
    return start + timedelta(days=max(m["day"] for m in charter.document["timeline"]))


def _learners(ch: Challenge, sl: Slice) -> set[int]:
    return {m.id for t in ch.teams if sl.team_id is None or t.id == sl.team_id for m in t.members}


def attainment(db: Session, creds: list[IssuedCredential], sl: Slice, lo: datetime, hi: datetime) -> Figure:
    """Share of (learner, challenge) pairs whose challenge was planned to end in the period and whose
    learner holds the challenge's credential, issued no later than that planned end."""
    held = {}
    for c in creds:
        if c.challenge_id is not None:
            key = (c.learner_id, c.challenge_id)
            held[key] = min(held.get(key, c.issued_at), c.issued_at)
    k = n = 0
    for ch, charter in _challenges(db, sl):
        if charter is None:
            continue
        end = planned_end(charter)
        if not lo <= end < hi:
            continue
        for learner in _learners(ch, sl):
            n += 1
            got = held.get((learner, ch.id))
            k += got is not None and got <= end
    return rate(k, n, ATTAINMENT_TARGET)


def _met(session: LabSession) -> bool:
    ev = session.evidence
    return bool(ev) and all(e.document.get("final", {}).get("acceptance", {}).get("met") for e in ev)


def closure(db: Session, sl: Slice, lo: datetime, hi: datetime) -> Figure:
    """Share of the challenges closed in the period that met their acceptance criteria: at least one closed
    session whose evidence met the charter's criteria on every asset."""
    k = n = 0
    for ch, charter in _challenges(db, sl):
        closed = aware(charter.closed_at) if charter is not None else None
        if closed is None or not lo <= closed < hi:
            continue
        n += 1
        sessions = db.scalars(select(LabSession).where(LabSession.challenge_id == ch.id,
                                                       LabSession.status == SessionStatus.closed))
        k += any(_met(s) for s in sessions if sl.team_id is None or s.team_id == sl.team_id)
    return rate(k, n, CLOSURE_TARGET)


def in_slice(db: Session, sl: Slice) -> tuple[set[int], set[int]]:
    """Challenge ids and learner ids of the slice."""
    chs = _challenges(db, sl)
    return {ch.id for ch, _ in chs}, {u for ch, _ in chs for u in _learners(ch, sl)}


def signoff_to_credential(db: Session, creds: list[IssuedCredential], sl: Slice, lo: datetime,
                          hi: datetime) -> tuple[Figure, Figure]:
    """Hours from sign-off to credential for the credentials issued in the period, and the share issued
    by their due date (10 business days after sign-off)."""
    ids, learners = in_slice(db, sl)
    mine = [c for c in creds if c.challenge_id in ids and c.learner_id in learners and lo <= c.issued_at < hi
            and c.signed_off_at is not None]
    hours = [(c.issued_at - c.signed_off_at).total_seconds() / 3600 for c in mine]
    due = [c for c in mine if c.due_at is not None]
    return mean(hours, "h"), rate(sum(c.issued_at <= c.due_at for c in due), len(due))


def feedback(db: Session, sl: Slice, lo: datetime, hi: datetime, now: datetime) -> tuple[Figure, Figure]:
    """Of the submissions made in the period whose answer is due by ``now`` or given: the share answered
    within 24 h (the target) and within 48 h (the deadline). Unanswered ones past 48 h count as late."""
    ids, _ = in_slice(db, sl)
    rows = db.execute(select(Submission, LabSession).join(LabSession, LabSession.id == Submission.session_id))
    within24 = within48 = n = 0
    for sub, session in rows:
        if session.challenge_id not in ids or (sl.team_id is not None and session.team_id != sl.team_id):
            continue
        at, answered = aware(sub.submitted_at), aware(sub.feedback_at)
        if not lo <= at < hi or (answered is None and now < at + FEEDBACK_DEADLINE):
            continue
        n += 1
        within24 += answered is not None and answered - at <= FEEDBACK_TARGET
        within48 += answered is not None and answered - at <= FEEDBACK_DEADLINE
    return rate(within24, n), rate(within48, n, FEEDBACK_ON_TIME_TARGET)


def cross_recognition(db: Session, creds: list[IssuedCredential], sl: Slice, lo: datetime, hi: datetime) -> Figure:
    """Share of this hub's credentials of the slice issued in the period that learners of other hubs hold."""
    ids = None if sl == Slice() else in_slice(db, sl)[0]
    mine = [c for c in creds if not c.issuer_hub and lo <= c.issued_at < hi and (ids is None or c.challenge_id in ids)]
    if not any(c.learner_hub for c in creds):
        return Figure(None, len(mine), note="one hub: cross-recognition applies once more than one hub exists")
    return rate(sum(bool(c.learner_hub) for c in mine), len(mine))


# ------------------------------------------------------------------------------------------ pathways
def _level_at(db: Session, user_id: int, skill: str, at: datetime) -> int:
    rows = db.scalars(select(SkillChange).where(SkillChange.user_id == user_id, SkillChange.skill == skill,
                                                SkillChange.applied.is_(True)).order_by(SkillChange.id))
    level = 0
    for r in rows:
        if aware(r.created_at) <= at:
            level = r.level
    return level


def _profiled_learners(db: Session, learners: set[int] | None, hi: datetime) -> set[int]:
    users = set()
    for row in db.scalars(select(SkillLevel)):
        if (learners is None or row.user_id in learners) and aware(row.updated_at) < hi:
            users.add(row.user_id)
    for row in db.scalars(select(SkillChange)):
        if (learners is None or row.user_id in learners) and aware(row.created_at) < hi:
            users.add(row.user_id)
    return users


def pathway_acceptance(db: Session, sl: Slice, hi: datetime) -> Figure:
    """Share of the learners with a skill profile by the period's end who adopted a recommended pathway."""
    learners = None if sl == Slice() else in_slice(db, sl)[1]
    profiled = _profiled_learners(db, learners, hi)
    adopted = {a.user_id for a in db.scalars(select(PathwayAdoption)) if aware(a.adopted_at) < hi}
    return rate(len(profiled & adopted), len(profiled))


def pathway_completion(db: Session, creds: list[IssuedCredential], sl: Slice, hi: datetime) -> Figure:
    """Share of the pathways adopted by the period's end whose every credential the learner held by then."""
    learners = None if sl == Slice() else in_slice(db, sl)[1]
    held: dict[int, set[str]] = {}
    for c in creds:
        if c.entry_id and c.issued_at < hi:
            held.setdefault(c.learner_id, set()).add(c.entry_id)
    rows = [a for a in db.scalars(select(PathwayAdoption))
            if aware(a.adopted_at) < hi and (learners is None or a.user_id in learners)]
    return rate(sum(set(a.credentials) <= held.get(a.user_id, set()) for a in rows), len(rows))


def skill_change(db: Session, creds: list[IssuedCredential], sl: Slice, lo: datetime, hi: datetime) -> Figure:
    """Mean change of profile level, from just before a credential's sign-off to the period's end, over the
    skills the credential's catalogue entry teaches, for the credentials issued in the period."""
    _, learners = in_slice(db, sl)
    cat = load_catalogue()
    deltas = []
    for c in creds:
        if c.entry_id not in cat or c.learner_id not in learners or not lo <= c.issued_at < hi:
            continue
        # from before the assessment that led to it (sign-off updates the profile)
        before = (c.signed_off_at or c.issued_at) - timedelta(seconds=1)
        for skill in cat[c.entry_id].skills:
            deltas.append(_level_at(db, c.learner_id, skill, hi) - _level_at(db, c.learner_id, skill, before))
    return mean(deltas, "levels", direction="min")
