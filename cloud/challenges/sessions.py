"""Remote lab sessions: start one for a team, record deployments with their lineage, close it
and compute the evidence against the hidden ground truth.

A session gets its own site ``session-<id>`` (so several teams can run the
same pack at once) with the pack's assets and one edge ``session-<id>-edge``;
:mod:`cloud.challenges.runner` runs the scenario's simulator and that edge agent
in a process of its own. Service functions here are synchronous database
work; :class:`cloud.challenges.lab.LabService` drives the runner around them.

Evidence (write-once, one row per asset) scores the **final** pipeline of
each asset from the moment it was deployed to the end of the session —
what the team submits — and also reports every earlier pipeline's segment
and the whole session, so nothing is hidden. Each part names the pipeline
(hash, parent, author) that produced it.
"""

from __future__ import annotations

import functools
import secrets
import time
from datetime import timezone

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import User
from cloud.challenges import ledger
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.charters import ChallengeError, duties, get_charter
from cloud.challenges.models import (Challenge, CharterStatus, Deployment, Duty, Evidence, LabSession, SessionStatus,
                                     team_members)
from cloud.database import iso_utc, utcnow
from cloud.errors import Forbidden, Invalid, NotFound
from cloud.sites import service as registry
from cloud.sites.models import SiteKind
from cloud.telemetry.answers import genuine_answers
from edge_agent.pipeline import PipelineConfig
from labs.evidence import check_acceptance, score_session
from labs.packs import load_pack

#: Fastest a session may run (scenario seconds per wall second).
MAX_SPEED = 50.0


def session_names(session_id: int) -> tuple[str, str]:
    """Site slug and edge id of session ``session_id``."""
    return f"session-{session_id}", f"session-{session_id}-edge"


def get_session(db: Session, session_id: int) -> LabSession:
    """The session, or ``LookupError``."""
    row = db.get(LabSession, session_id)
    if row is None:
        raise NotFound(f"no session {session_id}")
    return row


def is_team_member(db: Session, session: LabSession, user_id: int) -> bool:
    """Whether ``user_id`` is in the session's team."""
    return db.scalar(select(team_members.c.user_id).where(team_members.c.team_id == session.team_id,
                                                          team_members.c.user_id == user_id)) is not None


def start_session(db: Session, challenge_id: int, team_id: int, user: User, speed: float = 1.0,
                  start_ns: int | None = None, variant_seed: int | None = None,
                  public_script: bool = False) -> LabSession:
    """Record a new running session of the challenge's pack for ``team_id``.

    Registers the session's site, assets, sensors and edge. When the pack
    declares variants, the session runs the assessed variant drawn from
    ``variant_seed`` (default: a fresh secret one; :mod:`labs.variants`),
    hidden from learners until the close like the ground truth;
    ``public_script`` runs the pack's published script instead (code only —
    replays and tests whose timings must be known; no route offers it). The runner
    then starts it and :func:`mark_started` records when the scenario's t = 0
    really was; with ``start_ns`` given the session is marked started at once
    (tests, replays).
    """
    if not 0 < speed <= MAX_SPEED:
        raise ChallengeError(f"speed must be in (0, {MAX_SPEED:g}] scenario seconds per second, got {speed}")
    charter = get_charter(db, challenge_id)
    if charter.status is not CharterStatus.active:
        raise ChallengeError(f"the challenge is {charter.status.value}; sessions start only in an active one")
    if charter.pack_id is None:
        raise ChallengeError("this challenge has no lab pack: it runs on real assets, not in sessions")
    challenge = db.get(Challenge, challenge_id)
    if team_id not in {t.id for t in challenge.teams}:
        raise ChallengeError(f"team {team_id} does not work on challenge {challenge_id}")
    pack = load_pack(charter.pack_id)
    drawn = None if public_script else pack.variant(secrets.randbelow(2**31) if variant_seed is None else variant_seed)
    variant = None if drawn is None else {"seed": drawn[1]["seed"], "drawn": drawn[1], "document": drawn[0]}
    scenario = pack.load_scenario(None if variant is None else variant["document"])
    provisional = time.time_ns() if start_ns is None else start_ns  # until mark_started
    session = LabSession(challenge_id=challenge_id, team_id=team_id, pack_id=pack.id, scenario=pack.scenario.scenario,
                         site="pending", edge="pending", assets=list(pack.scenario.assets), speed=speed,
                         started_by=user.id, start_ns=provisional, duration_s=float(scenario.duration_s or 3600.0),
                         ground_truth=scenario.ground_truth_ns(provisional), variant=variant)
    db.add(session)
    db.flush()
    session.site, session.edge = session_names(session.id)
    registry.create_site(db, session.site, f"Lab session {session.id} ({pack.id})", SiteKind.lab)
    for sim_asset in scenario.assets:
        if sim_asset.asset not in session.assets:
            continue
        registry.create_asset(db, session.site, sim_asset.asset, type(sim_asset).__name__)
        for ch in sim_asset.channels():
            registry.create_sensor(db, session.site, sim_asset.asset, ch.name, ch.units, ch.rate)
    registry.create_edge(db, session.site, session.edge)
    if start_ns is not None:
        return mark_started(db, session, start_ns)
    db.commit()
    return session


