"""Profile updates from the challenges area: evidence at a session's close, and a signed-off outcome.

The hub wires :func:`from_evidence` and :func:`from_outcome` into
:class:`cloud.challenges.hooks.LearningHooks`; each runs inside the
transaction of the step that triggers it.

- **Evidence**: when every asset's final evidence of a lab session met the
  charter's acceptance criteria, each learner of the team gets the level
  its pack's credential(s) say the session evidences, source ``evidence``;
  ``ref`` names the session, the evidence ids and the criteria met.
- **Outcome**: a passing outcome gives each learner, for every skill of its
  credential(s), source ``assessor`` at the credential's level, capped by
  the weighted rubric level (rounded down, at least 1): an assessment at
  Intermediate does not verify Advanced. ``ref`` names the session and the
  criteria with their final levels. A ``not_yet`` outcome changes nothing.
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from cloud.challenges.models import LabSession, Outcome
from cloud.skills import profiles
from labs.packs import PackError, load_pack
from labs.skills.framework import load_framework


def _pack_skills(credentials) -> list[tuple[str, int, str]]:
    """``(skill id, level, credential id)`` of credentials (pack models or their JSON dumps) in the framework."""
    fw, out = load_framework(), []
    for c in credentials:
        c = c if isinstance(c, dict) else c.model_dump(mode="json")
        for s in c.get("skills", []):
            skill = fw.by_uri.get(s.get("uri"))
            if skill is not None:
                out.append((skill.id, int(s.get("level", 2)), c["id"]))
    return out


def from_evidence(db: Session, session: LabSession) -> None:
    """Raise the team's profiles from a closed session whose evidence met every acceptance criterion."""
    if session.kind != "lab" or not session.pack_id or not session.evidence:
        return
    finals = [e.document.get("final") for e in session.evidence]
    if not all(f and f["acceptance"]["met"] for f in finals):
        return
    try:
        pack = load_pack(session.pack_id)
    except PackError:
        return
    criteria = [{"asset": e.asset, "evidence": e.id, "criteria": [
        {"metric": c["metric"], "op": c["op"], "value": c["value"], "measured": c["measured"]}
        for c in e.document["final"]["acceptance"]["criteria"] if c.get("met")]} for e in session.evidence]
    for member in session.team.members:
        for skill, level, cred in _pack_skills(pack.meta.credentials):
            profiles.propose(db, member.id, skill, level, "evidence",
                             {"kind": "evidence", "session": session.id, "pack": pack.id, "credential": cred,
                              "evidence": [e.id for e in session.evidence], "met": criteria})


def from_outcome(db: Session, outcome: Outcome) -> None:
    """Confirm the learners' levels from a passing signed-off outcome (source ``assessor``)."""
    doc = outcome.document
    if doc.get("result") != "pass":
        return
    cap = max(1, min(4, math.floor(doc["weighted_level"] + 1e-9)))
    criteria = [{"id": c["id"], "name": c["name"], "side": c["side"], "level": c["level"]} for c in doc["criteria"]]
    for learner in doc["learners"]:
        for skill, level, cred in _pack_skills(doc.get("credentials", [])):
            profiles.propose(db, learner["id"], skill, min(level, cap), "assessor",
                             {"kind": "outcome", "session": doc["session"], "pack": doc.get("pack"),
                              "credential": cred, "weighted_level": doc["weighted_level"], "criteria": criteria},
                             by_user=outcome.signed_off_by)


def from_credential(db: Session, user_id: int, credential: dict, outcome: dict, ref: dict,
                    by_user: int | None = None) -> list[dict]:
    """Raise a learner's skills of an issued credential to ``assessor`` (capped like :func:`from_outcome`).

    Returns what the credential stands for in the profile: ``{"skill", "level", "source", "changed"}``
    per skill (``changed`` is false when the sign-off had already confirmed that level).
    """
    cap = max(1, min(4, math.floor(outcome["weighted_level"] + 1e-9)))
    out = []
    for skill, level, _cred in _pack_skills([credential]):
        change = profiles.propose(db, user_id, skill, min(level, cap), "assessor", ref, by_user=by_user)
        out.append({"skill": skill, "level": min(level, cap), "source": "assessor", "changed": change is not None})
    return out
