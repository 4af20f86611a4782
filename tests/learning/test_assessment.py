"""Dual assessment at the service level: who scores, the levels, moderation beyond the rubric's
threshold, sign-off into an outcome (pass / not yet, with reasons), credential decisions and
business days, on SQLite and PostgreSQL.

Sessions of pack ``outer-race-early`` are started and closed through
:mod:`cloud.challenges.sessions` with an in-memory stand-in for the telemetry
store (see :mod:`tests.learning.test_charters`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cloud.accounts.service import create_user
from cloud.challenges import assessment, charters, ledger, sessions
from cloud.challenges.assessment import add_business_days
from cloud.challenges.charters import ChallengeError
from labs.packs import load_pack
from tests.learning.support import PACK, PW, T0, active_challenge, recorded_telemetry, run_session

RUBRIC = load_pack(PACK).rubric
CRITERIA = [c.id for c in RUBRIC.criteria]


def levels(default: int, **overrides: int) -> dict[str, int]:
    """Every criterion at ``default`` but the ones given."""
    return {**{cid: default for cid in CRITERIA}, **overrides}


def scored(db, p, session_id: int, academic: dict, industrial: dict) -> dict:  # noqa: F811
    """Both assessors score; the assessment state."""
    assessment.submit_score(db, session_id, p.academic, academic)
    assessment.submit_score(db, session_id, p.industrial, industrial)
    return assessment.state(db, session_id)


def test_scores_wait_for_the_closed_session_and_come_from_its_assessors(db, people):  # noqa: F811
    p = people
    c = active_challenge(db, p)
    running = sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    with pytest.raises(ChallengeError, match=f"session {running.id} is running; assessment starts when it is closed"):
        assessment.submit_score(db, running.id, p.academic, levels(3))
    assert assessment.state(db, running.id)["stage"] == "open"
    sessions.close_session(db, running, recorded_telemetry(running), p.mentor, wall_ns=T0 + 330 * 10**9)
    st = assessment.state(db, running.id)
    assert st["stage"] == "awaiting_scores" and st["needed"] == {"academic": 1, "industrial": 1}

    for outsider in (p.mentor, p.stranger_assessor, p.ops, p.ana):
        with pytest.raises(PermissionError, match=f"{outsider.email} is not an assessor of challenge {c.id}"):
            assessment.submit_score(db, running.id, outsider, levels(3))
    with pytest.raises(LookupError, match="no session 999"):
        assessment.submit_score(db, 999, p.academic, levels(3))
    with pytest.raises(ChallengeError, match="at stage awaiting_scores; it cannot be signed off yet"):
        assessment.sign_off(db, running.id, p.ops)
    assert assessment.state(db, running.id)["scores"] == []


def test_levels_cover_every_criterion_once_at_1_to_4(db, people):  # noqa: F811
    p = people
    s = run_session(db, p, active_challenge(db, p).id)
    full = levels(3)
    bad_cases = [
        ({k: v for k, v in full.items() if k != "impact"}, r"missing \['impact'\]"),
        ({**full, "style": 3}, r"unknown criteria \['style'\]"),
        (levels(3, impact=0), r"levels must be integers 1-4 \(Beginner, Intermediate, Advanced, Expert\), "
                              r"got \{'impact': 0\}"),
        (levels(3, impact=5), r"got \{'impact': 5\}"),
        (levels(3, impact=2.5), r"got \{'impact': 2.5\}"),
        (levels(3, impact="3"), r"got \{'impact': '3'\}"),
    ]
    for bad, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            assessment.submit_score(db, s.id, p.academic, bad)
    with pytest.raises(ValueError, match=r"comments on unknown criteria \['style'\]"):
        assessment.submit_score(db, s.id, p.academic, full, {"style": "Nice plots."})
    assert assessment.state(db, s.id)["scores"] == []  # nothing recorded by a refused score

    row = assessment.submit_score(db, s.id, p.academic, levels(1, impact=4),
                                  {"reproducibility": "No seed recorded."})
    assert (row.side, row.levels["impact"], row.levels["reproducibility"]) == ("academic", 4, 1)
    with pytest.raises(ChallengeError, match=f"{p.academic.email} has scored session {s.id} already"):
        assessment.submit_score(db, s.id, p.academic, full)
    st = assessment.state(db, s.id)
    assert st["stage"] == "awaiting_scores" and st["needed"] == {"academic": 0, "industrial": 1}
    assert st["scores"][0]["comments"] == {"reproducibility": "No seed recorded."}
    entry = ledger.entries(db, f"session:{s.id}")[-1]
    assert entry["kind"] == "assessment" and entry["payload"]["assessor"] == p.academic.id
    assert row.ledger_hash == entry["hash"]

    assessment.submit_score(db, s.id, p.industrial, levels(1, impact=4))
    assessment.sign_off(db, s.id, p.ops)
    late = create_user(db, "second-academic@vet.example", PW, ["assessor"])
    charters.add_staff(db, s.challenge_id, late, "academic_assessor")
    with pytest.raises(ChallengeError, match=f"session {s.id} is signed off; scores can no longer change"):
        assessment.submit_score(db, s.id, late, full)


def test_moderation_only_beyond_the_threshold(db, people):  # noqa: F811
    """Levels may differ by at most ``moderation_threshold`` (docs/lab-packs.md); more needs moderation."""
    p = people
    c = active_challenge(db, p)
    thr = RUBRIC.moderation_threshold
    assert thr + 1 <= 3, "the pack's threshold leaves no room for a larger disagreement"

    at = run_session(db, p, c.id)
    st = scored(db, p, at.id, levels(4), levels(4, impact=4 - thr, operator_usability=4 - thr))
    assert st["disagreements"] == {} and st["stage"] == "ready_for_signoff"
    with pytest.raises(ChallengeError, match="at stage ready_for_signoff; nothing to moderate"):
        assessment.moderate(db, at.id, p.mentor, {"impact": 3}, "Assessors nearly agree here.")

    beyond = run_session(db, p, c.id)
    st = scored(db, p, beyond.id, levels(4), levels(4, impact=4 - thr - 1, operator_usability=4 - thr))
    assert st["disagreements"] == {"impact": [4, 4 - thr - 1]} and st["stage"] == "needs_moderation"
    with pytest.raises(ChallengeError, match="at stage needs_moderation; it cannot be signed off yet"):
        assessment.sign_off(db, beyond.id, p.ops)


def test_moderation_rules(db, people):  # noqa: F811
    p = people
    c = active_challenge(db, p)
    dual = create_user(db, "dual@hub.example", PW, ["hub_operator", "assessor"])  # may moderate, but scores
    charters.add_staff(db, c.id, dual, "academic_assessor")
    s = run_session(db, p, c.id)
    assessment.submit_score(db, s.id, dual, levels(4))
    assessment.submit_score(db, s.id, p.industrial, levels(4, impact=1, operator_usability=2))
    st = assessment.state(db, s.id)
    assert st["stage"] == "needs_moderation" and st["needed"] == {"academic": 0, "industrial": 0}
    assert st["disagreements"] == {"impact": [4, 1], "operator_usability": [4, 2]}

    rationale = "Alerts name the bearing; impact case unquantified."
    both = {"impact": 2, "operator_usability": 3}
    with pytest.raises(PermissionError, match="an assessor who scored cannot moderate the same session"):
        assessment.moderate(db, s.id, dual, both, rationale)
    for user in (p.industrial, p.stranger_mentor, p.academic):
        with pytest.raises(PermissionError, match=f"{user.email} is neither a mentor of this challenge nor a hub op"):
            assessment.moderate(db, s.id, user, both, rationale)
    with pytest.raises(ValueError, match=r"moderate exactly the disputed criteria \['impact', 'operator_usability'\]; "
                                         r"missing \['operator_usability'\], not disputed \[\]"):
        assessment.moderate(db, s.id, p.mentor, {"impact": 2}, rationale)
    with pytest.raises(ValueError, match=r"missing \[\], not disputed \['reproducibility'\]"):
        assessment.moderate(db, s.id, p.mentor, {**both, "reproducibility": 4}, rationale)
    with pytest.raises(ValueError, match="levels must be integers 1-4"):
        assessment.moderate(db, s.id, p.mentor, {**both, "impact": 5}, rationale)
    with pytest.raises(ValueError, match="give the moderation a rationale"):
        assessment.moderate(db, s.id, p.mentor, both, "  ok  ")
    assert assessment.state(db, s.id)["moderation"] is None

    row = assessment.moderate(db, s.id, p.mentor, both, rationale)
    assert row.moderator_id == p.mentor.id and ledger.entries(db, f"session:{s.id}")[-1]["kind"] == "moderation"
    st = assessment.state(db, s.id)
    assert st["stage"] == "ready_for_signoff" and st["moderation"]["levels"] == both
    with pytest.raises(ChallengeError, match="nothing to moderate"):
        assessment.moderate(db, s.id, p.ops, both, rationale)

    for user in (p.mentor, p.stranger_assessor):  # sign-off: an assessor of the challenge or a hub operator
        with pytest.raises(PermissionError, match="is neither an assessor of this challenge nor a hub operator"):
            assessment.sign_off(db, s.id, user)
    outcome = assessment.sign_off(db, s.id, p.academic, note="Moderated on two criteria.")
    final = {c["id"]: (c["level"], c["moderated"]) for c in outcome.document["criteria"]}
    assert final["impact"] == (2.0, True) and final["operator_usability"] == (3.0, True)
    assert final["reproducibility"] == (4.0, False)
    assert assessment.state(db, s.id)["stage"] == "signed_off"
    with pytest.raises(ChallengeError, match="at stage signed_off"):
        assessment.sign_off(db, s.id, p.ops)


def test_outcome_pass_or_not_yet_with_reasons(db, people):  # noqa: F811
    p = people
    c = active_challenge(db, p)
    assert RUBRIC.pass_level == 2.5 and RUBRIC.minimum_levels == {"safety_compliance": 3}

    def outcome(academic, industrial, alerts_s=(250.0,)):
        s = run_session(db, p, c.id, alerts_s=alerts_s)
        assert scored(db, p, s.id, academic, industrial)["stage"] == "ready_for_signoff"
        return assessment.sign_off(db, s.id, p.industrial)

    # one level apart (within the threshold) on impact: the final level is the assessors' mean
    good = outcome(levels(3), levels(3, impact=4))
    doc = good.document
    assert (good.result, doc["result"], doc["reasons"]) == ("pass", "pass", [])
    assert {c["id"]: c["level"] for c in doc["criteria"]}["impact"] == 3.5
    assert good.weighted_level == doc["weighted_level"] == RUBRIC.weighted_level(levels(3, impact=3.5)) == 3.075
    assert doc["evidence"][0]["acceptance_met"] and doc["learners"][0]["email"] == p.ana.email
    assert doc["signed_off_by"]["id"] == p.industrial.id

    low = outcome(levels(2, safety_compliance=3), levels(2, safety_compliance=3))
    assert (low.result, low.weighted_level) == ("not_yet", 2.2)
    assert low.document["reasons"] == ["weighted level 2.2 below 2.5"]

    unsafe = outcome(levels(4, safety_compliance=2), levels(4, safety_compliance=2))
    assert (unsafe.result, unsafe.weighted_level) == ("not_yet", 3.6)
    assert unsafe.document["reasons"] == ["safety_compliance at 2.0 below its minimum 3"]

    missed = outcome(levels(3), levels(3), alerts_s=())  # the spall went unnoticed
    assert missed.result == "not_yet" and not missed.document["evidence"][0]["acceptance_met"]
    assert missed.document["reasons"] == ["the evidence does not meet the charter's acceptance criteria"]

    short = outcome(levels(2), levels(2), alerts_s=(30.0, 250.0))  # and a false alarm in healthy running
    assert short.result == "not_yet" and short.document["reasons"] == [
        "weighted level 2.0 below 2.5", "safety_compliance at 2.0 below its minimum 3",
        "the evidence does not meet the charter's acceptance criteria"]
    kinds = [e["kind"] for e in ledger.entries(db, f"session:{good.session_id}")]
    assert kinds[-3:] == ["assessment", "assessment", "outcome"]


def test_credential_decision_rules(db, people):  # noqa: F811
    p = people
    c = active_challenge(db, p)
    passed = run_session(db, p, c.id)
    scored(db, p, passed.id, levels(3), levels(3))
    with pytest.raises(ChallengeError, match=f"session {passed.id} has no signed-off outcome yet"):
        assessment.record_credential_decision(db, passed.id, p.ops, "issued")
    good = assessment.sign_off(db, passed.id, p.ops)
    assert good.credential_due_at == add_business_days(good.signed_off_at, 10)
    assert good.credential_decided_at is None and good.credential_decision == ""

    failed = run_session(db, p, c.id, alerts_s=())
    scored(db, p, failed.id, levels(3), levels(3))
    assert assessment.sign_off(db, failed.id, p.ops).result == "not_yet"

    with pytest.raises(ValueError, match="decision must be 'issued' or 'withheld', got 'maybe'"):
        assessment.record_credential_decision(db, passed.id, p.ops, "maybe")
    with pytest.raises(ChallengeError, match="a credential is issued only for a passing outcome"):
        assessment.record_credential_decision(db, failed.id, p.ops, "issued")
    withheld = assessment.record_credential_decision(db, failed.id, p.ops, "withheld")
    assert withheld.credential_decision == "withheld" and withheld.credential_decided_at is not None
    issued = assessment.record_credential_decision(db, passed.id, p.ops, "issued")
    assert issued.credential_decision == "issued"
    for sid in (passed.id, failed.id):
        with pytest.raises(ChallengeError, match=f"the credential decision of session {sid} is recorded already"):
            assessment.record_credential_decision(db, sid, p.ops, "withheld")
    entry = ledger.entries(db, f"session:{passed.id}")[-1]
    assert entry["kind"] == "credential_decision" and entry["payload"] == {"decision": "issued", "by": p.ops.id}


def test_add_business_days_skips_weekends():
    tz = timezone(timedelta(hours=2))
    fri = datetime(2026, 11, 20, 9, 30, tzinfo=tz)
    cases = [
        (fri, 1, datetime(2026, 11, 23, 9, 30, tzinfo=tz)),                 # Friday -> Monday
        (fri, 10, datetime(2026, 12, 4, 9, 30, tzinfo=tz)),                 # two working weeks
        (fri - timedelta(days=1), 2, datetime(2026, 11, 23, 9, 30, tzinfo=tz)),  # Thursday + 2 -> Monday
        (fri + timedelta(days=3), 5, datetime(2026, 11, 30, 9, 30, tzinfo=tz)),  # Monday + 5 -> Monday
        (fri - timedelta(days=2), 0, fri - timedelta(days=2)),              # Wednesday + 0: unchanged
        (datetime(2026, 12, 31, 17, tzinfo=timezone.utc), 1, datetime(2027, 1, 1, 17, tzinfo=timezone.utc)),
        # a weekend start counts from Monday (numpy's roll forward): Saturday + 1 -> Tuesday
        (fri + timedelta(days=1), 1, datetime(2026, 11, 24, 9, 30, tzinfo=tz)),
        (fri + timedelta(days=2), 10, datetime(2026, 12, 7, 9, 30, tzinfo=tz)),
    ]
    for start, days, due in cases:
        got = add_business_days(start, days)
        assert got == due and got.tzinfo is start.tzinfo and got.weekday() < 5, (start, days, got)