def starter_pipelines(session: LabSession) -> dict[str, dict]:
    """The pipelines a session's edge starts with: the pack's starter for every asset."""
    starter = load_pack(session.pack_id).starter_pipeline.model_dump(mode="json")
    return {a: starter for a in session.assets}


def scenario_document(session: LabSession) -> dict | None:
    """The scenario document the session's simulator runs: its drawn variant, or ``None`` for the public script."""
    return None if session.variant is None else session.variant["document"]


def mark_started(db: Session, session: LabSession, start_ns: int) -> LabSession:
    """The scenario's t = 0 was ``start_ns``: fix the session clock, the ground truth and deployment 0.

    The ledger entry commits to the ground truth and the variant (their
    SHA-256) before anyone works on the session, so neither can be changed
    afterwards without detection.
    """
    session.start_ns = start_ns
    pack = load_pack(session.pack_id)
    session.ground_truth = pack.load_scenario(scenario_document(session)).ground_truth_ns(start_ns)
    starter = pack.starter_pipeline
    for asset in session.assets:
        _record_deployment(db, session, None, asset, starter, None, start_ns)
    ledger.append(db, "session_started", f"session:{session.id}",
                  {"challenge": session.challenge_id, "team": session.team_id, "pack": session.pack_id,
                   "scenario": session.scenario, "start_ns": start_ns, "speed": session.speed,
                   "by": session.started_by, "ground_truth_sha256": ledger.sha256_of(session.ground_truth),
                   "variant_sha256": None if session.variant is None else ledger.sha256_of(session.variant)})
    db.commit()
    return session


def open_window(db: Session, challenge_id: int, team_id: int, user: User, edge: str,
                assets: list[str] | None = None, start_ns: int | None = None) -> LabSession:
    """Open a challenge window on real assets: scored at close against the events mentors log.

    The window watches ``assets`` (default: all of the challenge's) as
    published by ``edge``, a registered edge of the challenge's site.
    """
    charter = get_charter(db, challenge_id)
    if charter.status is not CharterStatus.active:
        raise ChallengeError(f"the challenge is {charter.status.value}; windows open only in an active one")
    challenge = db.get(Challenge, challenge_id)
    if team_id not in {t.id for t in challenge.teams}:
        raise ChallengeError(f"team {team_id} does not work on challenge {challenge_id}")
    own = [a.name for a in challenge.assets]
    assets = list(assets or own)
    if not assets or set(assets) - set(own):
        raise ChallengeError(f"a window watches assets of the challenge {own}, got {assets}")
    site = challenge.site.slug
    if edge not in {e.edge_id for e in registry.list_edges(db, site)}:
        raise ChallengeError(f"edge {edge!r} is not registered at site {site!r}")
    start_ns = time.time_ns() if start_ns is None else start_ns
    window = LabSession(kind="window", challenge_id=challenge_id, team_id=team_id, pack_id=charter.pack_id or "",
                        scenario="", site=site, edge=edge, assets=assets, speed=1.0, started_by=user.id,
                        start_ns=start_ns, duration_s=0.0, ground_truth=[])
    db.add(window)
    db.flush()
    ledger.append(db, "window_opened", f"session:{window.id}",
                  {"challenge": challenge_id, "team": team_id, "site": site, "edge": edge, "assets": assets,
                   "start_ns": start_ns, "by": user.id})
    db.commit()
    return window


