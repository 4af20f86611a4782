"""``teachfab lab up PACK``: a remote lab session of a pack on this machine, with nothing external.

Starts an embedded MQTT broker (unless ``--broker``), a hub with a fresh
command key, and provisions what a hub operator and mentor would: the
people (mentor, an academic and an industrial assessor, the SME partner,
two learners in one team), a lab site, a challenge from the pack whose
charter is co-signed by the three parties and activated, and one session
for the team. The hub then runs the pack's simulator and an edge agent for
that session exactly as it does for a real lab. It prints the learner
page's address and everyone's log-in; at the end (``--duration`` or Ctrl-C)
it closes the session and prints the evidence, and what the session did to
learner 1's skill profile, job match and pathway (:mod:`teachfab.lab_skills`).
After the demonstration sign-off of a passing session, the operator records
the credential decision ``issued``: the hub issues each learner's Open
Badges 3.0 credential, and ``lab up`` saves them with the issuer's
controller document and status lists (``--credentials-dir``) and prints how
to verify them with Digital Bazaar's verifier (``docs/credentials.md``).
Then it closes the challenge, whose handover package the SME partner
downloads into ``--handover-dir`` (:mod:`teachfab.lab_handover`), and
prints the month's KPIs (:mod:`teachfab.lab_kpis`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from cloud.accounts.models import User
from cloud.accounts.service import create_user
from cloud.challenges import assessment, charters, teams
from cloud.challenges.models import LabSession
from cloud.credentials.dataintegrity import secret_multikey
from cloud.credentials.models import IssuedCredential
from cloud.hub import HubServer
from cloud.settings import HubSettings
from cloud.sites import service as registry
from contract.signing import generate_keypair, save_private_key
from labs.packs import load_pack
from simulators.runner import wait_or_interrupt
from teachfab import lab_handover, lab_kpis, lab_skills
from teachfab.demo import broker_or_embedded, free_port

SITE = "teachfab-lab"
PEOPLE = {  # key: (e-mail, roles, display name)
    "mentor": ("mentor@lab.local", ["mentor"], "Mentor"),
    "academic": ("academic.assessor@lab.local", ["assessor"], "Academic assessor"),
    "industrial": ("industrial.assessor@lab.local", ["assessor"], "Industrial assessor"),
    "partner": ("partner@sme.local", ["sme_partner"], "SME partner"),
    "learner1": ("learner1@lab.local", ["learner"], "Learner One"),
    "learner2": ("learner2@lab.local", ["learner"], "Learner Two"),
}


@dataclass
class LabUpOptions:
    """Options of ``teachfab lab up`` (see its ``--help``)."""

    pack: str
    speed: float = 1.0
    duration: float | None = None
    broker: str | None = None
    http_port: int = 8000
    handover_dir: str = "."
    #: seconds to keep the hub serving after the close, so its pages (KPIs, the closed session) can be browsed
    stay: float = 0.0
    credentials_dir: str | None = "lab-credentials"
    issuer_country: str = "SI"


def provision(sessions, pack_id: str, passwords: dict[str, str], operator_email: str) -> dict:
    """Create the people, site, team and an active, co-signed challenge of ``pack_id``; return their ids.

    ``sessions`` is the hub's session factory (``app.state.sessions``).
    """
    with sessions() as db:
        registry.create_site(db, SITE, "TeachFab lab", "lab")
        users = {k: create_user(db, email, passwords[k], roles, name, sites=[SITE] if k == "partner" else [])
                 for k, (email, roles, name) in PEOPLE.items()}
        team = teams.create_team(db, "Team 1", [users["learner1"], users["learner2"]])
        challenge = charters.create_challenge(
            db, f"Lab pack {pack_id}", SITE, pack_id=pack_id, teams=[team], mentors=[users["mentor"]],
            academic_assessors=[users["academic"]], industrial_assessors=[users["industrial"]],
            parties={"industry_partner": "Partner SME", "provider": "Education provider", "hub": "TeachFab hub",
                     "mentor": "Mentor"})
        operator = db.scalar(select(User).where(User.email == operator_email))
        for signer, party in ((users["partner"], "industry_partner"), (users["mentor"], "provider"),
                              (operator, "hub")):
            charters.sign(db, challenge.id, signer, party)
        charters.activate(db, challenge.id, users["mentor"])
        return {"challenge": challenge.id, "team": team.id, "mentor": users["mentor"].id,
                **{k: u.id for k, u in users.items()}}


async def run_lab_up(opts: LabUpOptions, announce=print) -> dict:
    """Run ``teachfab lab up`` until ``opts.duration`` passes (or Ctrl-C); return the closed session's evidence."""
    pack = load_pack(opts.pack)  # fails early with the pack's problems
    broker, embedded = await broker_or_embedded(opts.broker)
    tmp = tempfile.TemporaryDirectory(prefix="teachfab-lab-")
    key, _ = generate_keypair()
    save_private_key(key, Path(tmp.name) / "hub-key.pem")
    passwords = {k: secrets.token_urlsafe(9) for k in PEOPLE}
    operator = ("operator@lab.local", secrets.token_urlsafe(12))
    port = free_port(opts.http_port)
    hub = HubServer(HubSettings(broker=broker, db_path=str(Path(tmp.name) / "hub.sqlite"),
                                http_port=port, mode="dev", admin_email=operator[0],
                                admin_password=operator[1], command_key=str(Path(tmp.name) / "hub-key.pem"),
                                command_key_id="lab-up", public_url=f"http://127.0.0.1:{port}",
                                credential_key_secret=secret_multikey(Ed25519PrivateKey.generate()),
                                issuer_name="TeachFab lab hub", issuer_country=opts.issuer_country,
                                issuer_legal_id="LAB-UP-DEMO"))
    try:
        await hub.start()
        ids = await asyncio.to_thread(provision, hub.app.state.sessions, pack.id, passwords, operator[0])
        skills_before = await asyncio.to_thread(lab_skills.before, hub.app.state.sessions, ids["learner1"])
        session_id = await hub.app.state.lab.start(ids["challenge"], ids["team"], ids["mentor"], opts.speed)
        announce(f"TeachFab lab session {session_id} of pack {pack.id!r} ({pack.meta.title})")
        announce(f"  learner page  {hub.url}session?id={session_id}")
        announce(f"  skills portal {hub.url}skills (profile, matches, pathway; docs/skills.md)")
        announce(f"  mentor page   {hub.url}")
        announce(f"  KPI page      {hub.url}kpis (operator, SME partner; docs/kpis.md)")
        announce(f"  broker {broker}{' (embedded amqtt)' if embedded else ''}; scenario {pack.scenario.scenario} "
                 f"at {opts.speed:g}x; the ground truth stays hidden from learners until the session closes")
        announce("  log-ins (e-mail / password):")
        for k, (email, _, _) in PEOPLE.items():
            announce(f"    {k:<11} {email:<32} {passwords[k]}")
        announce(f"    {'operator':<11} {operator[0]:<32} {operator[1]}")
        await wait_or_interrupt(opts.duration)
        await hub.app.state.lab.close(session_id, ids["mentor"])
        result = await _closed_evidence(hub.app, session_id)
        if result["status"] == "closed":
            end = await asyncio.to_thread(lab_skills.after, hub.app.state.sessions, hub.app.state.hooks, session_id,
                                          ids, ids["learner1"])
            result["skills"] = {"before": skills_before, "after": end}
            if end["assessment"] and end["assessment"]["result"] == "pass":
                result["credentials"] = await asyncio.to_thread(issue_and_save, hub.app, session_id, operator[0],
                                                                opts.credentials_dir)
            await asyncio.to_thread(lab_handover.close_challenge, hub.app.state.sessions, hub.app.state.hooks,
                                    ids["challenge"], ids["mentor"])
            result["handover"] = await asyncio.to_thread(
                lab_handover.download, hub.url, ids["challenge"], PEOPLE["partner"][0], passwords["partner"],
                Path(opts.handover_dir))
            try:
                kpis = await asyncio.to_thread(lab_kpis.after, hub.app, session_id, ids, operator[0])
                result["kpis"] = lab_kpis.report(kpis)
            except Exception as exc:  # the summary must not cost the session's result; say what failed
                announce(f"the KPI summary could not be computed: {exc!r}")
        if opts.stay:
            announce(f"the session is closed; the hub keeps serving for {opts.stay:g} s (Ctrl-C stops it): "
                     f"{hub.url}kpis")
            await wait_or_interrupt(opts.stay)
        return result
    finally:
        await hub.stop()
        if embedded is not None:
            await embedded.shutdown()
        tmp.cleanup()


