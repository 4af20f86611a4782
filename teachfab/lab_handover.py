"""What ``teachfab lab up`` does at the end of a session: close the challenge and download its handover package.

Closing the challenge runs the hub's close hook, which builds the package
(:mod:`cloud.handover.service`). The SME partner of ``lab up`` then logs in
and downloads the archive over the hub's API, as a partner would, and the
archive is checked against the hub's ledger (``.../handover/check``) and
saved to the chosen folder.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from cloud.accounts.models import User
from cloud.challenges import charters


def close_challenge(sessions, hooks, challenge_id: int, mentor_id: int) -> None:
    """The mentor closes the challenge; the hooks build its handover package in the same transaction."""
    with sessions() as db:
        charters.close(db, challenge_id, db.get(User, mentor_id), hooks)


def _call(url: str, token: str | None = None, data: bytes | None = None) -> tuple[bytes, dict]:
    req = urllib.request.Request(url, data=data, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (the hub of lab up, on loopback)
        return resp.read(), dict(resp.headers)


def download(base_url: str, challenge_id: int, email: str, password: str, out_dir: Path) -> dict:
    """Log in as ``email`` and download the challenge's handover archive into ``out_dir``; check it.

    Returns the saved path, the archive's and manifest's SHA-256, the number
    of files and the hub's check (``ok`` and problems).
    """
    form = urllib.parse.urlencode({"username": email, "password": password}).encode()
    token = json.loads(_call(f"{base_url}api/auth/token", data=form)[0])["access_token"]
    data, headers = _call(f"{base_url}api/challenges/{challenge_id}/handover/archive", token)
    meta = json.loads(_call(f"{base_url}api/challenges/{challenge_id}/handover", token)[0])
    check = json.loads(_call(f"{base_url}api/challenges/{challenge_id}/handover/check", token)[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"teachfab-handover-challenge-{challenge_id}.zip"
    path.write_bytes(data)
    return {"path": str(path), "archive_sha256": headers.get("X-Archive-SHA256") or headers.get("x-archive-sha256"),
            "manifest_sha256": meta["manifest_sha256"], "files": len(meta["files"]), "bytes": len(data),
            "check": {"ok": check["ok"], "problems": check["problems"]}}


def report(result: dict) -> list[str]:
    """The lines ``lab up`` prints about the handover package."""
    return ["handover package (docs/handover.md), downloaded as the SME partner:",
            f"  {result['path']} ({result['bytes']} bytes, {result['files']} files + manifest)",
            f"  manifest SHA-256 {result['manifest_sha256']} (in the hub's ledger); check: "
            + ("ok" if result["check"]["ok"] else "; ".join(result["check"]["problems"]))]
