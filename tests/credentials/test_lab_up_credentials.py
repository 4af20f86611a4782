"""``teachfab lab up``'s credential step on a running hub: after a passing sign-off it records the decision
``issued`` as the operator and saves the credentials with the controller document and status lists, which the
Node verifier's file mode (the command lab up prints) accepts offline."""

from __future__ import annotations

import json
import subprocess

import pytest

from teachfab.lab_up import issue_and_save
from tests.credentials.conftest import OPS, VERIFIER, LiveHub, seed_passed_session

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_lab_up_issues_and_saves_verifiable_credentials(tmp_path):
    with LiveHub(tmp_path) as hub:
        seeded = seed_passed_session(hub.app)
        out = issue_and_save(hub.app, seeded.session, OPS["admin_email"], str(tmp_path / "creds"))
    assert {i["learner"] for i in out["issued"]} == {seeded.ana, seeded.ben}
    assert len(out["files"]) == len(out["issued"]) == 2
    proc = subprocess.run(["node", str(VERIFIER / "verify.mjs"), out["documents"], *out["files"]], cwd=VERIFIER,
                          capture_output=True, text=True, timeout=120)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["file"] for a in answers] == out["files"]
    assert all(a["verified"] and {s["set"] for s in a["status"]} == {False} for a in answers), answers
