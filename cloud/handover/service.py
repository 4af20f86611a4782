"""Build, find and check a challenge's handover package (docs/handover.md).

When a challenge closes, :func:`build` assembles one ZIP archive:

==========================  ====================================================================
file                         what
==========================  ====================================================================
``summary.md``               a short summary: the challenge, sessions, acceptance, outcomes
``charter.json``             the co-signed charter, its SHA-256 and the signatures
``pipelines/*.json``         every pipeline deployed, with its lineage and ledger hash
``evidence/*.json``          the evidence documents with their SHA-256 and ledger hashes
``assessment.json``          scores, moderation and the signed-off outcome of each session
``tests.json``               the acceptance tests of each asset's final pipeline and of the whole session
``guide.md``                 the user guide of the final pipelines (:mod:`cloud.handover.guide`)
``data/``                    the dataset: a Frictionless Data Package (:mod:`cloud.handover.dataset`)
``manifest.json``            SHA-256 of every other file; its own hash is in the ledger
==========================  ====================================================================

Where the charter's data-sharing terms say ``deidentify_handover``, site,
asset, edge and people's names are replaced everywhere in the archive by
stable pseudonyms (``site-1``, ``asset-1``, ``edge-1``, ``person-1``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.models import User
from cloud.challenges import assessment, ledger
from cloud.challenges.charters import get_charter
from cloud.challenges.models import Charter, CharterStatus, LabSession, SessionStatus
from cloud.database import iso_utc
from cloud.errors import Conflict, NotFound
from cloud.handover import dataset, guide
from cloud.handover.models import HandoverPackage
from cloud.sites.models import Asset, Sensor, Site

#: Waveform snapshots per asset put into the dataset (the newest of the challenge's sessions).
SNAPSHOTS_PER_ASSET = 20
#: Feature windows per asset and session read from the telemetry store.
WINDOWS_PER_SESSION = 200_000
#: Events (alerts, drift) per asset read from the telemetry store.
EVENTS_PER_ASSET = 100_000
MANIFEST = "manifest.json"


class HandoverError(Conflict):
    """A handover that cannot be built now (the challenge is not closed); the message says why."""


class Pseudonyms:
    """Stable replacements for identifying names, applied to every text of a de-identified package.

    Examples
    --------
    >>> p = Pseudonyms()
    >>> p.add("site", "acme-plant"); p.add("asset", "pump-1"); p.add("person", "ann@acme.example")
    >>> p.scrub("pump-1 at acme-plant, by ann@acme.example; pump-10 stays")
    'asset-1 at site-1, by person-1; pump-10 stays'
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._pattern: re.Pattern | None = None

    def add(self, kind: str, name: str | None) -> None:
        """Give ``name`` (if new and not empty) the next pseudonym of ``kind``."""
        if not name or name in self.names:
            return
        self._counts[kind] = self._counts.get(kind, 0) + 1
        self.names[name] = f"{kind}-{self._counts[kind]}"
        self._pattern = None

    def scrub(self, text: str) -> str:
        """``text`` with every known name (as a whole word) replaced."""
        if not self.names:
            return text
        if self._pattern is None:
            alts = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![\w.@])(?:{alts})(?![\w@])")
        return self._pattern.sub(lambda m: self.names[m.group(0)], text)


def _json(doc) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sessions(db: Session, challenge_id: int) -> list[LabSession]:
    return list(db.scalars(select(LabSession).where(LabSession.challenge_id == challenge_id,
                                                    LabSession.status == SessionStatus.closed)
                           .order_by(LabSession.id)))


def _channel_units(db: Session, site: str, asset: str, channel: str | None, waveforms: list[dict]) -> str:
    row = db.scalar(select(Sensor.units).join(Asset, Asset.id == Sensor.asset_id).join(Site, Site.id == Asset.site_id)
                    .where(Site.slug == site, Asset.name == asset, Sensor.channel == (channel or "")))
    if row:
        return row
    same = [w["units"] for w in waveforms if w["channel"] == channel and w.get("units")]
    return same[0] if same else ""


