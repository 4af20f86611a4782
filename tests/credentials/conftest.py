"""A real hub on a free port with a signed-off, passing lab session whose credentials were issued over HTTP,
and Digital Bazaar's verifier stack as one Node process (``verifier/verify.mjs``) for the module."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud.accounts.service import create_user, user_by_email
from cloud.challenges import assessment, sessions, teams
from cloud.credentials.dataintegrity import secret_multikey
from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from labs.packs import load_pack
from tests.learning.support import PW, S, T0, active_challenge, recorded_telemetry
from tests.servers import free_port
from tests.waiting import wait_until

VERIFIER = Path(__file__).parent / "verifier"
OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


class LiveHub:
    """``create_app`` under uvicorn in a thread (no MQTT ingest), reachable at :attr:`url`."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = HubSettings(db_path=str(tmp / "hub.sqlite"), public_url=self.url, http_port=self.port,
                                    credential_key_secret=secret_multikey(Ed25519PrivateKey.generate()),
                                    issuer_country="SI", issuer_locality="Ljubljana", issuer_name="VET college hub",
                                    issuer_email="credentials@vet.example", issuer_legal_id="SI12345678", **OPS)
        self.app = create_app(self.settings, ingest=False)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveHub":
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=30, what="the hub to start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def token(self, email: str, password: str = PW) -> str:
        r = httpx.post(f"{self.url}/api/auth/token", data={"username": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


def seed_passed_session(app) -> SimpleNamespace:
    """Sites, staff, Team Ana (two learners) and a session of the outer-race pack signed off as passed."""
    with app.state.sessions() as db:
        reg.create_site(db, "vet-lab", "VET college lab", "lab")
        u = {name: create_user(db, f"{name}@vet.example", PW, roles, sites=sites)
             for name, roles, sites in (("sme", ["sme_partner"], ["vet-lab"]), ("mentor", ["mentor"], []),
                                        ("academic", ["assessor"], []), ("industrial", ["assessor"], []),
                                        ("ana", ["learner"], []), ("ben", ["learner"], []))}
        ops = user_by_email(db, OPS["admin_email"])
        p = SimpleNamespace(ops=ops, **u)
        p.team = teams.create_team(db, "Team Ana", [p.ana, p.ben])
        challenge = active_challenge(db, p)
        s = sessions.start_session(db, challenge.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
        store = recorded_telemetry(s, alerts=[(T0 + int(250 * S), s.edge)])
        s = sessions.close_session(db, s, store, p.mentor, wall_ns=T0 + int(330 * S), hooks=app.state.hooks)
        criteria = [c.id for c in load_pack("outer-race-early").rubric.criteria]
        for assessor in (p.academic, p.industrial):
            assessment.submit_score(db, s.id, assessor, {c: 3 for c in criteria})
        outcome = assessment.sign_off(db, s.id, p.industrial, hooks=app.state.hooks)
        assert outcome.result == "pass"
        return SimpleNamespace(session=s.id, ana=p.ana.id, ben=p.ben.id)


class NodeVerifier:
    """``node verify.mjs``: one JSON line in (credential + documents), one answer out."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["node", str(VERIFIER / "verify.mjs")], cwd=VERIFIER, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def verify(self, credential: dict, documents: dict) -> dict:
        self.proc.stdin.write(json.dumps({"credential": credential, "documents": documents}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the Node verifier exited"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def node_verifier():
    if not (VERIFIER / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        pytest.fail("run `npm ci` in tests/credentials/verifier (./run.sh test does)")
    v = NodeVerifier()
    yield v
    v.close()


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory):
    with LiveHub(tmp_path_factory.mktemp("credhub")) as hub:
        hub.seeded = seed_passed_session(hub.app)
        ops = hub.token(OPS["admin_email"], OPS["admin_password"])
        r = httpx.post(f"{hub.url}/api/sessions/{hub.seeded.session}/credential-decision",
                       headers={"Authorization": f"Bearer {ops}"}, json={"decision": "issued"})
        assert r.status_code == 200, r.text
        hub.ops_token = ops
        yield hub
