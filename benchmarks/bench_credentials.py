"""Issue and sign, then verify, 1 000 Open Badges 3.0 credentials: our code against Digital Bazaar's JS stack.

Both sides get the same 1 000 unsigned credentials (the hub's builder, distinct ids and learners, status
entries, the 2-credit pack's ESCO alignments) and the same key. Ours: :func:`cloud.credentials.dataintegrity.sign`
(with the pre-signing checks) and :func:`~cloud.credentials.dataintegrity.verify_proof`. Theirs:
``@digitalbazaar/vc`` ``issue`` and ``verifyCredential`` with the eddsa-rdfc-2022 cryptosuite, in one Node
process started once (``tests/credentials/verifier/bench.mjs``; ``npm ci`` there first). Each side also verifies
the other's proofs, so the figures compare like with like. Goal: ours within 2x of theirs.

Usage::

    .venv/bin/python benchmarks/bench_credentials.py [N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from cloud.credentials import dataintegrity as di  # noqa: E402
from cloud.credentials import keys, openbadges, statuslist  # noqa: E402
from cloud.credentials.service import CredentialService, IssuerConfig  # noqa: E402
from cloud.database import make_engine, make_sessionmaker, upgrade_database  # noqa: E402
from labs.packs import load_pack  # noqa: E402

VERIFIER = ROOT / "tests" / "credentials" / "verifier"


def credentials(n: int, svc: CredentialService) -> list[dict]:
    """``n`` unsigned credentials as the hub builds them."""
    pack = load_pack("outer-race-early").meta
    cred = pack.credentials[0].model_dump(mode="json")
    outcome = {"session": 1, "pack": pack.id, "pack_title": pack.title, "criteria": [{"name": "detection"}],
               "result": "pass", "weighted_level": 3.0, "pass_level": 2.5, "signed_off_at": "2026-01-20T10:00:00Z",
               "evidence": [{"id": 1, "asset": "pump-1", "sha256": "ab" * 32, "ledger_hash": "cd" * 32}],
               "workload": pack.workload.model_dump(mode="json"), "eqf_level": pack.eqf_level}
    url = svc.public_url
    return [openbadges.build(
        credential_id=f"urn:uuid:00000000-0000-4000-8000-{i:012d}", issuer=svc.issuer(),
        learner={"id": i, "email": f"learner{i}@x.org", "subject_id": f"{svc.issuer_id}/learners/{i}"},
        credential=cred, outcome=outcome, outcome_sha256="ef" * 32, public_url=url, issued_at="2026-01-20T10:00:00Z",
        salt=f"{i:08x}", status=[statuslist.entry(url, "revocation-1", "revocation", i),
                                 statuslist.entry(url, "suspension-1", "suspension", i)]) for i in range(n)]


def main(n: int = 1000) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    svc = CredentialService(IssuerConfig("https://hub.example", country="SI"), key)
    engine = make_engine("sqlite://")
    upgrade_database(engine)
    with make_sessionmaker(engine)() as db:
        svc.signer(db)
        controller = svc.controller(db)
    method = controller["verificationMethod"][0]["id"]
    documents = {controller["id"]: controller, method: keys.method_document(controller, method)}
    unsigned = credentials(n, svc)
    di.canonize(unsigned[0])  # contexts parsed once, as in a running hub

    t0 = time.perf_counter()
    ours = [di.sign(c, key, method, created="2026-01-20T10:00:00Z") for c in unsigned]
    sign_ms = (time.perf_counter() - t0) * 1000 / n
    t0 = time.perf_counter()
    ok = sum(di.verify_proof(c, key.public_key()) for c in ours)
    verify_ms = (time.perf_counter() - t0) * 1000 / n

    payload = {"unsigned": unsigned, "signed": ours, "documents": documents,
               "key": {"id": method, "controller": controller["id"],
                       "publicKeyMultibase": di.public_multikey(key.public_key()),
                       "secretKeyMultibase": di.secret_multikey(key)}}
    proc = subprocess.run(["node", str(VERIFIER / "bench.mjs")], cwd=VERIFIER, input=json.dumps(payload),
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bench.mjs failed (npm ci in {VERIFIER}?):\n{proc.stderr[-2000:]}")
    theirs = json.loads(proc.stdout)
    if theirs.get("first_error"):
        print("Digital Bazaar refused one of ours:", theirs["first_error"])
    theirs_ok = sum(di.verify_proof(c, key.public_key()) for c in theirs["issued"])

    print(f"{n} credentials (OpenBadgeCredential, eddsa-rdfc-2022), ms per credential:")
    print(f"  {'':<28}{'ours (PyLD)':>14}{'Digital Bazaar':>16}{'ratio':>8}")
    print(f"  {'issue + sign':<28}{sign_ms:>14.2f}{theirs['sign_ms']:>16.2f}{sign_ms / theirs['sign_ms']:>8.2f}")
    print(f"  {'verify proof':<28}{verify_ms:>14.2f}{theirs['verify_ms']:>16.2f}"
          f"{verify_ms / theirs['verify_ms']:>8.2f}")
    print(f"  ours verified {ok}/{n} of ours; theirs verified {theirs['verified']}/{n} of ours; "
          f"ours verified {theirs_ok}/{len(theirs['issued'])} of theirs (sampled); goal: ratios <= 2")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