def log_event(db: Session, session: LabSession, user: User, asset: str, event: str, category: str,
              start_ns: int, end_ns: int | None = None, note: str = "") -> dict:
    """A mentor logs a fault or regime change on a real asset of an open window (its ground truth)."""
    if session.kind != "window":
        raise ChallengeError(f"session {session.id} is a lab session: its ground truth comes from the simulator")
    if session.status is not SessionStatus.running:
        raise ChallengeError(f"window {session.id} is {session.status.value}; log events while it is open")
    if duties(db, session.challenge_id).get(user.id) is not Duty.mentor and Role.hub_operator not in user.roles:
        raise Forbidden(f"{user.email} is not a mentor of challenge {session.challenge_id}")
    if asset not in session.assets:
        raise ChallengeError(f"asset {asset!r} is not watched by window {session.id}; it watches {session.assets}")
    if end_ns is not None and end_ns <= start_ns:
        raise Invalid(f"end_ns must be after start_ns, got {start_ns} .. {end_ns}")
    row = {"event": event, "category": category, "asset": asset, "start_ns": start_ns, "end_ns": end_ns,
           "note": note, "logged_by": user.id}
    session.ground_truth = [*session.ground_truth, row]  # a new list, so the JSON column is written
    ledger.append(db, "event_logged", f"session:{session.id}", row)
    db.commit()
    return row


def _record_deployment(db: Session, session: LabSession, user: User | None, asset: str, cfg: PipelineConfig,
                       bundle_id: str | None, active_ns: int) -> Deployment:
    doc = cfg.model_dump(mode="json")
    entry = ledger.append(db, "deployment", f"session:{session.id}",
                          {"asset": asset, "hash": cfg.config_hash(), "parent": cfg.lineage.parent,
                           "author": cfg.lineage.author, "by": None if user is None else user.id,
                           "bundle_id": bundle_id, "active_ns": active_ns, "pipeline_sha256": ledger.sha256_of(doc)})
    dep = Deployment(session_id=session.id, asset=asset, user_id=None if user is None else user.id, name=cfg.name,
                     config_hash=cfg.config_hash(), parent_hash=cfg.lineage.parent, pipeline=doc,
                     bundle_id=bundle_id, active_ns=active_ns, ledger_hash=entry.hash)
    session.deployments.append(dep)
    db.flush()
    return dep


def may_deploy(db: Session, session: LabSession, user_id: int, roles: frozenset[Role]) -> bool:
    """Learners of the team, the challenge's mentors, and hub operators deploy to a session."""
    if Role.hub_operator in roles:
        return True
    if Role.mentor in roles and duties(db, session.challenge_id).get(user_id) is Duty.mentor:
        return True
    return Role.learner in roles and is_team_member(db, session, user_id)


def prepare_deployment(db: Session, session: LabSession, user: User, asset: str, pipeline: dict,
                       note: str = "") -> PipelineConfig:
    """Validate a deployment and give the pipeline its lineage (author, parent = the asset's current one).

    Raises ``ChallengeError`` for a closed session or unknown asset and
    ``ValueError`` (with the pipeline's own field messages) for a bad pipeline.
    """
    if session.status is not SessionStatus.running:
        raise ChallengeError(f"session {session.id} is {session.status.value}; deploy to a running session")
    if asset not in session.assets:
        raise ChallengeError(f"asset {asset!r} is not in session {session.id}; it has {session.assets}")
    current = [d for d in session.deployments if d.asset == asset]
    lineage = {**(pipeline.get("lineage") or {}), "author": user.email,
               "parent": current[-1].config_hash if current else None}
    if note:
        lineage["note"] = note
    try:
        return PipelineConfig(**{**pipeline, "lineage": lineage})
    except ValidationError as exc:
        raise Invalid(f"pipeline: {exc}") from None


def record_deployment(db: Session, session: LabSession, user: User, asset: str, cfg: PipelineConfig,
                      bundle_id: str, sent_wall_ns: int) -> Deployment:
    """Record a deployment published to the session's edge; it is active from ``sent_wall_ns`` on."""
    dep = _record_deployment(db, session, user, asset, cfg, bundle_id, session.scenario_ns(sent_wall_ns))
    db.commit()
    return dep


def require_running(session: LabSession) -> None:
    """Refuse (:class:`ChallengeError`) what only a running session allows."""
    if session.status is not SessionStatus.running:
        raise ChallengeError(f"session {session.id} is {session.status.value} already")


