"""Dual assessment of a closed session: assessors' rubric scores, moderation, sign-off and outcome.

- Each assessor on the challenge's staff (academic or industrial) scores
  every rubric criterion at a level 1-4 with comments, once.
- When the charter's number of assessors from each side have scored, the
  criteria on which their levels differ by more than the rubric's
  ``moderation_threshold`` need **moderation**: a mentor or hub
  operator who did not score sets those levels, with a rationale.
- **Sign-off** (an assessor of the challenge or a hub operator) records the
  outcome: final level per criterion (the moderated level, else the mean
  of the assessors'), the weighted level, and the result — ``pass`` when
  the weighted level reaches the rubric's ``pass_level``, every
  ``minimum_levels`` entry is met and the evidence of every asset meets
  the charter's acceptance criteria; otherwise ``not_yet``.

The outcome document (:func:`outcome_document`) is what the credentials
area turns into a micro-credential: learners, pack, credential(s) with EQF
level and ESCO skills, per-criterion levels with descriptors, and the
evidence (ids and SHA-256) it rests on. Every step is appended to the ledger.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import User
from cloud.challenges import ledger
from cloud.challenges.charters import ChallengeError, duties, get_charter
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.models import AssessmentScore, Duty, LabSession, Moderation, Outcome, SessionStatus, Team
from cloud.database import iso_utc, utcnow
from cloud.errors import Forbidden, Invalid, NotFound
from labs.documents import Rubric as RubricDoc
from labs.packs import load_pack

#: Business days between a verified assessment and the credential decision.
CREDENTIAL_DECISION_BUSINESS_DAYS = 10


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Monday-Friday; public holidays are not modelled).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> add_business_days(datetime(2026, 11, 20, 9, tzinfo=timezone.utc), 10).date()  # a Friday
    datetime.date(2026, 12, 4)
    """
    d = start.date()
    due = np.busday_offset(np.datetime64(d), days, roll="forward")
    return start + timedelta(days=int((due - np.datetime64(d)).astype(int)))


def _rubric(db: Session, session: LabSession) -> RubricDoc:
    """The rubric copied into the session's challenge when it was created."""
    return RubricDoc.model_validate(get_charter(db, session.challenge_id).rubric)