async def _closed_evidence(app, session_id: int, timeout_s: float = 120.0) -> dict:
    """The session's evidence once its close is done (the scenario's automatic close may still be storing it)."""
    deadline = time.monotonic() + timeout_s
    result = await asyncio.to_thread(_evidence, app, session_id)
    while result["status"] == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        result = await asyncio.to_thread(_evidence, app, session_id)
    return result


def issue_and_save(app, session_id: int, operator_email: str, where: str | None) -> dict:
    """Record the credential decision ``issued`` as the operator; save what a verifier needs under ``where``."""
    with app.state.sessions() as db:
        operator = db.scalar(select(User).where(User.email == operator_email))
        assessment.record_credential_decision(db, session_id, operator, "issued", app.state.hooks)
        rows = db.scalars(select(IssuedCredential).where(IssuedCredential.session_id == session_id)).all()
        svc = app.state.credentials
        out = {"issued": [{"id": f"urn:uuid:{r.id}", "learner": r.user_id, "title": r.document["name"]} for r in rows],
               "files": []}
        if where:
            folder = Path(where)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "documents.json").write_text(json.dumps(svc.loader_documents(db), indent=1))
            for r in rows:
                path = folder / f"credential-{r.id}.json"
                path.write_text(json.dumps(r.document, indent=1))
                out["files"].append(str(path))
            out["documents"] = str(folder / "documents.json")
        return out


