"""Self-assessment: the questionnaire per skill area, skills suggested from free text, and the answers.

Suggestions come from matching the labels and synonyms of the shipped
skills, in the learner's language and in English, against what the
learner wrote (case, accents and punctuation ignored; a phrase must appear
as whole words, or — for labels of several words — all its words of four
letters or more must). They are only suggestions: nothing enters a profile
until the learner submits levels (:func:`submit`).

Examples
--------
>>> [s["skill"] for s in suggest("Hice análisis de vibraciones y cambié rodamientos con un PLC", "es")]
['signal-processing', 'programmable-logic-controller']
>>> [s["skill"] for s in suggest("I wrote Python scripts for MQTT and did some troubleshooting", "en")]
['python', 'internet-of-things', 'troubleshoot']
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.orm import Session

from cloud.skills import profiles
from cloud.skills.errors import SkillsInvalid
from labs.skills.common import LEVELS
from labs.skills.framework import load_framework

MAX_TEXT = 5000


def _norm(text: str) -> str:
    nfkd = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in nfkd if not unicodedata.combining(c))
    return " " + " ".join(re.findall(r"[\w\-+.]+", plain.replace("'", " ").replace("’", " "))) + " "


def questionnaire(lang: str) -> list[dict]:
    """The skills by area with the four level descriptors (``label_source`` marks a fallback)."""
    fw = load_framework()
    out = []
    for area, name in fw.areas.items():
        skills = [{"skill": s.id, "label": s.label(lang)[0], "label_source": s.label(lang)[1], "type": s.type}
                  for s in fw.skills.values() if s.area == area]
        out.append({"area": area, "name": name.get(lang)[0], "skills": skills})
    return out


def levels_scale() -> list[dict]:
    """The four levels with their English names and descriptors (the pages translate them)."""
    return [{"level": n, "name": lvl.name, "descriptor": lvl.descriptor} for n, lvl in LEVELS.items()]


def suggest(text: str, lang: str) -> list[dict]:
    """Skills the text mentions, with the phrase that matched (first mention first)."""
    if len(text) > MAX_TEXT:
        raise SkillsInvalid("text_too_long", length=len(text), limit=MAX_TEXT)
    hay = _norm(text)
    found = []
    for s in load_framework().skills.values():
        phrases = [s.label(lang)[0], *s.synonyms.get(lang, [])]
        if lang != "en":
            phrases += [s.labels["en"][0], *s.synonyms.get("en", [])]
        best = None
        for phrase in phrases:
            p = _norm(phrase)
            at = hay.find(p)
            if at < 0:
                words = [w for w in p.split() if len(w) >= 4]
                if len(p.split()) > 1 and len(words) >= 2 and all(f" {w} " in hay for w in words):
                    at = hay.find(f" {words[0]} ")
            if at >= 0 and (best is None or at < best[0]):
                best = (at, phrase)
        if best is not None:
            found.append((best[0], {"skill": s.id, "label": s.label(lang)[0], "matched": best[1], "area": s.area}))
    return [f for _, f in sorted(found, key=lambda x: x[0])]


def submit(db: Session, user_id: int, answers: dict[str, int], note: str = "") -> list:
    """Record self-assessed levels (all checked first: nothing is recorded if one is wrong); commit."""
    for skill, level in answers.items():
        profiles.check_level(skill, level)
    changes = [profiles.propose(db, user_id, skill, level, "self", {"kind": "self-assessment", "note": note[:500]},
                                by_user=user_id) for skill, level in answers.items()]
    db.commit()
    return [c for c in changes if c is not None]