def _tables(db: Session, store, sessions: list[LabSession]) -> dataset.DatasetTables:
    """The telemetry of every closed session of the challenge, cut to each session's time range."""
    site = sessions[0].site if sessions else ""
    tables = dataset.DatasetTables(site=site)
    for s in sessions:
        lo, hi = s.start_ns, s.end_ns or s.start_ns
        for asset in s.assets:
            windows = [w for w in store.telemetry(s.site, asset, since_ns=lo - 1, limit=WINDOWS_PER_SESSION)
                       if w["ts"] < hi]
            tables.windows.setdefault(asset, []).extend(windows)
            tables.alerts += [a for a in store.alerts(s.site, asset, limit=EVENTS_PER_ASSET) if lo <= a["ts"] < hi]
            tables.drift += [d for d in store.drift(s.site, asset, limit=EVENTS_PER_ASSET) if lo <= d["ts"] < hi]
            snaps = [w for w in store.waveforms(s.site, asset, limit=SNAPSHOTS_PER_ASSET) if lo <= w["ts"] < hi]
            tables.waveforms += snaps
            channel = next((d.pipeline.get("channel") for d in reversed(s.deployments) if d.asset == asset), None)
            tables.units.setdefault(asset, _channel_units(db, s.site, asset, channel, snaps))
    tables.alerts.sort(key=lambda a: a["ts"])
    tables.drift.sort(key=lambda d: d["ts"])
    return tables


def _pseudonyms(db: Session, charter: Charter, sessions: list[LabSession]) -> Pseudonyms:
    p = Pseudonyms()
    challenge = charter.challenge
    p.add("site", challenge.site.slug)
    p.add("site", challenge.site.name)
    for a in challenge.assets:
        p.add("asset", a.name)
    for s in sessions:
        p.add("site", s.site)
        for a in s.assets:
            p.add("asset", a)
        p.add("edge", s.edge)
    for a in charter.document.get("scope", {}).get("assets", []):
        p.add("asset", a)
    for party in (charter.document.get("parties") or {}).values():
        p.add("party", party if isinstance(party, str) else None)
    ids = {sig.user_id for sig in charter.signatures} | {u.id for u in challenge.staff}
    ids |= {m.id for t in challenge.teams for m in t.members}
    for u in db.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)):
        p.add("person", u.email)
        p.add("person", u.display_name)
    return p


def _files(db: Session, store, charter: Charter, sessions: list[LabSession], deid: bool) -> dict[str, bytes]:
    """Every file of the archive but the manifest and the dataset, by path."""
    challenge = charter.challenge
    emails = {u.id: u.email for u in db.scalars(select(User))}
    files: dict[str, bytes] = {}
    files["charter.json"] = _json({
        "challenge": {"id": challenge.id, "name": challenge.name, "site": challenge.site.slug},
        "status": charter.status.value, "sha256": charter.sha256, "document": charter.document,
        "rubric": charter.rubric, "activated_at": iso_utc(charter.activated_at),
        "closed_at": iso_utc(charter.closed_at),
        "signatures": [{"party": s.party.value, "signer": emails.get(s.user_id), "charter_sha256": s.charter_sha256,
                        "signed_at": iso_utc(s.signed_at)} for s in charter.signatures],
        "de_identified": deid})
    assessments, tests, sections = [], [], []
    for s in sessions:
        lineage = {}
        for d in s.deployments:
            path = f"pipelines/session-{s.id}-{d.asset}-{d.config_hash}-{d.id}.json"
            files[path] = _json({"session": s.id, "asset": d.asset, "name": d.name, "config_hash": d.config_hash,
                                 "parent_hash": d.parent_hash, "deployed_by": emails.get(d.user_id),
                                 "deployed_at": iso_utc(d.created_at), "active_ns": d.active_ns,
                                 "bundle_id": d.bundle_id, "ledger_hash": d.ledger_hash, "pipeline": d.pipeline})
            lineage.setdefault(d.asset, []).append((d, path))
        for e in s.evidence:
            files[f"evidence/session-{s.id}-{e.asset}.json"] = _json(
                {"session": s.id, "asset": e.asset, "sha256": e.sha256, "ledger_hash": e.ledger_hash,
                 "computed_at": iso_utc(e.computed_at), "document": e.document})
            final = e.document.get("final")
            tests.append({"session": s.id, "asset": e.asset, "evidence_sha256": e.sha256,
                          "final_pipeline": (final or {}).get("pipeline"),
                          "final": (final or {}).get("acceptance"),
                          "whole_session": e.document.get("whole_session", {}).get("acceptance")})
            deps = lineage.get(e.asset, [])
            if deps:
                last, path = deps[-1]
                sections.append(guide.pipeline_guide(
                    e.asset, last.pipeline, final,
                    [{"name": d.name, "hash": d.config_hash, "parent": d.parent_hash,
                      "author": d.pipeline.get("lineage", {}).get("author")} for d, _ in deps], path))
        st = assessment.state(db, s.id)
        assessments.append({"session": s.id, "team": s.team.name, "kind": s.kind, "pack": s.pack_id,
                            "scenario": s.scenario, "stage": st["stage"],
                            "scores": [{**sc, "assessor": emails.get(sc["assessor"])} for sc in st["scores"]],
                            "disagreements": st["disagreements"], "moderation": st["moderation"],
                            "outcome": st["outcome"]})
    files["assessment.json"] = _json({"challenge": challenge.id, "sessions": assessments})
    files["tests.json"] = _json({"challenge": challenge.id, "acceptance_criteria": charter.document.get("acceptance"),
                                 "results": tests,
                                 "all_met": bool(tests) and all((t["final"] or {}).get("met") for t in tests)})
    files["guide.md"] = guide.user_guide(challenge.name, sections).encode()
    files["summary.md"] = _summary(charter, sessions, tests, assessments, deid).encode()
    return files


