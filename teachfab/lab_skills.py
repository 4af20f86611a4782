"""What ``teachfab lab up`` shows of the skills half: a learner's profile, a job match and a pathway,
before the session and after its evidence and a signed-off assessment.

Before the session, learner 1 self-assesses (as they would on the portal).
After the close — where the hub's hook raised the team's profiles from
evidence that met the charter's acceptance criteria — the two assessors of
``lab up`` score every rubric criterion (a demonstration: they score at
:data:`DEMO_LEVEL`, Advanced; a real assessment is theirs to make, on the
hub's API or pages while it runs) and sign off, which confirms the levels
as assessor-verified. The summary says which skill rose from which source,
how the fit for :data:`MATCH_JOB` changed and how the pathway to
:data:`PATHWAY_JOB` shrank.
"""

from __future__ import annotations

from cloud.accounts.models import User
from cloud.challenges import assessment
from cloud.challenges.models import LabSession
from cloud.skills import careers, profiles, selfassess
from labs.packs import load_pack

MATCH_JOB = "condition-monitoring-technician"
PATHWAY_JOB = "predictive-maintenance-specialist"
DEMO_LEVEL = 3
#: What learner 1 says of themselves before the session.
SELF_ASSESSMENT = {"predictive-maintenance": 1, "signal-processing": 2, "inspect-data": 1, "python": 2}


def snapshot(db, user_id: int) -> dict:
    """The learner's levels with sources, the fit for MATCH_JOB and the pathway to PATHWAY_JOB."""
    fit = next(m["fit"] for m in careers.matches(db, user_id, "en") if m["job"] == MATCH_JOB)
    path = careers.pathway_view(db, user_id, PATHWAY_JOB, "en")
    return {"levels": {s["skill"]: [s["level"], s["source"]] for s in profiles.profile(db, user_id)["skills"]},
            "fit": fit, "pathway_ects": path["total_ects"], "pathway": [s["entry"] for s in path["steps"]]}


def before(sessions, learner_id: int) -> dict:
    """Learner 1 self-assesses; the snapshot before the session."""
    with sessions() as db:
        selfassess.submit(db, learner_id, SELF_ASSESSMENT, "before the lab session (teachfab lab up)")
        return snapshot(db, learner_id)


def after(sessions, hooks, session_id: int, ids: dict, learner_id: int) -> dict:
    """The demonstration assessment (when the evidence met the charter) and the snapshot after it."""
    with sessions() as db:
        row = db.get(LabSession, session_id)
        evidenced = snapshot(db, learner_id)  # what the evidence at close raised
        signed = None
        if row.evidence and all(e.document["final"] and e.document["final"]["acceptance"]["met"] for e in row.evidence):
            criteria = [c.id for c in load_pack(row.pack_id).rubric.criteria]
            for key in ("academic", "industrial"):
                assessment.submit_score(db, session_id, db.get(User, ids[key]), {c: DEMO_LEVEL for c in criteria},
                                        {criteria[0]: "lab up demonstration score"})
            outcome = assessment.sign_off(db, session_id, db.get(User, ids["academic"]),
                                          "teachfab lab up: demonstration sign-off", hooks)
            signed = {"result": outcome.result, "weighted_level": outcome.weighted_level}
        return {"assessment": signed, "evidence": evidenced, **snapshot(db, learner_id)}


def report(start: dict, end: dict) -> list[str]:
    """The lines ``lab up`` prints about the learner's skills."""
    mid = end["evidence"]
    show = lambda v: f"{v[0]} ({v[1]})" if v else "—"  # noqa: E731
    lines = ["learner 1's skill profile (docs/skills.md): before -> after the evidence -> after the sign-off"]
    for skill in sorted(set(start["levels"]) | set(end["levels"])):
        a, m, b = start["levels"].get(skill), mid["levels"].get(skill), end["levels"].get(skill)
        lines.append(f"  {skill:<32} {show(a):<14} -> {show(m):<14} -> {show(b)}")
    if end["assessment"]:
        lines.append(f"  demonstration assessment: {end['assessment']['result']} at weighted level "
                     f"{end['assessment']['weighted_level']}")
    else:
        lines.append("  no assessment: the evidence did not meet the charter's acceptance criteria")
    lines.append(f"  fit for {MATCH_JOB}: {start['fit']} % -> {mid['fit']} % -> {end['fit']} %")
    lines.append(f"  pathway to {PATHWAY_JOB}: {start['pathway_ects']} ECTS ({len(start['pathway'])} steps) -> "
                 f"{mid['pathway_ects']} ECTS -> {end['pathway_ects']} ECTS ({len(end['pathway'])} steps); "
                 f"left out now: {', '.join(sorted(set(start['pathway']) - set(end['pathway']))) or 'none'}")
    return lines