def close_session(db: Session, session: LabSession, store, user: User | None, wall_ns: int | None = None,
                  hooks: LearningHooks | None = None) -> LabSession:
    """Close a running session at ``wall_ns`` (default now, at most the scenario's end) and store its evidence.

    ``hooks.evidence`` runs before the commit (the skills area raises profiles from evidence that met the
    charter's acceptance criteria).
    """
    require_running(session)
    end = session.scenario_ns(time.time_ns() if wall_ns is None else wall_ns)
    if session.kind == "lab":  # a scenario ends; a window on real assets closes when the mentor says
        end = min(end, session.start_ns + int(session.duration_s * 1e9))
    session.end_ns, session.status, session.closed_at = end, SessionStatus.closed, utcnow()
    criteria = get_charter(db, session.challenge_id).document["acceptance"]
    boot = next((e["boot"] for e in store.edges() if e["site"] == session.site and e["edge"] == session.edge), None)
    issued = {d.bundle_id: _epoch_ns(d.created_at) for d in session.deployments if d.bundle_id}
    answers = genuine_answers(store.command_results(session.site, session.edge, limit=100_000), issued, boot)
    for asset in session.assets:
        alerts = [a for a in store.alerts(session.site, asset, limit=1_000_000) if a["edge"] == session.edge]
        drift = [d for d in store.drift(session.site, asset, limit=1_000_000) if d["edge"] == session.edge]
        mine = [d for d in session.deployments if d.asset == asset]
        # only what the edge confirmed ran: a deploy it rejected or never received produced nothing
        deps = [d for d in mine if d.bundle_id is None or answers.get(d.bundle_id) == "accepted"]
        doc = evidence_document(session, asset, deps, alerts, drift, criteria)
        doc["not_applied"] = [{**_pipeline_ref(d), "edge_answer": answers.get(d.bundle_id, "none")}
                              for d in mine if d not in deps]
        entry = ledger.append(db, "evidence", f"session:{session.id}",
                              {"asset": asset, "sha256": ledger.sha256_of(doc), "met": doc["final"]["acceptance"]["met"]})
        session.evidence.append(Evidence(session_id=session.id, asset=asset, document=doc,
                                         sha256=ledger.sha256_of(doc), ledger_hash=entry.hash))
    ledger.append(db, "session_closed", f"session:{session.id}",
                  {"end_ns": end, "by": None if user is None else user.id})
    db.flush()
    if hooks is not None:
        hooks.evidence(db, session)
    db.commit()
    return session


