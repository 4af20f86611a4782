"""The learning domain's test helpers: the cast's password, the pack, the scenario clock, challenge and session builders.

Used by the service-level tests of this folder (charters, assessment, service
levels, ledger) with the fixtures of ``tests/learning/conftest.py``.
"""

from __future__ import annotations

import json

from cloud.challenges import charters, sessions
from cloud.challenges.models import Challenge, LabSession
from cloud.telemetry.factory import open_store
from contract.payloads import parse_message

PW = "a-long-test-passphrase"
PACK = "outer-race-early"
PARTIES = {"industry_partner": "Acme Pumps", "provider": "VET college", "hub": "Regional hub", "mentor": "M. Entor"}
S = 10**9
#: Scenario t = 0 of the sessions these tests start (2027-01-15, on the epoch clock).
T0 = 1_800_000_000 * S


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

    It runs the pack's public script (not a drawn variant), so its timings are
    known: the session's edge raised alerts at ``alerts_s`` (scenario seconds): by
    default one 10 s after the spall's onset at 240 s, which meets the pack's
    acceptance criteria.
    """
    session = sessions.start_session(db, challenge_id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    store = recorded_telemetry(session, alerts=[(T0 + int(t * S), session.edge) for t in alerts_s])
    return sessions.close_session(db, session, store, p.mentor, wall_ns=T0 + int(close_s * S))