def _summary(charter: Charter, sessions, tests, assessments, deid: bool) -> str:
    c = charter.challenge
    ds = charter.document.get("data_sharing", {})
    met = sum(bool((t["final"] or {}).get("met")) for t in tests)
    lines = [f"# Handover: {c.name}", "",
             f"- challenge {c.id} at site {c.site.slug}, assets "
             f"{', '.join(sorted({a.name for a in c.assets} | {a for s in sessions for a in s.assets})) or 'none'}",
             f"- charter {charter.sha256[:16]}…, co-signed by {', '.join(s.party.value for s in charter.signatures)}; "
             f"closed {iso_utc(charter.closed_at)}",
             f"- goal: {charter.document.get('scope', {}).get('goal', '')}",
             f"- {len(sessions)} closed session(s); acceptance met on {met} of {len(tests)} asset result(s)"]
    for a in assessments:
        out = a["outcome"]
        lines.append(f"- session {a['session']} ({a['team']}): assessment {a['stage']}"
                     + (f", outcome {out['result']} at weighted level {out.get('weighted_level')}" if out else ""))
    lines += [f"- data owner: {ds.get('owner', '')}; dataset licence {ds.get('dataset_licence', 'proprietary')}"
              + ("; names de-identified as the charter requires" if deid else ""),
              f"- IP: pipelines: {charter.document.get('ip', {}).get('pipelines', '')}", "",
              "Check this package: every file's SHA-256 is in `manifest.json`; the manifest's SHA-256 is in the "
              "hub's ledger (`GET /api/challenges/{id}/handover/check`, `GET /api/ledger/verify`).", ""]
    return "\n".join(lines)


def build(db: Session, store, challenge_id: int, user_id: int | None = None) -> HandoverPackage:
    """Assemble, validate and store the handover package of a closed challenge, and ledger its manifest.

    Runs inside the caller's transaction (flushed, not committed): the
    challenge's close hook calls it so the close and its package commit
    together. Raises :class:`HandoverError` for a challenge not closed and
    ``RuntimeError`` when the dataset does not validate.
    """
    charter = get_charter(db, challenge_id)
    if charter.status is not CharterStatus.closed:
        raise HandoverError(f"challenge {challenge_id} is {charter.status.value}; a handover is built when it closes")
    sessions = _sessions(db, challenge_id)
    terms = charter.document.get("data_sharing", {})
    deid = bool(terms.get("deidentify_handover"))
    files = _files(db, store, charter, sessions, deid)
    with tempfile.TemporaryDirectory(prefix="teachfab-handover-") as tmp:
        folder = Path(tmp)
        tables = _tables(db, store, sessions)
        dataset.write_package(folder, tables, name=f"teachfab-challenge-{challenge_id}-dataset",
                              title=f"Telemetry of challenge {charter.challenge.name}",
                              licence=terms.get("dataset_licence", "proprietary"),
                              description=f"Features, alerts, drift events and waveform snapshots of the "
                                          f"{len(sessions)} closed session(s) of the challenge, from the edge "
                                          f"agents' pipelines; owner: {terms.get('owner', '')}")
        for path in sorted(folder.iterdir()):
            files[f"data/{path.name}"] = path.read_bytes()
    if deid:
        names = _pseudonyms(db, charter, sessions)
        files = {names.scrub(p): names.scrub(b.decode("utf-8")).encode() for p, b in files.items()}
    with tempfile.TemporaryDirectory(prefix="teachfab-handover-check-") as tmp:  # validate what is handed over
        for p, b in files.items():
            if p.startswith("data/"):
                (Path(tmp) / p[5:]).write_bytes(b)
        report = dataset.validate_package(Path(tmp))
    if not report["valid"]:
        raise RuntimeError(f"the handover dataset of challenge {challenge_id} does not validate: {report['errors']}")
    manifest = {"challenge": challenge_id, "charter_sha256": charter.sha256, "de_identified": deid,
                "dataset_valid": True, "algorithm": "sha256",
                "files": {p: {"sha256": _sha(b), "bytes": len(b)} for p, b in sorted(files.items())}}
    manifest_sha = ledger.sha256_of(manifest)
    entry = ledger.append(db, "handover", f"challenge:{challenge_id}",
                          {"manifest_sha256": manifest_sha, "files": len(manifest["files"]), "de_identified": deid,
                           "charter_sha256": charter.sha256})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p, b in sorted(files.items()):
            zf.writestr(p, b)
        zf.writestr(MANIFEST, _json(manifest))
    data = buf.getvalue()
    row = HandoverPackage(challenge_id=challenge_id, built_by=user_id, archive=data, archive_sha256=_sha(data),
                          size=len(data), manifest=manifest, manifest_sha256=manifest_sha, deidentified=deid,
                          ledger_hash=entry.hash)
    db.add(row)
    db.flush()
    return row


