"""Challenges and charters at the service level: lifecycle draft → signed → active → closed, who
signs for which party, staff duties, charter validation and the ledger entries, on SQLite and PostgreSQL
(fixtures in ``tests/learning/conftest.py``, helpers in :mod:`tests.learning.support`).
"""

from __future__ import annotations

import pytest

from cloud.accounts.service import create_user
from cloud.challenges import charters, ledger, sessions, teams
from cloud.challenges.charters import ChallengeError
from cloud.challenges.models import CharterStatus, Duty
from labs.packs import load_pack
from tests.learning.support import (PACK, PARTIES, PW, T0, S, active_challenge, new_challenge, recorded_telemetry)


def test_lifecycle_draft_signed_active_closed_with_ledger(db, people):
    p = people
    c = new_challenge(db, p)
    charter = charters.get_charter(db, c.id)
    assert charter.status is CharterStatus.draft and charter.pack_id == PACK
    assert charter.document["parties"] == PARTIES
    assert charter.sha256 == ledger.sha256_of(charter.document)
    assert charters.duties(db, c.id) == {p.mentor.id: Duty.mentor, p.academic.id: Duty.academic_assessor,
                                          p.industrial.id: Duty.industrial_assessor}

    with pytest.raises(ChallengeError, match="the challenge is draft; only a signed one can become active"):
        charters.activate(db, c.id, p.mentor)
    charters.sign(db, c.id, p.sme, "industry_partner")
    charters.sign(db, c.id, p.mentor, "provider")
    with pytest.raises(ChallengeError, match="only a signed one"):  # two of three: still a draft
        charters.activate(db, c.id, p.mentor)
    with pytest.raises(ChallengeError, match="sessions start only in an active one"):
        sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    charter = charters.sign(db, c.id, p.ops, "hub")
    assert charter.status is CharterStatus.signed
    assert {s.party.value: s.user_id for s in charter.signatures} == \
        {"industry_partner": p.sme.id, "provider": p.mentor.id, "hub": p.ops.id}
    assert all(s.charter_sha256 == charter.sha256 for s in charter.signatures)
    with pytest.raises(ChallengeError, match="the charter is signed; signatures are collected while it is a draft"):
        charters.sign(db, c.id, p.academic, "provider")
    with pytest.raises(ChallengeError, match="only a active one can become closed"):
        charters.close(db, c.id, p.mentor)

    charter = charters.activate(db, c.id, p.mentor)
    assert charter.status is CharterStatus.active and charter.activated_at is not None
    with pytest.raises(ChallengeError, match="the challenge is active; only a signed one"):
        charters.activate(db, c.id, p.mentor)
    charter = charters.close(db, c.id, p.ops)
    assert charter.status is CharterStatus.closed and charter.closed_at is not None
    with pytest.raises(ChallengeError, match="sessions start only in an active one"):
        sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)

    log = ledger.entries(db, f"challenge:{c.id}")
    assert [e["kind"] for e in log] == ["challenge_created", "charter_signature", "charter_signature",
                                        "charter_signature", "charter_signed", "challenge_active",
                                        "challenge_closed"]
    assert log[0]["payload"] == {"name": "Pump 1: early outer-race detection", "site": "vet-lab", "pack": PACK,
                                 "charter_sha256": charter.sha256}
    assert [(e["payload"]["party"], e["payload"]["user"]) for e in log[1:4]] == \
        [("industry_partner", p.sme.id), ("provider", p.mentor.id), ("hub", p.ops.id)]
    assert log[4]["payload"] == {"charter_sha256": charter.sha256}
    assert log[5]["payload"] == {"by": p.mentor.id} and log[6]["payload"] == {"by": p.ops.id}
    assert ledger.verify_chain(db)["ok"]


def test_each_party_has_its_own_signers(db, people):
    p = people
    c = new_challenge(db, p)
    site_member_learner = create_user(db, "cara@learner.example", PW, ["learner"], sites=["vet-lab"])
    refused = [
        (p.other_sme, "industry_partner"),        # an SME partner, but of another site
        (site_member_learner, "industry_partner"),  # a member of the site, but no SME partner
        (p.mentor, "industry_partner"),
        (p.stranger_mentor, "provider"),          # a mentor, but not on this challenge's staff
        (p.stranger_assessor, "provider"),        # an assessor, not on the staff
        (p.ops, "provider"),                      # a hub operator is not the provider
        (p.sme, "provider"),
        (p.mentor, "hub"),                        # only a hub operator signs for the hub
        (p.sme, "hub"),
        (p.ana, "hub"),
    ]
    for user, party in refused:
        with pytest.raises(PermissionError, match=f"{user.email} may not sign for {party}"):
            charters.sign(db, c.id, user, party)
    assert charters.get_charter(db, c.id).signatures == []
    assert [e["kind"] for e in ledger.entries(db, f"challenge:{c.id}")] == ["challenge_created"]

    # an assessor on the staff signs for the provider as well as a mentor does
    charters.sign(db, c.id, p.industrial, "provider")
    with pytest.raises(ChallengeError, match="already signed for provider"):
        charters.sign(db, c.id, p.mentor, "provider")  # a rightful signer, but a second signature
    with pytest.raises(ValueError, match="'notary' is not a valid Party"):
        charters.sign(db, c.id, p.ops, "notary")
    charters.sign(db, c.id, p.sme, "industry_partner")
    with pytest.raises(ChallengeError, match="already signed for industry_partner"):
        charters.sign(db, c.id, p.sme, "industry_partner")  # the same signer twice
    assert charters.sign(db, c.id, p.ops, "hub").status is CharterStatus.signed
    with pytest.raises(LookupError, match="no challenge 999 with a charter"):
        charters.sign(db, 999, p.ops, "hub")


