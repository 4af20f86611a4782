"""``teachfab lab up`` end to end, as a user runs it: a session, its signed-off outcome, issued credentials.

The command runs the pack's session at 20x for 40 s (the starter pipeline
detects the fault; the demo assessors pass it), issues the learners'
credentials and saves them with the issuer's documents, then keeps its hub
serving (``--stay``). Digital Bazaar's verifier accepts the saved files
offline. The operator revokes one on the still-running hub: the verifier,
given the hub's updated status list, and the hub's public verifier both
report it revoked; the other stays valid.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.credentials.conftest import VERIFIER, NodeVerifier
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


def test_lab_up_issues_credentials_a_standard_verifier_accepts_and_sees_revoked(tmp_path):
    creds_dir = tmp_path / "credentials"
    cmd = [sys.executable, "-m", "teachfab.cli", "lab", "up", "outer-race-early", "--speed", "20", "--duration", "40",
           "--stay", "300", "--json", "--http-port", str(free_port()), "--credentials-dir", str(creds_dir),
           "--handover-dir", str(tmp_path / "handover")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(s) for s in proc.stderr], daemon=True).start()
    said = ""
    try:
        deadline = time.monotonic() + 300
        while "the hub keeps serving" not in said:
            assert proc.poll() is None and time.monotonic() < deadline, f"lab up ended or stalled:\n{said[-4000:]}"
            try:
                said += lines.get(timeout=0.5)
            except queue.Empty:
                pass
        hub = re.search(r"learner page\s+(http://\S+?)/session\?id=\d+", said).group(1)
        email, password = re.search(r"^\s+operator\s+(\S+@\S+)\s+(\S+)$", said, re.M).groups()
        files = sorted(str(p) for p in creds_dir.glob("credential-*.json"))
        assert len(files) == 2, said[-3000:]  # one per learner of the team

        offline = subprocess.run(["node", str(VERIFIER / "verify.mjs"), str(creds_dir / "documents.json"), *files],
                                 cwd=VERIFIER, capture_output=True, text=True, timeout=120)
        answers = [json.loads(line) for line in offline.stdout.splitlines()]
        assert len(answers) == 2 and all(a["verified"] for a in answers), offline.stdout + offline.stderr
        assert all({s["set"] for s in a["status"]} == {False} for a in answers), answers

        revoked, kept = (json.loads(Path(f).read_text()) for f in files)
        with httpx.Client(base_url=hub, timeout=60) as api:
            r = api.post("/api/auth/token", data={"username": email, "password": password})
            ops = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = api.post(f"/api/credentials/{revoked['id'].removeprefix('urn:uuid:')}/status", headers=ops,
                         json={"action": "revoke", "reason": "found copied from another team"})
            assert r.status_code == 200, r.text
            documents = json.loads((creds_dir / "documents.json").read_text())
            for url in list(documents):
                if "/api/credentials/status/" in url:  # the status lists as the hub serves them now
                    documents[url] = api.get(url.replace(url.split("/api/")[0], "")).json()
            public = {c["id"]: api.post("/api/credentials/verify", json=c).json() for c in (revoked, kept)}
        node = NodeVerifier()
        try:
            theirs = {c["id"]: node.verify(c, documents) for c in (revoked, kept)}
        finally:
            node.close()

        def revocation(status: list[dict]) -> bool:
            [entry] = [s for s in status if s["purpose"] == "revocation"]
            return entry["set"]

        assert revocation(theirs[revoked["id"]]["status"]) is True
        assert revocation(theirs[kept["id"]]["status"]) is False and theirs[kept["id"]]["verified"]
        assert public[revoked["id"]]["verified"] is False
        assert "the credential is revoked" in public[revoked["id"]]["errors"], public[revoked["id"]]
        assert revocation(public[revoked["id"]]["status"]) is True
        assert public[kept["id"]]["verified"] is True, public[kept["id"]]["errors"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # ends the stay; lab up prints its JSON and exits
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