def latest(db: Session, challenge_id: int) -> HandoverPackage:
    """The newest handover package of the challenge; :class:`NotFound` when none was built."""
    row = db.scalar(select(HandoverPackage).where(HandoverPackage.challenge_id == challenge_id)
                    .order_by(HandoverPackage.id.desc()).limit(1))
    if row is None:
        raise NotFound(f"challenge {challenge_id} has no handover package (it is built when the challenge closes)")
    return row


def check_archive(db: Session, data: bytes) -> dict:
    """Check an archive: each file against its manifest, the manifest against its ledger entry, the chain.

    Returns ``{"ok", "problems", "manifest_sha256", "ledger_entry", "chain_ok"}``;
    works on an archive downloaded earlier as well as on the stored one.
    """
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(zf.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        return {"ok": False, "problems": [f"not a handover archive: {exc}"], "manifest_sha256": None,
                "ledger_entry": None, "chain_ok": ledger.verify_chain(db)["ok"]}
    names = set(zf.namelist()) - {MANIFEST}
    listed = set(manifest.get("files", {}))
    problems += [f"{p}: in the archive but not in the manifest" for p in sorted(names - listed)]
    problems += [f"{p}: in the manifest but missing" for p in sorted(listed - names)]
    for p in sorted(names & listed):
        if _sha(zf.read(p)) != manifest["files"][p]["sha256"]:
            problems.append(f"{p}: SHA-256 differs from the manifest")
    digest = ledger.sha256_of(manifest)
    found = None
    for e in ledger.entries(db, f"challenge:{manifest.get('challenge')}"):
        if e["kind"] == "handover" and e["payload"].get("manifest_sha256") == digest:
            found = e
    if found is None:
        problems.append("the manifest's SHA-256 is in no handover entry of the ledger (changed, or not this hub's)")
    chain = ledger.verify_chain(db)
    if not chain["ok"]:
        problems.append(f"the ledger's chain is broken at entry {chain['broken_at']}")
    return {"ok": not problems, "problems": problems, "manifest_sha256": digest,
            "ledger_entry": None if found is None else found["id"], "chain_ok": chain["ok"]}


def check(db: Session, challenge_id: int) -> dict:
    """:func:`check_archive` of the challenge's newest package, plus the stored archive's own hash."""
    row = latest(db, challenge_id)
    out = check_archive(db, row.archive)
    if _sha(row.archive) != row.archive_sha256:
        out["problems"].append("the stored archive's SHA-256 changed since it was built")
        out["ok"] = False
    return {**out, "package": row.id, "challenge": challenge_id}


def on_close(store):
    """The challenges area's close hook: build the package of the challenge that is closing.

    The hub registers ``on_close(store)`` in :class:`cloud.challenges.hooks.LearningHooks`.
    """
    def hook(db: Session, charter: Charter, user_id: int | None = None) -> None:
        build(db, store, charter.challenge_id, user_id)
    return hook


def view(row: HandoverPackage) -> dict:
    """The package's description as the API shows it (without the archive's bytes)."""
    return {"id": row.id, "challenge": row.challenge_id, "created_at": iso_utc(row.created_at),
            "size": row.size, "archive_sha256": row.archive_sha256, "manifest_sha256": row.manifest_sha256,
            "ledger_hash": row.ledger_hash, "de_identified": row.deidentified,
            "files": {p: f["sha256"] for p, f in row.manifest["files"].items()}}