def test_staff_added_later_signs_for_the_provider(db, people):
    p = people
    c = new_challenge(db, p, mentors=[], academic_assessors=[], industrial_assessors=[])
    with pytest.raises(PermissionError):
        charters.sign(db, c.id, p.stranger_assessor, "provider")
    charters.add_staff(db, c.id, p.stranger_assessor, "academic_assessor")
    assert charters.duties(db, c.id) == {p.stranger_assessor.id: Duty.academic_assessor}
    charters.sign(db, c.id, p.stranger_assessor, "provider")


def test_staff_duty_rules(db, people):
    p = people
    with pytest.raises(ChallengeError, match="a staff member has one duty per challenge"):
        new_challenge(db, p, academic_assessors=[p.academic], industrial_assessors=[p.academic])
    with pytest.raises(ChallengeError, match="one duty per challenge"):
        new_challenge(db, p, mentors=[p.mentor, p.mentor])
    c = new_challenge(db, p)
    with pytest.raises(ChallengeError, match=f"user {p.academic.email} lacks the role mentor needed for duty mentor"):
        charters.add_staff(db, c.id, p.academic, Duty.mentor)
    for duty in ("academic_assessor", "industrial_assessor"):
        with pytest.raises(ChallengeError, match=f"lacks the role assessor needed for duty {duty}"):
            charters.add_staff(db, c.id, p.stranger_mentor, duty)
    with pytest.raises(ValueError, match="'examiner' is not a valid Duty"):
        charters.add_staff(db, c.id, p.stranger_assessor, "examiner")
    with pytest.raises(LookupError, match="no challenge 999"):
        charters.add_staff(db, 999, p.stranger_mentor, "mentor")

    charters.add_staff(db, c.id, p.stranger_mentor, "mentor")
    charters.add_staff(db, c.id, p.academic, "industrial_assessor")  # replaces the earlier duty
    assert charters.duties(db, c.id) == {p.mentor.id: Duty.mentor, p.academic.id: Duty.industrial_assessor,
                                          p.industrial.id: Duty.industrial_assessor,
                                          p.stranger_mentor.id: Duty.mentor}
    # duties are per challenge: the same academic is an academic assessor of another one
    other = new_challenge(db, p, mentors=[], industrial_assessors=[])
    assert charters.duties(db, other.id) == {p.academic.id: Duty.academic_assessor}


def test_charter_edits_only_before_any_signature(db, people):
    p = people
    c = new_challenge(db, p)
    doc = charters.get_charter(db, c.id).document
    before = charters.get_charter(db, c.id).sha256
    edited = {**doc, "scope": {**doc["scope"], "goal": "Detect the spall within a minute of its onset."}}
    charter = charters.edit_charter(db, c.id, edited, p.mentor)
    assert charter.document["scope"]["goal"] == "Detect the spall within a minute of its onset."
    assert charter.sha256 == ledger.sha256_of(edited) != before
    assert ledger.entries(db, f"challenge:{c.id}")[-1]["payload"] == {"by": p.mentor.id, "sha256": charter.sha256}

    charters.sign(db, c.id, p.sme, "industry_partner")
    assert charters.get_charter(db, c.id).signatures[0].charter_sha256 == charter.sha256  # as edited
    with pytest.raises(ChallengeError, match=r"the charter is signed \(industry_partner\); a signed charter cannot change"):
        charters.edit_charter(db, c.id, doc, p.mentor)
    assert charters.get_charter(db, c.id).sha256 == charter.sha256


def test_charter_validation_names_the_field(db, people):
    p = people
    with pytest.raises(ChallengeError, match="a challenge needs a charter"):
        charters.create_challenge(db, "No charter", "vet-lab")
    with pytest.raises(ValueError, match=r"^charter: kpis: List should have at least 1 item"):
        new_challenge(db, p, charter={"kpis": []})
    assert teams.list_challenges(db) == []  # nothing half-created

    c = new_challenge(db, p)
    doc = charters.get_charter(db, c.id).document
    cases = [
        ({k: v for k, v in doc.items() if k != "safety"}, r"safety: Field required"),
        ({**doc, "acceptance": [{"metric": "accuracy", "op": "<=", "value": 1}]},
         r"acceptance\.0\.metric: Value error, unknown metric"),
        ({**doc, "acceptance": [{"metric": "f1", "op": "~", "value": 1}]}, r"acceptance\.0\.op: Input should be"),
        ({**doc, "data_sharing": {**doc["data_sharing"], "retention_days": 0}},
         r"data_sharing\.retention_days: Input should be greater than or equal to 1"),
        ({**doc, "timeline": list(reversed(doc["timeline"]))}, r"timeline: Value error, milestones must be in order"),
        ({**doc, "budget": 1000}, r"budget: Extra inputs are not permitted"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=r"^charter: .*" + message):
            charters.edit_charter(db, c.id, bad, p.mentor)
    # every wrong field is named at once
    with pytest.raises(ValueError, match=r"kpis: .*; .*ip: Field required"):
        charters.validate_charter({**{k: v for k, v in doc.items() if k != "ip"}, "kpis": []})
    assert charters.get_charter(db, c.id).document == doc
    assert charters.validate_charter(load_pack(PACK).charter.model_dump(mode="json"))["acceptance"]


def test_close_refused_while_a_session_runs(db, people):
    p = people
    c = active_challenge(db, p)
    session = sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    with pytest.raises(ChallengeError, match=f"session {session.id} of this challenge still runs; close it first"):
        charters.close(db, c.id, p.mentor)
    assert charters.get_charter(db, c.id).status is CharterStatus.active
    sessions.close_session(db, session, recorded_telemetry(session), p.mentor, wall_ns=T0 + 60 * S)
    assert charters.close(db, c.id, p.mentor).status is CharterStatus.closed