def _closed(db: Session, session_id: int) -> LabSession:
    session = db.get(LabSession, session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    if session.status is not SessionStatus.closed:
        raise ChallengeError(f"session {session_id} is {session.status.value}; assessment starts when it is closed")
    return session


def submit_score(db: Session, session_id: int, assessor: User, levels: dict[str, int],
                 comments: dict[str, str] | None = None) -> AssessmentScore:
    """Record one assessor's levels (every criterion, 1-4) and comments."""
    session = _closed(db, session_id)
    duty = duties(db, session.challenge_id).get(assessor.id)
    if duty not in (Duty.academic_assessor, Duty.industrial_assessor):
        raise Forbidden(f"{assessor.email} is not an assessor of challenge {session.challenge_id}")
    if db.get(Outcome, session_id) is not None:
        raise ChallengeError(f"session {session_id} is signed off; scores can no longer change")
    if db.get(Moderation, session_id) is not None:
        raise ChallengeError(f"session {session_id} is moderated; a further score would reopen settled levels")
    rubric = _rubric(db, session)
    bad = {k: v for k, v in levels.items() if not (isinstance(v, int) and 1 <= v <= 4)}
    if bad:
        raise Invalid(f"levels must be integers 1-4 ({', '.join(rubric.levels)}), got {bad}")
    rubric.weighted_level(levels)  # raises on unknown or missing criteria
    unknown = sorted(set(comments or {}) - set(levels))
    if unknown:
        raise Invalid(f"comments on unknown criteria {unknown}")
    if db.scalar(select(AssessmentScore.id).where(AssessmentScore.session_id == session_id,
                                                  AssessmentScore.assessor_id == assessor.id)) is not None:
        raise ChallengeError(f"{assessor.email} has scored session {session_id} already")
    side = "academic" if duty is Duty.academic_assessor else "industrial"
    entry = ledger.append(db, "assessment", f"session:{session_id}",
                          {"assessor": assessor.id, "side": side, "levels": levels, "comments": comments or {}})
    row = AssessmentScore(session_id=session_id, assessor_id=assessor.id, side=side, levels=levels,
                          comments=comments or {}, ledger_hash=entry.hash)
    db.add(row)
    db.commit()
    return row


def state(db: Session, session_id: int) -> dict:
    """Where the assessment stands: scores, disagreements, what is still needed.

    ``stage`` is one of ``open`` (session not closed), ``awaiting_scores``,
    ``needs_moderation``, ``ready_for_signoff`` and ``signed_off``.
    """
    session = db.get(LabSession, session_id)
    if session is None:
        raise NotFound(f"no session {session_id}")
    scores = list(db.scalars(select(AssessmentScore).where(AssessmentScore.session_id == session_id)
                             .order_by(AssessmentScore.id)))
    out = {"session": session_id, "scores": [_score_view(s) for s in scores], "disagreements": {},
           "moderation": None, "outcome": None}
    if session.status is not SessionStatus.closed:
        return {**out, "stage": "open", "needed": {"academic": None, "industrial": None}}
    rubric = _rubric(db, session)
    assessment = get_charter(db, session.challenge_id).document["assessment"]
    need = {"academic": assessment["academic_assessors"], "industrial": assessment["industrial_assessors"]}
    have = {side: sum(s.side == side for s in scores) for side in need}
    out["needed"] = {side: max(0, need[side] - have[side]) for side in need}
    for c in rubric.criteria:
        got = [s.levels[c.id] for s in scores]
        if got and max(got) - min(got) > rubric.moderation_threshold:  # may differ by at most the threshold
            out["disagreements"][c.id] = got
    mod = db.get(Moderation, session_id)
    if mod is not None:
        out["moderation"] = {"moderator": mod.moderator_id, "levels": mod.levels, "rationale": mod.rationale,
                             "moderated_at": iso_utc(mod.moderated_at)}
    outcome = db.get(Outcome, session_id)
    if outcome is not None:
        out["outcome"] = outcome.document
        stage = "signed_off"
    elif any(out["needed"].values()):
        stage = "awaiting_scores"
    elif out["disagreements"] and (mod is None or set(out["disagreements"]) - set(mod.levels)):
        stage = "needs_moderation"
    else:
        stage = "ready_for_signoff"
    return {**out, "stage": stage}


def state_for(db: Session, session_id: int, staff: bool) -> dict:
    """:func:`state` as the caller may see it: whole for staff, stage and outcome for learners."""
    st = state(db, session_id)
    return st if staff else {"session": session_id, "stage": st["stage"], "outcome": st["outcome"]}


def outcome_view(outcome: Outcome) -> dict:
    """The outcome document with the due date of its credential decision."""
    return {**outcome.document, "credential_due_at": iso_utc(outcome.credential_due_at)}


def decision_view(outcome: Outcome) -> dict:
    """The credential decision of an outcome against its service level."""
    return {"session": outcome.session_id, "decision": outcome.credential_decision,
            "decided_at": iso_utc(outcome.credential_decided_at), "due_at": iso_utc(outcome.credential_due_at)}


def _score_view(s: AssessmentScore) -> dict:
    return {"assessor": s.assessor_id, "side": s.side, "levels": s.levels, "comments": s.comments,
            "submitted_at": iso_utc(s.submitted_at)}


def moderate(db: Session, session_id: int, moderator: User, levels: dict[str, int], rationale: str) -> Moderation:
    """Set the levels of the disputed criteria (a mentor of the challenge or hub operator who did not score)."""
    st = state(db, session_id)
    if st["stage"] != "needs_moderation":
        raise ChallengeError(f"session {session_id} is at stage {st['stage']}; nothing to moderate")
    session = db.get(LabSession, session_id)
    is_mentor = duties(db, session.challenge_id).get(moderator.id) is Duty.mentor
    if not (Role.hub_operator in moderator.roles or is_mentor):
        raise Forbidden(f"{moderator.email} is neither a mentor of this challenge nor a hub operator")
    if any(s["assessor"] == moderator.id for s in st["scores"]):
        raise Forbidden("an assessor who scored cannot moderate the same session")
    missing = sorted(set(st["disagreements"]) - set(levels))
    extra = sorted(set(levels) - set(st["disagreements"]))
    if missing or extra:
        raise Invalid(f"moderate exactly the disputed criteria {sorted(st['disagreements'])}; "
                         f"missing {missing}, not disputed {extra}")
    if any(not (isinstance(v, int) and 1 <= v <= 4) for v in levels.values()):
        raise Invalid(f"levels must be integers 1-4, got {levels}")
    if len(rationale.strip()) < 10:
        raise Invalid("give the moderation a rationale (at least 10 characters)")
    entry = ledger.append(db, "moderation", f"session:{session_id}",
                          {"moderator": moderator.id, "levels": levels, "rationale": rationale})
    row = Moderation(session_id=session_id, moderator_id=moderator.id, levels=levels, rationale=rationale,
                     ledger_hash=entry.hash)
    db.add(row)
    db.commit()
    return row


def sign_off(db: Session, session_id: int, user: User, note: str = "", hooks: LearningHooks | None = None) -> Outcome:
    """Record the outcome (an assessor of the challenge or a hub operator); starts the credential SLA.

    ``hooks.outcome`` runs before the commit (the skills area updates the learners' profiles).
    """
    st = state(db, session_id)
    if st["stage"] != "ready_for_signoff":
        raise ChallengeError(f"session {session_id} is at stage {st['stage']}; it cannot be signed off yet")
    session = db.get(LabSession, session_id)
    duty = duties(db, session.challenge_id).get(user.id)
    if not (Role.hub_operator in user.roles or duty in (Duty.academic_assessor, Duty.industrial_assessor)):
        raise Forbidden(f"{user.email} is neither an assessor of this challenge nor a hub operator")
    now = utcnow()
    doc = outcome_document(db, session, st, user, now, note)
    entry = ledger.append(db, "outcome", f"session:{session_id}",
                          {"result": doc["result"], "weighted_level": doc["weighted_level"],
                           "sha256": ledger.sha256_of(doc), "by": user.id})
    row = Outcome(session_id=session_id, result=doc["result"], weighted_level=doc["weighted_level"], document=doc,
                  signed_off_by=user.id, signed_off_at=now,
                  credential_due_at=add_business_days(now, CREDENTIAL_DECISION_BUSINESS_DAYS), ledger_hash=entry.hash)
    db.add(row)
    db.flush()
    if hooks is not None:
        hooks.outcome(db, row)
    db.commit()
    return row


def outcome_document(db: Session, session: LabSession, st: dict, user: User, when: datetime, note: str) -> dict:
    """The outcome in the form the credentials area consumes (see the module docstring).

    Pack-based sessions carry the pack's credential(s), EQF level and
    workload; a window on real assets without a pack carries none (the
    credentials area decides what it evidences).
    """
    rubric = _rubric(db, session)
    pack = _pack_or_none(session.pack_id)
    moderated = (st["moderation"] or {}).get("levels", {})
    final = {c.id: float(moderated[c.id]) if c.id in moderated else
             round(sum(s["levels"][c.id] for s in st["scores"]) / len(st["scores"]), 3) for c in rubric.criteria}
    weighted = rubric.weighted_level(final)
    below = {cid: final[cid] for cid, lvl in rubric.minimum_levels.items() if final[cid] < lvl}
    evidence = [{"id": e.id, "asset": e.asset, "sha256": e.sha256, "ledger_hash": e.ledger_hash,
                 "acceptance_met": bool(e.document["final"] and e.document["final"]["acceptance"]["met"]),
                 "pipeline": e.document["final"]["pipeline"] if e.document["final"] else None}
                for e in session.evidence]
    accepted = bool(evidence) and all(e["acceptance_met"] for e in evidence)
    passed = weighted >= rubric.pass_level and not below and accepted
    reasons = ([] if weighted >= rubric.pass_level else [f"weighted level {weighted} below {rubric.pass_level}"]) + \
        [f"{cid} at {lvl} below its minimum {rubric.minimum_levels[cid]}" for cid, lvl in below.items()] + \
        ([] if accepted else ["the evidence does not meet the charter's acceptance criteria"])
    team = db.get(Team, session.team_id)
    return {
        "session": session.id, "kind": session.kind, "challenge": session.challenge_id,
        "pack": None if pack is None else pack.id, "pack_title": None if pack is None else pack.meta.title,
        "team": {"id": team.id, "name": team.name},
        "learners": [{"id": m.id, "email": m.email, "name": m.display_name} for m in team.members],
        "result": "pass" if passed else "not_yet", "reasons": reasons,
        "weighted_level": weighted, "pass_level": rubric.pass_level,
        "criteria": [{"id": c.id, "name": c.name, "side": c.side, "weight": c.weight, "level": final[c.id],
                      "descriptor": c.descriptors[max(0, min(3, round(final[c.id]) - 1))],
                      "moderated": c.id in moderated} for c in rubric.criteria],
        "assessors": [{"id": s["assessor"], "side": s["side"], "comments": s["comments"]} for s in st["scores"]],
        "moderation": st["moderation"], "evidence": evidence,
        "credentials": [] if pack is None else [c.model_dump(mode="json") for c in pack.meta.credentials],
        "eqf_level": None if pack is None else pack.meta.eqf_level,
        "workload": None if pack is None else pack.meta.workload.model_dump(mode="json"),
        "signed_off_by": {"id": user.id, "email": user.email}, "signed_off_at": iso_utc(when), "note": note,
    }


def _pack_or_none(pack_id: str):
    return load_pack(pack_id) if pack_id else None


def record_credential_decision(db: Session, session_id: int, user: User, decision: str,
                               hooks: LearningHooks | None = None) -> Outcome:
    """Close the credential SLA of a signed-off session: ``issued`` or ``withheld``.

    ``hooks.credential_decision`` runs before the commit (the credentials area
    issues the learners' credentials on ``issued``; if it cannot, nothing is recorded).
    """
    if decision not in ("issued", "withheld"):
        raise Invalid(f"decision must be 'issued' or 'withheld', got {decision!r}")
    outcome = db.get(Outcome, session_id)
    if outcome is None:
        raise ChallengeError(f"session {session_id} has no signed-off outcome yet")
    if outcome.credential_decided_at is not None:
        raise ChallengeError(f"the credential decision of session {session_id} is recorded already")
    if decision == "issued" and outcome.result != "pass":
        raise ChallengeError("a credential is issued only for a passing outcome")
    outcome.credential_decision, outcome.credential_decided_at = decision, utcnow()
    ledger.append(db, "credential_decision", f"session:{session_id}", {"decision": decision, "by": user.id})
    if hooks is not None:
        hooks.credential_decision(db, outcome, user.id)
    db.commit()
    return outcome
