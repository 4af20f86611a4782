"""Challenges and charters at the service level: lifecycle draft → signed → active → closed, who
signs for which party, staff duties, charter validation and the ledger entries, on SQLite and PostgreSQL.

Like :mod:`tests.test_domain`, every test runs on SQLite and on the real
PostgreSQL at 127.0.0.1:5432 (its throw-away ``pg_database``). To stay fast,
the migrations run once per module and backend; each test then gets an empty
copy (SQLite: a copy of the migrated file; PostgreSQL: every row deleted,
schema and write-once triggers kept). The fixtures, the cast of people and
the session helpers below are shared with ``test_assessment``, ``test_sla``
and ``test_ledger``.
"""

from __future__ import annotations

import functools
import shutil
from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, text

from cloud.accounts.security import hash_password
from cloud.accounts.service import create_user
from cloud.challenges import charters, ledger, sessions, teams
from cloud.challenges.charters import ChallengeError
from cloud.challenges.models import Challenge, CharterStatus, Duty, LabSession
from cloud.database import alembic_config, make_engine, make_sessionmaker, upgrade_database
from cloud.sites import service as reg
from labs.packs import load_pack
from tests.test_domain import pg_database  # noqa: F401 - fixture

PW = "a-long-test-passphrase"
PACK = "outer-race-early"
PARTIES = {"industry_partner": "Acme Pumps", "provider": "VET college", "hub": "Regional hub", "mentor": "M. Entor"}
S = 10**9
#: Scenario t = 0 of the sessions these tests start (2027-01-15, on the epoch clock).
T0 = 1_800_000_000 * S


