"""Skill checks: five four-option questions from the question bank, graded to a level, and the final report.

The check's result is kept beside the profile's level (it does not change
it): the report lists the skills evaluated with the level the check showed
and the self-assessed level, the average level shown, and the strongest
skill and area.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.database import iso_utc, utcnow
from cloud.skills.errors import SkillsConflict, SkillsInvalid, SkillsNotFound
from cloud.skills.models import SkillCheck, SkillLevel
from labs.skills.framework import load_framework
from labs.skills.questions import Asked, checkable, draw, grade, load_questions


def available(lang: str) -> list[dict]:
    """Skills that have a check."""
    fw = load_framework()
    return [{"skill": s, "label": fw.skills[s].label(lang)[0]} for s in checkable(load_questions())]


def start(db: Session, user_id: int, skill: str) -> SkillCheck:
    """Draw a check on ``skill`` for the learner; commit. The questions go out without their answers."""
    bank = load_questions()
    if skill not in checkable(bank):
        raise SkillsNotFound("no_questions", skill=skill)
    asked = draw(bank, skill, seed=secrets.randbelow(2**31))
    row = SkillCheck(user_id=user_id, skill=skill, asked=[asdict(a) for a in asked])
    db.add(row)
    db.commit()
    return row


def questions_view(row: SkillCheck) -> dict:
    """The check as the learner sees it: each question with its options in the drawn order, no answers."""
    bank = load_questions()
    items = []
    for a in row.asked:
        q = bank[a["id"]]
        items.append({"id": q.id, "level": q.level, "question": q.question, "options": [q.options[i] for i in a["order"]]})
    return {"check": row.id, "skill": row.skill, "questions": items, "language": "en",
            "submitted": row.submitted_at is not None}


def submit(db: Session, user_id: int, check_id: int, answers: list[int]) -> dict:
    """Grade the learner's answers to their open check; commit and return the result."""
    row = db.get(SkillCheck, check_id)
    if row is None or row.user_id != user_id:
        raise SkillsNotFound("no_check", check=check_id)
    if row.submitted_at is not None:
        raise SkillsConflict("check_done", check=check_id)
    if len(answers) != len(row.asked):
        raise SkillsInvalid("answers_count", given=len(answers), expected=len(row.asked))
    for i, a in enumerate(answers):
        if not (isinstance(a, int) and not isinstance(a, bool) and 0 <= a <= 3):
            raise SkillsInvalid("answer_range", index=i, value=a)
    result = grade(load_questions(), [Asked(a["id"], tuple(a["order"])) for a in row.asked], answers)
    row.answers, row.correct, row.level, row.submitted_at = answers, result["correct"], result["level"], utcnow()
    db.commit()
    return {"check": row.id, "skill": row.skill, **result}


def report(db: Session, user_id: int, lang: str) -> dict:
    """The final report: every skill checked (latest check), average level shown, strongest skill and area."""
    fw = load_framework()
    latest: dict[str, SkillCheck] = {}
    for c in db.scalars(select(SkillCheck).where(SkillCheck.user_id == user_id, SkillCheck.submitted_at.is_not(None))
                        .order_by(SkillCheck.id)):
        latest[c.skill] = c
    selfs = {r.skill: r.self_level for r in db.scalars(select(SkillLevel).where(SkillLevel.user_id == user_id))}
    rows = [{"skill": s, "label": fw.skills[s].label(lang)[0], "area": fw.skills[s].area, "level": c.level,
             "correct": c.correct, "total": len(c.asked), "self_level": selfs.get(s), "at": iso_utc(c.submitted_at)}
            for s, c in latest.items()]
    if not rows:
        return {"skills": [], "evaluated": 0, "average_level": None, "strongest_skill": None, "strongest_area": None}
    strongest = max(rows, key=lambda r: (r["level"], r["correct"], r["skill"]))
    by_area: dict[str, list[int]] = {}
    for r in rows:
        by_area.setdefault(r["area"], []).append(r["level"])
    area = max(by_area, key=lambda a: (sum(by_area[a]) / len(by_area[a]), a))
    return {"skills": rows, "evaluated": len(rows), "average_level": round(sum(r["level"] for r in rows) / len(rows), 2),
            "strongest_skill": strongest["skill"], "strongest_area": area,
            "strongest_area_name": fw.areas[area].get(lang)[0]}
