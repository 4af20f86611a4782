"""Skill profiles: skill → level 1-4 with its source, the self-assessed level beside it, and the history.

Sources, least to most trusted: ``self`` (self-assessment), ``evidence``
(a lab session's stored evidence met the charter's acceptance criteria),
``assessor`` (a signed-off dual assessment). A proposed level is applied
when

- the profile has no level for the skill yet, or
- its source is more trusted than the current one, or
- it is the same source and: a new self-assessment (the learner may
  revise either way), or a higher verified level (evidence and assessor
  levels are not lowered by a later, weaker session);

otherwise it is kept in the history only (``applied`` false). A lower-trust
source never overwrites a higher one. Every proposal — applied or not — is
a :class:`~cloud.skills.models.SkillChange` row and a ledger entry
``skill_level`` about ``learner:<id>``, saying who, when and from what
(``ref``: the session, evidence, outcome and criteria).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges import ledger
from cloud.database import iso_utc, utcnow
from cloud.skills.errors import SkillsInvalid
from cloud.skills.models import SkillChange, SkillCheck, SkillLevel
from labs.skills.common import LEVELS
from labs.skills.framework import load_framework

SOURCES = ("self", "evidence", "assessor")
RANK = {s: i for i, s in enumerate(SOURCES)}


def check_level(skill: str, level) -> None:
    """Refuse an unknown skill or a level outside 1-4 (messages name the skill and value)."""
    if skill not in load_framework().skills:
        raise SkillsInvalid("unknown_skill", skill=skill)
    if not (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 4):
        raise SkillsInvalid("level_range", skill=skill, value=level)


def _applies(row: SkillLevel | None, level: int, source: str) -> bool:
    if row is None or RANK[source] > RANK[row.source]:
        return True
    if RANK[source] < RANK[row.source]:
        return False
    return level != row.level if source == "self" else level > row.level


def propose(db: Session, user_id: int, skill: str, level: int, source: str, ref: dict,
            by_user: int | None = None) -> SkillChange | None:
    """Propose ``level`` of ``skill`` from ``source`` for learner ``user_id`` (flushed, not committed).

    Returns the history row, or ``None`` when nothing changes at all (the
    same level from the same source again).
    """
    check_level(skill, level)
    if source not in RANK:
        raise ValueError(f"source {source!r}; expected one of {SOURCES}")
    row = db.get(SkillLevel, (user_id, skill))
    if row is not None and row.level == level and row.source == source and (source != "self" or row.self_level == level):
        return None
    applied = _applies(row, level, source)
    prev = (row.level, row.source) if row is not None else (None, None)
    if row is None:
        row = SkillLevel(user_id=user_id, skill=skill, level=level, source=source)
        db.add(row)
    elif applied:
        row.level, row.source = level, source
    if source == "self":
        row.self_level = level
    row.updated_at = utcnow()
    entry = ledger.append(db, "skill_level", f"learner:{user_id}",
                          {"skill": skill, "level": level, "source": source, "applied": applied,
                           "previous": list(prev), "by": by_user, "ref": ref})
    change = SkillChange(user_id=user_id, skill=skill, level=level, source=source, applied=applied,
                         previous_level=prev[0], previous_source=prev[1], by_user=by_user, ref=ref,
                         ledger_hash=entry.hash)
    db.add(change)
    db.flush()
    return change


def levels(db: Session, user_id: int, verified_only: bool = False) -> dict[str, int]:
    """The learner's current levels (``verified_only``: evidence and assessor levels only)."""
    rows = db.scalars(select(SkillLevel).where(SkillLevel.user_id == user_id))
    return {r.skill: r.level for r in rows if not verified_only or r.source != "self"}


def levels_of(db: Session, user_ids: list[int]) -> dict[int, dict[str, int]]:
    """Current levels of several learners at once: ``user -> skill -> level``."""
    out: dict[int, dict[str, int]] = {u: {} for u in user_ids}
    if user_ids:
        for r in db.scalars(select(SkillLevel).where(SkillLevel.user_id.in_(user_ids))):
            out[r.user_id][r.skill] = r.level
    return out


def change_view(c: SkillChange, lang: str) -> dict:
    """One history row as the API shows it."""
    label = load_framework().skills[c.skill].label(lang)[0] if c.skill in load_framework().skills else c.skill
    return {"id": c.id, "skill": c.skill, "label": label, "level": c.level, "source": c.source, "applied": c.applied,
            "previous_level": c.previous_level, "previous_source": c.previous_source, "by": c.by_user,
            "ref": c.ref, "at": iso_utc(c.created_at), "ledger_hash": c.ledger_hash}


def profile(db: Session, user_id: int, lang: str = "en") -> dict:
    """The profile matrix: every skill held with level, source, self level, latest check and its history."""
    fw = load_framework()
    rows = {r.skill: r for r in db.scalars(select(SkillLevel).where(SkillLevel.user_id == user_id))}
    history = list(db.scalars(select(SkillChange).where(SkillChange.user_id == user_id).order_by(SkillChange.id)))
    checks = {}
    for c in db.scalars(select(SkillCheck).where(SkillCheck.user_id == user_id, SkillCheck.submitted_at.is_not(None))
                        .order_by(SkillCheck.id)):
        checks[c.skill] = {"check": c.id, "correct": c.correct, "total": len(c.asked), "level": c.level,
                           "at": iso_utc(c.submitted_at)}
    skills = []
    for sid, s in fw.skills.items():
        r = rows.get(sid)
        if r is None and sid not in checks:
            continue
        text, label_source = s.label(lang)
        skills.append({"skill": sid, "uri": s.uri, "label": text, "label_source": label_source, "area": s.area,
                       "level": r.level if r else None, "level_name": LEVELS[r.level].name if r else None,
                       "source": r.source if r else None, "self_level": r.self_level if r else None,
                       "check": checks.get(sid), "updated_at": iso_utc(r.updated_at) if r else None,
                       "history": [change_view(c, lang) for c in history if c.skill == sid]})
    return {"user": user_id, "language": lang, "skills": skills,
            "counts": {src: sum(1 for x in skills if x["source"] == src) for src in SOURCES}}