def _epoch_ns(when) -> int:
    """Epoch nanoseconds of a stored datetime (SQLite gives it back naive, in UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1e9)


def fail_session(db: Session, session: LabSession, error: str) -> None:
    """Mark a session that could not run as failed, with the reason."""
    session.status, session.error, session.closed_at = SessionStatus.failed, error[:4000], utcnow()
    ledger.append(db, "session_failed", f"session:{session.id}", {"error": error[:500]})
    db.commit()


def _pipeline_ref(dep: Deployment) -> dict:
    return {"deployment": dep.id, "name": dep.name, "hash": dep.config_hash, "parent": dep.parent_hash,
            "author": dep.pipeline.get("lineage", {}).get("author"), "deployed_by": dep.user_id,
            "ledger_hash": dep.ledger_hash}


def evidence_document(session: LabSession, asset: str, deployments: list[Deployment], alerts: list[dict],
                      drift: list[dict], criteria: list[dict]) -> dict:
    """Evidence of one asset: the final pipeline's segment, every segment, and the whole session.

    ``alerts``/``drift`` are the hub's stored events of the session's edge;
    ``criteria`` the charter's acceptance criteria.
    """
    start, end = session.start_ns, session.end_ns
    truth = [e for e in session.ground_truth if e.get("asset") == asset]
    alerts = [{"ts": a["ts"], "asset": asset, "score": a.get("score"), "message": a.get("message", "")}
              for a in alerts if start <= a["ts"] < end]
    drift = [{"ts": d["ts"], "asset": asset, "target": d.get("target"), "detector": d.get("detector")}
             for d in drift if start <= d["ts"] < end]
    segments = []
    for i, dep in enumerate(deployments):
        lo = max(start, min(dep.active_ns, end - 1))
        hi = end if i + 1 == len(deployments) else max(lo + 1, min(deployments[i + 1].active_ns, end))
        ev = score_session(truth, alerts, drift, asset=asset, start_ns=lo, end_ns=hi)
        segments.append({"pipeline": _pipeline_ref(dep), "start_ns": lo, "end_ns": hi, "evidence": ev,
                         "acceptance": check_acceptance(ev, criteria)})
    if not segments:  # a window where nobody deployed: the edge's own pipeline, lineage from its birth message
        ev = score_session(truth, alerts, drift, asset=asset, start_ns=start, end_ns=end)
        segments.append({"pipeline": None, "start_ns": start, "end_ns": end, "evidence": ev,
                         "acceptance": check_acceptance(ev, criteria)})
    whole = score_session(truth, alerts, drift, asset=asset, start_ns=start, end_ns=end)
    return {"session": session.id, "kind": session.kind, "challenge": session.challenge_id, "team": session.team_id,
            "pack": session.pack_id or None, "scenario": session.scenario, "asset": asset, "site": session.site,
            "start_ns": start, "end_ns": end, "speed": session.speed, "ground_truth": truth,
            "variant": None if session.variant is None else {"seed": session.variant["seed"],
                                                             "drawn": session.variant["drawn"]},
            "acceptance_criteria": criteria, "final": segments[-1] if segments else None,
            "segments": segments, "whole_session": {"evidence": whole,
                                                    "acceptance": check_acceptance(whole, criteria)},
            "alerts": alerts, "drift": drift, "lineage": [s["pipeline"] for s in segments]}


#: Roles that see a running session whole, ground truth included.
STAFF_ROLES = frozenset({Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner})


def is_staff(roles) -> bool:
    """Whether ``roles`` include a staff role (operator, mentor, assessor, SME partner)."""
    return bool(set(roles) & STAFF_ROLES)


def sees_truth(roles, session: LabSession) -> bool:
    """Staff see the ground truth at any time; learners once the session is closed (or at once when
    the pack's ``scenario.yaml`` sets ``hide_ground_truth: false``, e.g. a guided first session)."""
    return is_staff(roles) or session.status is not SessionStatus.running or not _hides_truth(session.pack_id)


@functools.lru_cache(maxsize=64)
def _hides_truth(pack_id: str) -> bool:
    return not pack_id or load_pack(pack_id).scenario.hide_ground_truth


def evidence_of(db: Session, session: LabSession) -> list[dict]:
    """The stored evidence of ``session``, per asset, each checked against the hash the ledger recorded."""
    rows = list(db.scalars(select(Evidence).where(Evidence.session_id == session.id).order_by(Evidence.asset)
                           .execution_options(populate_existing=True)))
    bad = ledger.evidence_problems(db) if rows else {}
    return [{"id": e.id, "asset": e.asset, "computed_at": iso_utc(e.computed_at), "sha256": e.sha256,
             "ledger_hash": e.ledger_hash, "intact": e.id not in bad,
             "document": e.document} for e in rows]


def visible_to(db: Session, session: LabSession, user_id: int, roles, scope) -> bool:
    """Staff, operators and SME partners of the challenge see its sessions; a learner only their team's."""
    if scope.everything:
        return True
    if roles & {Role.mentor, Role.assessor, Role.sme_partner} and scope.challenge(session.challenge_id):
        return True
    return Role.learner in roles and is_team_member(db, session, user_id)


def list_sessions(db: Session, scope, challenge_id: int | None = None) -> list[LabSession]:
    """Sessions whose site is in ``scope`` (optionally of one challenge), newest first."""
    q = select(LabSession).order_by(LabSession.id.desc())
    if challenge_id is not None:
        q = q.where(LabSession.challenge_id == challenge_id)
    return [s for s in db.scalars(q) if scope.site(s.site) or scope.challenge(s.challenge_id)]


def view(session: LabSession, show_truth: bool) -> dict:
    """The session as the API shows it; the ground truth only when ``show_truth``."""
    return {"id": session.id, "kind": session.kind, "challenge": session.challenge_id, "team": session.team_id,
            "pack": session.pack_id or None,
            "scenario": session.scenario, "site": session.site, "edge": session.edge, "assets": session.assets,
            "speed": session.speed, "status": session.status.value, "started_at": iso_utc(session.started_at),
            "start_ns": session.start_ns, "duration_s": session.duration_s, "end_ns": session.end_ns,
            "closed_at": None if session.closed_at is None else iso_utc(session.closed_at),
            "error": session.error or None,
            "ground_truth": session.ground_truth if show_truth else None,
            "variant": None if session.variant is None or not show_truth else
            {"seed": session.variant["seed"], "drawn": session.variant["drawn"]},
            "deployments": [{**_pipeline_ref(d), "asset": d.asset, "active_ns": d.active_ns,
                             "created_at": iso_utc(d.created_at), "bundle_id": d.bundle_id,
                             "pipeline": d.pipeline} for d in session.deployments],
            "evidence": [{"id": e.id, "asset": e.asset, "sha256": e.sha256, "met": e.document["final"]["acceptance"]["met"]
                          if e.document.get("final") else False} for e in session.evidence]}