# ------------------------------------------------------------------ databases, cast and helpers
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated(request, tmp_path_factory):
    """URL of a database migrated to head, once per module and backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('domain') / 'template.sqlite'}"
        upgrade_database(url)
        yield url
        return
    url = request.getfixturevalue("pg_database")
    upgrade_database(url)
    yield url
    from alembic import command

    engine = make_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    engine.dispose()


@pytest.fixture
def db(migrated, tmp_path):
    """A session on an empty, migrated database of the module's backend."""
    url = migrated
    if url.startswith("sqlite"):
        copy = tmp_path / "domain.sqlite"
        shutil.copyfile(url.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        with engine.begin() as conn:  # replica role: the write-once triggers stay, but do not fire here
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


@functools.cache
def _password_hash() -> str:
    return hash_password(PW)


#: The service modules load the (unchanging) pack files on every call; once per test run is enough here.
_load_pack_once = functools.cache(load_pack)


@pytest.fixture
def people(db, monkeypatch):
    """Sites ``vet-lab`` (the challenges') and ``acme-plant``, everyone who takes part, and Team Ana.

    One real argon2id hash serves every account: hashing costs ~0.3 s a user
    and passwords are not what these tests are about. Packs load once.
    """
    monkeypatch.setattr("cloud.accounts.service.hash_password", lambda _pw: _password_hash())
    monkeypatch.setattr("labs.packs.load_pack", _load_pack_once)
    reg.create_site(db, "vet-lab", "VET college lab", "lab")
    reg.create_site(db, "acme-plant", "Acme plant", "sme")

    def user(email, roles, sites=()):
        return create_user(db, email, PW, roles, sites=sites)

    p = SimpleNamespace(
        ops=user("ops@hub.example", ["hub_operator"]),
        sme=user("partner@vet.example", ["sme_partner"], ["vet-lab"]),
        other_sme=user("partner@acme.example", ["sme_partner"], ["acme-plant"]),
        mentor=user("mentor@vet.example", ["mentor"]),
        academic=user("academic@vet.example", ["assessor"]),
        industrial=user("industrial@acme.example", ["assessor"]),
        stranger_mentor=user("mentor@elsewhere.example", ["mentor"]),
        stranger_assessor=user("assessor@elsewhere.example", ["assessor"]),
        ana=user("ana@learner.example", ["learner"]),
        ben=user("ben@learner.example", ["learner"]),
    )
    p.team = teams.create_team(db, "Team Ana", [p.ana])
    return p


def new_challenge(db, p, **kw) -> Challenge:
    """A draft challenge of :data:`PACK` at ``vet-lab`` for Team Ana, staffed by mentor, academic and industrial."""
    args = dict(pack_id=PACK, parties=PARTIES, teams=[p.team], mentors=[p.mentor],
                academic_assessors=[p.academic], industrial_assessors=[p.industrial])
    return charters.create_challenge(db, "Pump 1: early outer-race detection", "vet-lab", **{**args, **kw})


def sign_all(db, p, challenge_id: int):
    """Each party signs with its rightful signer; returns the charter."""
    for user, party in ((p.sme, "industry_partner"), (p.mentor, "provider"), (p.ops, "hub")):
        charter = charters.sign(db, challenge_id, user, party)
    return charter


def active_challenge(db, p) -> Challenge:
    """A challenge co-signed by every party and activated."""
    challenge = new_challenge(db, p)
    sign_all(db, p, challenge.id)
    charters.activate(db, challenge.id, p.mentor)
    return challenge


def recorded_telemetry(session: LabSession, alerts=(), drift=(), accepted=(), asset: str = "pump-1"):
    """A real (in-memory SQLite) telemetry store holding what edges published about ``asset`` of the session.

    ``alerts`` and ``drift`` are ``(ts_ns, edge)`` pairs; ``accepted`` the
    bundle ids the session's edge accepted (its ``cmd_result`` answers).
    """
    import json

    from cloud.telemetry.factory import open_store
    from contract.payloads import parse_message

    store = open_store("sqlite://:memory:")
    seq = iter(range(1, 10_000))

    def put(edge: str, kind: str, body: dict, per_asset: bool = True) -> None:
        topic = f"tf/v1/{session.site}/{edge}/{asset}/{kind}" if per_asset else f"tf/v1/{session.site}/{edge}/{kind}"
        store.write(parse_message(topic, json.dumps({"v": 1, "edge": edge, "boot": "b1", "seq": next(seq),
                                                     **body}).encode()))

    for ts, edge in alerts:
        put(edge, "alert", {"ts": ts, "score": 9.0, "threshold": 8.0, "message": "BPFO envelope up"})
    for ts, edge in drift:
        put(edge, "drift", {"ts": ts, "target": "rms", "detector": "adwin", "message": "rms drifted"})
    for bundle in accepted:
        put(session.edge, "cmd_result", {"ts": T0, "cmd": "deploy", "bundle_id": bundle, "status": "accepted"},
            per_asset=False)
    return store


def run_session(db, p, challenge_id: int, alerts_s=(250.0,), close_s: float = 330.0) -> LabSession:
    """Start a session of Team Ana at :data:`T0`, close it ``close_s`` scenario seconds later.

    The session's edge raised alerts at ``alerts_s`` (scenario seconds): by
    default one 10 s after the spall's onset at 240 s, which meets the pack's
    acceptance criteria.
    """
    session = sessions.start_session(db, challenge_id, p.team.id, p.mentor, start_ns=T0)
    store = recorded_telemetry(session, alerts=[(T0 + int(t * S), session.edge) for t in alerts_s])
    return sessions.close_session(db, session, store, p.mentor, wall_ns=T0 + int(close_s * S))


# ------------------------------------------------------------------ tests
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
        sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0)
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
        sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0)

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
    session = sessions.start_session(db, c.id, p.team.id, p.mentor, start_ns=T0)
    with pytest.raises(ChallengeError, match=f"session {session.id} of this challenge still runs; close it first"):
        charters.close(db, c.id, p.mentor)
    assert charters.get_charter(db, c.id).status is CharterStatus.active
    sessions.close_session(db, session, recorded_telemetry(session), p.mentor, wall_ns=T0 + 60 * S)
    assert charters.close(db, c.id, p.mentor).status is CharterStatus.closed
