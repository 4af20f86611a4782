"""Skill profiles at the service level, on SQLite and PostgreSQL: source precedence and history in the
ledger, raised by a real session's evidence and its signed-off outcome, self-assessment, skill checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cloud.challenges import assessment, ledger, sessions
from cloud.challenges.hooks import LearningHooks
from cloud.skills import careers, checks, profiles, selfassess, updates
from cloud.skills.errors import SkillsConflict, SkillsInvalid, SkillsNotFound
from cloud.skills.models import SkillChange
from labs.packs import load_pack
from labs.skills.questions import load_questions
from tests.learning.support import PACK, S, T0, active_challenge, recorded_telemetry

HOOKS = LearningHooks(on_evidence=[updates.from_evidence], on_outcome=[updates.from_outcome])
CRITERIA = [c.id for c in load_pack(PACK).rubric.criteria]


def close_with_hooks(db, p, challenge_id: int, alerts_s=(250.0,)):
    """A session of Team Ana closed at 330 s with the hooks the hub wires (alert 10 s after the 240 s spall)."""
    s = sessions.start_session(db, challenge_id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    store = recorded_telemetry(s, alerts=[(T0 + int(t * S), s.edge) for t in alerts_s])
    return sessions.close_session(db, s, store, p.mentor, wall_ns=T0 + int(330 * S), hooks=HOOKS)


def sign_off(db, p, session_id: int, level: int):
    for assessor in (p.academic, p.industrial):
        assessment.submit_score(db, session_id, assessor, {c: level for c in CRITERIA})
    return assessment.sign_off(db, session_id, p.industrial, hooks=HOOKS)


def current(db, user_id, skill):
    return next((s for s in profiles.profile(db, user_id)["skills"] if s["skill"] == skill), None)


def test_source_precedence_and_history_in_the_ledger(db, people):
    ana = people.ana.id
    steps = [("self", 3, True), ("evidence", 2, True),   # a more trusted source wins, even at a lower level
             ("self", 4, False),                          # never overwritten by a less trusted one
             ("evidence", 1, False), ("evidence", 3, True),  # verified levels are not lowered by a weaker session
             ("assessor", 2, True), ("evidence", 4, False), ("self", 1, False)]
    for source, level, applied in steps:
        change = profiles.propose(db, ana, "python", level, source, {"kind": "test"}, by_user=people.mentor.id)
        assert change.applied is applied, (source, level)
    db.commit()
    row = current(db, ana, "python")
    assert (row["level"], row["source"], row["self_level"]) == (2, "assessor", 1)
    assert [(h["source"], h["level"], h["applied"]) for h in row["history"]] == steps
    assert row["history"][1]["previous_level"] == 3 and row["history"][1]["previous_source"] == "self"
    assert profiles.propose(db, ana, "python", 2, "assessor", {}) is None  # nothing changes: nothing recorded
    entries = ledger.entries(db, f"learner:{ana}")
    assert [e["payload"]["level"] for e in entries] == [lvl for _, lvl, _ in steps]
    assert all(e["hash"] == h["ledger_hash"] for e, h in zip(entries, row["history"]))
    assert ledger.verify_chain(db)["ok"]
    with pytest.raises(SkillsInvalid, match="level of python: 5; expected 1"):
        profiles.propose(db, ana, "python", 5, "self", {})
    with pytest.raises(SkillsInvalid, match="'pyton' is not in the skills framework"):
        profiles.propose(db, ana, "pyton", 2, "self", {})
    db.rollback()


def test_the_history_is_write_once(db, people):
    profiles.propose(db, people.ana.id, "python", 2, "self", {})
    db.commit()
    with pytest.raises(DBAPIError, match="write-once"):
        db.execute(text("UPDATE skill_changes SET level = 4"))
        db.flush()
    db.rollback()
    with pytest.raises(DBAPIError, match="write-once"):
        db.execute(text("DELETE FROM skill_changes"))
        db.flush()
    db.rollback()


def test_a_session_raises_evidence_then_assessor_levels_and_the_match_and_pathway_follow(db, people):
    p = people
    ana = p.ana.id
    selfassess.submit(db, ana, {"predictive-maintenance": 1, "signal-processing": 2})
    fit_before = {m["job"]: m["fit"] for m in careers.matches(db, ana, "en")}
    path_before = careers.pathway_view(db, ana, "predictive-maintenance-specialist", "en")
    c = active_challenge(db, p)
    s = close_with_hooks(db, p, c.id)
    pm = current(db, ana, "predictive-maintenance")
    assert (pm["level"], pm["source"], pm["self_level"]) == (2, "evidence", 1)
    raised = pm["history"][-1]
    assert raised["ref"]["kind"] == "evidence" and raised["ref"]["session"] == s.id
    assert raised["ref"]["evidence"] == [e.id for e in s.evidence]
    assert {c["metric"] for c in raised["ref"]["met"][0]["criteria"]} >= {"detection_delay_s", "missed_faults"}
    outcome = sign_off(db, p, s.id, level=3)
    assert outcome.result == "pass" and outcome.weighted_level == 3.0
    after = {x["skill"]: (x["level"], x["source"]) for x in profiles.profile(db, ana)["skills"]}
    # the credential evidences these at levels 2, 2, 1, 2; the assessment (weighted 3.0) confirms them
    assert after == {"predictive-maintenance": (2, "assessor"), "inspect-data": (2, "assessor"),
                     "perform-data-analysis": (2, "assessor"), "manage-maintenance-operations": (1, "assessor"),
                     "signal-processing": (2, "self")}
    confirmed = current(db, ana, "inspect-data")["history"][-1]
    assert confirmed["ref"]["kind"] == "outcome" and confirmed["ref"]["session"] == s.id
    assert {c["id"] for c in confirmed["ref"]["criteria"]} == set(CRITERIA) and confirmed["by"] == p.industrial.id
    fit_after = {m["job"]: m["fit"] for m in careers.matches(db, ana, "en")}
    assert fit_after["condition-monitoring-technician"] > fit_before["condition-monitoring-technician"]
    path_after = careers.pathway_view(db, ana, "predictive-maintenance-specialist", "en")
    assert path_after["total_ects"] < path_before["total_ects"]
    assert "pdm-bearing-early-detection" in path_after["recognised"]
    assert ledger.verify_chain(db)["ok"]


def test_a_weak_assessment_caps_the_verified_level_and_a_failed_one_changes_nothing(db, people):
    p = people
    c = active_challenge(db, p)
    missed = close_with_hooks(db, p, c.id, alerts_s=())  # the spall went unnoticed: acceptance not met
    assert profiles.profile(db, p.ana.id)["skills"] == []
    assert sign_off(db, p, missed.id, level=3).result == "not_yet"
    assert profiles.profile(db, p.ana.id)["skills"] == []
    good = close_with_hooks(db, p, c.id)
    assert current(db, p.ana.id, "predictive-maintenance")["level"] == 2
    assert profiles.levels(db, p.ben.id) == {}  # not in the team
    # a pass at weighted level 2.7 confirms a credential's level-3 skill at Intermediate (2) only
    inner = load_pack("inner-race-vs-ball").meta.credentials
    doc = {"result": "pass", "weighted_level": 2.7, "session": good.id, "pack": "inner-race-vs-ball",
           "criteria": [{"id": "impact", "name": "Impact", "side": "industrial", "level": 2.7}],
           "learners": [{"id": p.ben.id}], "credentials": [c.model_dump(mode="json") for c in inner]}
    updates.from_outcome(db, SimpleNamespace(document=doc, signed_off_by=p.industrial.id))
    db.commit()
    assert profiles.levels(db, p.ben.id) == {"inspect-data": 2, "quantitative-analysis": 2,
                                             "solve-technical-problems": 2, "signal-processing": 2}


def test_self_assessment_is_all_or_nothing_and_suggestions_record_nothing(db, people):
    ana = people.ana.id
    with pytest.raises(SkillsInvalid, match="level of sensors: 0"):
        selfassess.submit(db, ana, {"python": 2, "sensors": 0})
    assert profiles.levels(db, ana) == {}
    found = selfassess.suggest("J'ai fait de l'analyse vibratoire et programmé un automate", "fr")
    assert [f["skill"] for f in found] == ["signal-processing", "programmable-logic-controller"]
    assert db.scalar(select(SkillChange.id)) is None
    selfassess.submit(db, ana, {f["skill"]: 2 for f in found})
    assert profiles.levels(db, ana) == {"signal-processing": 2, "programmable-logic-controller": 2}


def test_skill_check_round_and_report(db, people):
    ana, ben = people.ana.id, people.ben.id
    bank = load_questions()
    row = checks.start(db, ana, "signal-processing")
    view = checks.questions_view(row)
    assert len(view["questions"]) == 5 and all(len(q["options"]) == 4 for q in view["questions"])
    assert "correct" not in str(view)
    right = [a["order"].index(bank[a["id"]].correct) for a in row.asked]
    wrong_last = right[:-1] + [(right[-1] + 1) % 4]
    with pytest.raises(SkillsNotFound):
        checks.submit(db, ben, row.id, right)  # not Ben's check
    with pytest.raises(SkillsInvalid, match="answers: 4 given; expected 5"):
        checks.submit(db, ana, row.id, right[:4])
    result = checks.submit(db, ana, row.id, wrong_last)
    assert result["correct"] == 4 and not result["items"][-1]["ok"] and result["items"][-1]["explanation"]
    with pytest.raises(SkillsConflict, match="answered already"):
        checks.submit(db, ana, row.id, right)
    with pytest.raises(SkillsNotFound, match="no skill check"):
        checks.start(db, ana, "hydraulics")
    selfassess.submit(db, ana, {"signal-processing": 3})
    row2 = checks.start(db, ana, "machine-learning")
    checks.submit(db, ana, row2.id, [a["order"].index(bank[a["id"]].correct) for a in row2.asked])
    rep = checks.report(db, ana, "en")
    assert rep["evaluated"] == 2 and rep["strongest_skill"] == "machine-learning"
    assert rep["strongest_area"] == "data"
    sp = next(r for r in rep["skills"] if r["skill"] == "signal-processing")
    assert sp["self_level"] == 3 and sp["level"] == result["level"]
    assert profiles.levels(db, ana) == {"signal-processing": 3}  # a check never changes the profile level
