"""The handover package built when a challenge closes (SQLite and PostgreSQL): its files, the manifest's
hashes, the ledger entry that seals it (verified, and a changed value detected), the dataset validated
with frictionless, and de-identification when the charter asks for it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select, text

from cloud.challenges import charters, ledger, sessions
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.models import Charter
from cloud.handover import service as handover
from cloud.handover.dataset import validate_package
from cloud.handover.models import HandoverPackage
from contract.payloads import parse_message
from tests.learning.support import PARTIES, S, T0, new_challenge, recorded_telemetry, sign_all

WAVE = [0.1, -0.2, 0.3, -0.1]


def _write(store, site: str, edge: str, asset: str, kind: str, body: dict, seq: int) -> None:
    store.write(parse_message(f"tf/v1/{site}/{edge}/{asset}/{kind}",
                              json.dumps({"v": 1, "edge": edge, "boot": "b2", "seq": seq, **body}).encode()))


def _closed_challenge(db, p, **charter_kw):
    """A challenge whose one session saw features, an alert, a drift event and a waveform, then closed."""
    challenge = new_challenge(db, p, **charter_kw)
    sign_all(db, p, challenge.id)
    charters.activate(db, challenge.id, p.mentor)
    session = sessions.start_session(db, challenge.id, p.team.id, p.mentor, start_ns=T0, public_script=True)
    store = recorded_telemetry(session, alerts=[(T0 + 250 * S, session.edge)], drift=[(T0 + 260 * S, session.edge)])
    for i in range(5):
        _write(store, session.site, session.edge, "pump-1", "features",
               {"records": [{"ts": T0 + (10 + i) * S, "features": {"rms": 0.1 * i, "kurtosis": 3.0}, "score": 1.5}]},
               100 + i)
    _write(store, session.site, session.edge, "pump-1", "features",  # after the close: not in the dataset
           {"records": [{"ts": T0 + 900 * S, "features": {"rms": 9.9}}]}, 200)
    _write(store, session.site, session.edge, "pump-1", "waveform",
           {"ts": T0 + 30 * S, "channel": "vibration_de", "rate": 1000.0, "units": "g", "values": WAVE}, 300)
    sessions.close_session(db, session, store, p.mentor, wall_ns=T0 + 330 * S)
    hooks = LearningHooks(on_close=[handover.on_close(store)])
    charters.close(db, challenge.id, p.mentor, hooks)
    return challenge, session, store


def _archive(row: HandoverPackage) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(row.archive)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _tamper(db, sql: str, **params) -> None:
    engine = db.get_bind()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_no_update"))
        conn.execute(text(sql), params)


def test_closing_builds_the_package_with_every_part_and_a_ledgered_manifest(db, people, tmp_path):
    challenge, session, _ = _closed_challenge(db, people)
    row = handover.latest(db, challenge.id)
    files = _archive(row)
    names = set(files)
    assert {"summary.md", "charter.json", "assessment.json", "tests.json", "guide.md", "manifest.json",
            "data/datapackage.json", "data/alerts.csv", "data/drift.csv", "data/features-pump-1.csv",
            "data/waveform-pump-1-vibration_de.csv", f"evidence/session-{session.id}-pump-1.json"} <= names
    assert any(n.startswith(f"pipelines/session-{session.id}-pump-1-") for n in names)
    # the co-signed charter, as signed
    charter = json.loads(files["charter.json"])
    assert charter["sha256"] == db.get(Charter, challenge.id).sha256 == ledger.sha256_of(charter["document"])
    assert {s["party"] for s in charter["signatures"]} == {"industry_partner", "provider", "hub"}
    # evidence with the hashes the ledger holds, and its acceptance test results
    ev = json.loads(files[f"evidence/session-{session.id}-pump-1.json"])
    assert ev["sha256"] == ledger.sha256_of(ev["document"]) == session.evidence[0].sha256
    tests = json.loads(files["tests.json"])
    assert tests["results"][0]["final"]["met"] is True and tests["all_met"] is True
    assert "## pump-1: pipeline" in files["guide.md"].decode()
    assert "acceptance met on 1 of 1" in files["summary.md"].decode()
    # the manifest: every other file with its SHA-256, and its own hash sealed in the ledger
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["files"]) == names - {"manifest.json"}
    import hashlib
    for name, meta in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == meta["sha256"], name
    [entry] = [e for e in ledger.entries(db, f"challenge:{challenge.id}") if e["kind"] == "handover"]
    assert entry["payload"]["manifest_sha256"] == ledger.sha256_of(manifest) == row.manifest_sha256
    assert handover.check(db, challenge.id)["ok"] is True
    # the dataset: only the session's range, units in the schemas, the charter's licence, valid for frictionless
    feats = files["data/features-pump-1.csv"].decode().splitlines()
    assert feats[0] == "ts_ns,time,kurtosis,learning,rms,score" and len(feats) == 6
    package = json.loads(files["data/datapackage.json"])
    units = {f["name"]: f.get("unit") for r in package["resources"] if r["name"] == "features-pump-1"
             for f in r["schema"]["fields"]}
    assert units["rms"] == "g" and units["kurtosis"] == "1" and units["ts_ns"] == "ns"
    assert package["licenses"][0]["name"] == "proprietary"  # the pack's charter names no open licence
    wave = files["data/waveform-pump-1-vibration_de.csv"].decode().splitlines()
    assert [float(line.split(",")[-1]) for line in wave[1:]] == WAVE
    for name, data in files.items():
        if name.startswith("data/"):
            (tmp_path / name[5:]).write_bytes(data)
    assert validate_package(tmp_path) == {"valid": True, "errors": [], "tasks": len(package["resources"])}


def test_a_changed_file_or_ledger_value_is_detected(db, people):
    challenge, _, _ = _closed_challenge(db, people)
    row = handover.latest(db, challenge.id)
    files = _archive(row)
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data.replace(b'"met": true', b'"met": false') if name == "tests.json" else data)
    report = handover.check_archive(db, forged.getvalue())
    assert not report["ok"] and report["problems"] == ["tests.json: SHA-256 differs from the manifest"]
    # a forged manifest that matches the forged file is in no ledger entry
    manifest = json.loads(files["manifest.json"])
    import hashlib
    new_tests = files["tests.json"].replace(b'"met": true', b'"met": false')
    manifest["files"]["tests.json"]["sha256"] = hashlib.sha256(new_tests).hexdigest()
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, new_tests if name == "tests.json" else
                        json.dumps(manifest).encode() if name == "manifest.json" else data)
    report = handover.check_archive(db, forged.getvalue())
    assert not report["ok"] and report["ledger_entry"] is None
    # changing the ledger entry's recorded hash breaks the chain there
    entry_id = db.scalar(text("SELECT id FROM ledger WHERE kind = 'handover'"))
    _tamper(db, "UPDATE ledger SET payload = :p WHERE id = :id", p='{"manifest_sha256":"' + "0" * 64 + '"}',
            id=entry_id)
    db.expire_all()
    assert ledger.verify_chain(db)["broken_at"] == entry_id
    report = handover.check(db, challenge.id)
    assert not report["ok"] and not report["chain_ok"]


def test_deidentified_when_the_charter_says_so(db, people):
    doc_kw = {"charter": {"data_sharing": {
        "owner": "Acme Pumps", "learners_may": ["analyse the session's data"], "retention_days": 90,
        "dataset_licence": "CC-BY-4.0", "deidentify_handover": True}}}
    challenge, session, _ = _closed_challenge(db, people, **doc_kw)
    row = handover.latest(db, challenge.id)
    assert row.deidentified
    files = _archive(row)
    blob = b"\n".join([n.encode() for n in files] + list(files.values())).decode()
    for name in ("pump-1", session.site, session.edge, "vet-lab", "ana@learner.example", "mentor@vet.example",
                 PARTIES["industry_partner"], PARTIES["mentor"]):
        assert name not in blob, name
    assert "data/features-asset-1.csv" in files and "asset-1" in files["guide.md"].decode()
    package = json.loads(files["data/datapackage.json"])
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert handover.check(db, challenge.id)["ok"]


def test_refused_before_the_close_and_charter_terms_validated(db, people):
    challenge = new_challenge(db, people)
    with pytest.raises(handover.HandoverError, match="a handover is built when it closes"):
        handover.build(db, None, challenge.id)
    with pytest.raises(charters.Invalid, match="dataset_licence"):
        charters.validate_charter({**db.get(Charter, challenge.id).document,
                                   "data_sharing": {"owner": "x", "learners_may": ["y"], "dataset_licence": "WTFPL"}})
    assert db.scalar(select(HandoverPackage.id)) is None
