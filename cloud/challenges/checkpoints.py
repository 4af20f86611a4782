"""Signed checkpoints of the ledger's head, kept outside the database.

The hash chain (:mod:`cloud.challenges.ledger`) shows that entries were
changed, removed or reordered — but not that its **newest** entries were
deleted (what remains still chains), nor a rewrite by someone who
recomputes every hash from the first changed entry on. Both need an anchor
an attacker holding only the database cannot rewrite.

A checkpoint is a bundle signed with the hub's Ed25519 key
(:mod:`contract.signing`) over ``{entries, head, last_id, created_ns}``.
The hub appends one line per checkpoint to a JSON-lines file in its state
directory (not in the database), periodically and on request
(``POST /api/ledger/checkpoints``), and serves the newest one with the
public key (``GET /api/ledger/checkpoints/latest``) so that an SME, a
school or an auditor can keep copies of their own.

:meth:`LedgerCheckpoints.check` compares every checkpoint on file with the
database: entry ``entries`` must still exist and carry hash ``head``. Fewer
entries than a checkpoint covers means entries were deleted; another hash
means history was rewritten. A checkpoint whose signature fails is
reported too (the file was edited).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from contract.signing import generate_keypair
>>> from cloud.challenges import ledger
>>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
>>> engine = make_engine("sqlite://"); upgrade_database(engine)
>>> key, _ = generate_keypair()
>>> book = LedgerCheckpoints(Path(tempfile.mkdtemp()) / "checkpoints.jsonl", key, "hub")
>>> with make_sessionmaker(engine)() as db:
...     _ = ledger.append(db, "deployment", "session:1", {"hash": "ab"}); db.commit()
...     book.write(db)["payload"]["entries"], book.check(db, ledger.chain_hashes(db))["ok"]
(1, True)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges import ledger
from cloud.challenges.models import LedgerEntry
from cloud.errors import Conflict
from contract.signing import BundleError, generate_keypair, load_private_key, save_private_key, sign_bundle, \
    verify_bundle

log = logging.getLogger(__name__)


class LedgerCheckpoints:
    """Write, read and check the signed checkpoints in ``path`` (one JSON bundle a line).

    Parameters
    ----------
    path : Path
        The JSON-lines file (created with its directory).
    private_key : Ed25519PrivateKey
        The hub key that signs them.
    key_id : str
        Its name in the bundles.
    """

    def __init__(self, path: Path, private_key: Ed25519PrivateKey, key_id: str) -> None:
        self.path, self.key, self.key_id = Path(path), private_key, key_id
        self._lock = threading.Lock()

    @classmethod
    def for_hub(cls, state_dir: Path, command_key: str | None, key_id: str) -> LedgerCheckpoints:
        """The checkpoints of a hub: signed with its command key, else with a ledger key of its own.

        The ledger key (``ledger-key.pem``, mode 0600) is made in ``state_dir``
        on first use when the hub has no command key.
        """
        state_dir.mkdir(parents=True, exist_ok=True)
        if command_key:
            return cls(state_dir / "ledger-checkpoints.jsonl", load_private_key(command_key), key_id)
        own = state_dir / "ledger-key.pem"
        if not own.exists():
            save_private_key(generate_keypair()[0], own)
        return cls(state_dir / "ledger-checkpoints.jsonl", load_private_key(own), "hub-ledger")

    def public_pem(self) -> str:
        """The public key that verifies the checkpoints (PEM)."""
        return self.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def write(self, db: Session, *, only_if_new: bool = False) -> dict | None:
        """Sign the current head and append it to the file; the bundle (``None``: nothing new, when asked).

        Refuses (:class:`~cloud.errors.Conflict`) to anchor a chain that does
        not verify, or one that disagrees with an earlier checkpoint.
        """
        with self._lock:
            hashes = ledger.chain_hashes(db)
            chain = ledger.verify_chain(db)
            if not chain["ok"]:
                raise Conflict(f"the ledger does not verify (entry {chain['broken_at']}); no checkpoint written")
            earlier = self.check(db, hashes)
            if not earlier["ok"]:
                raise Conflict(f"the ledger disagrees with its checkpoints ({earlier['problem']}); "
                               "no checkpoint written")
            latest = earlier["latest"]
            if only_if_new and latest is not None and latest["entries"] == len(hashes):
                return None
            last_id = db.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(1))
            doc = {"kind": "ledger_checkpoint", "entries": len(hashes), "head": chain["head"],
                   "last_id": last_id, "created_ns": time.time_ns()}
            bundle = sign_bundle(doc, self.key, self.key_id)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(bundle, separators=(",", ":")) + "\n")
                f.flush()
                os.fsync(f.fileno())
            return bundle

    def all(self) -> list[dict | str]:
        """Every line of the file: a bundle, or the text of a line that is not JSON."""
        if not self.path.exists():
            return []
        out: list[dict | str] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append(line)
        return out

    def latest(self) -> dict | None:
        """The newest checkpoint on file (a signed bundle), or ``None``."""
        rows = [r for r in self.all() if isinstance(r, dict)]
        return rows[-1] if rows else None

    def check(self, db: Session, hashes: list[str] | None = None) -> dict:
        """Compare every checkpoint with the database.

        Returns ``{"ok", "checked", "latest", "problem"}``: ``latest`` is the
        newest valid checkpoint's payload, ``problem`` the first thing wrong
        (a checkpoint that fails its signature, entries deleted, history
        rewritten), ``None`` when all hold.
        """
        hashes = ledger.chain_hashes(db) if hashes is None else hashes
        keys = {self.key_id: self.key.public_key()}
        checked, latest = 0, None
        for n, row in enumerate(self.all(), start=1):
            try:
                if not isinstance(row, dict):
                    raise BundleError("not JSON")
                doc = verify_bundle(row, keys, now_ns=0)
            except BundleError as exc:
                return {"ok": False, "checked": checked, "latest": latest,
                        "problem": f"checkpoint {n} in {self.path} is not signed by the hub key: {exc.reason}"}
            checked += 1
            latest = doc
            entries, head = doc.get("entries"), doc.get("head")
            if not isinstance(entries, int) or entries < 0:
                return {"ok": False, "checked": checked, "latest": latest, "problem": f"checkpoint {n} is malformed"}
            if entries > len(hashes):
                return {"ok": False, "checked": checked, "latest": latest,
                        "problem": f"entries deleted: checkpoint {n} covers {entries} entries, "
                                   f"the database holds {len(hashes)}"}
            if entries and hashes[entries - 1] != head:
                return {"ok": False, "checked": checked, "latest": latest,
                        "problem": f"history rewritten: entry {entries} has hash {hashes[entries - 1]}, "
                                   f"checkpoint {n} signed {head}"}
        return {"ok": True, "checked": checked, "latest": latest, "problem": None}