def _evidence(app, session_id: int) -> dict:
    with app.state.sessions() as db:
        row = db.get(LabSession, session_id)
        out = {"session": session_id, "status": row.status.value, "error": row.error or None, "evidence": {}}
        for e in row.evidence:
            final = e.document["final"]
            out["evidence"][e.asset] = {"pipeline": final["pipeline"], "evidence": final["evidence"],
                                        "acceptance": final["acceptance"], "sha256": e.sha256}
        return out


def main(opts: LabUpOptions, as_json: bool) -> int:
    """Entry point of ``teachfab lab up``; exit code 0 when the session closed with evidence."""
    announce = (lambda s: print(s, file=sys.stderr, flush=True)) if as_json else (lambda s: print(s, flush=True))
    result = asyncio.run(run_lab_up(opts, announce))
    if as_json:
        print(json.dumps(result))
    else:
        print(f"\nsession {result['session']} {result['status']}")
        for asset, ev in result["evidence"].items():
            e = ev["evidence"]
            faults = ", ".join(f"{f['event']} " + (f"detected after {f['detection_delay_s']} s" if f["detected"]
                                                   else "missed") for f in e["faults"]) or "no fault yet"
            print(f"  {asset}: pipeline {ev['pipeline']['name']} ({ev['pipeline']['hash']}): {faults}; "
                  f"{e['false_alarms']} false alarm(s); acceptance {'met' if ev['acceptance']['met'] else 'NOT met'}")
        if "skills" in result:
            print("\n".join(lab_skills.report(result["skills"]["before"], result["skills"]["after"])))
        if "credentials" in result:
            c = result["credentials"]
            print(f"\n{len(c['issued'])} credential(s) issued (Open Badges 3.0, eddsa-rdfc-2022; docs/credentials.md):")
            for item in c["issued"]:
                print(f"  {item['id']}  {item['title']}  (learner {item['learner']})")
            if c["files"]:
                print(f"saved with the issuer's controller document and status lists in {c['documents']}; verify them "
                      "offline with Digital Bazaar's verifier:\n"
                      f"  node tests/credentials/verifier/verify.mjs {c['documents']} {' '.join(c['files'])}\n"
                      "or paste one into the verify page (/verify) of a running hub that issued it")
        if "handover" in result:
            print("\n".join(lab_handover.report(result["handover"])))
        if "kpis" in result:
            print("\n".join(result["kpis"]))
    return 0 if result["status"] == "closed" else 1
