"""Routes of lab sessions, deployments, evidence, submissions, dual assessment and service levels.

The lab runner (``app.state.lab_runner``, :class:`cloud.challenges.runner.LabRunner`)
lives in the hub's event loop and runs each session in a process of its own;
these synchronous routes drive it with ``anyio.from_thread``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Depends, HTTPException, Request, status

from cloud.accounts.deps import DB, Anyone, Operator, Principal, RoleGate, Staff
from cloud.accounts.models import Role, User
from cloud.api.commands import hub_signer, sign_and_publish
from cloud.challenges import assessment, ledger, sessions, sla
from cloud.challenges.models import Evidence, LabSession, SessionStatus, Submission
from cloud.challenges.router import ERRORS, Runs, domain_call, user_of, visible_challenge
from cloud.challenges.runner import SessionSpec
from cloud.challenges.schemas import (CredentialDecisionIn, DeployIn, EventIn, FeedbackIn, ModerationIn, ScoreIn,
                                      SessionCreate, SignOffIn, SubmissionIn, WindowCreate)
from cloud.domain.models import iso_utc
from labs.packs import load_pack

router = APIRouter(prefix="/api", tags=["sessions"])
Deployers = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.mentor, Role.learner))]
Learners = Annotated[Principal, Depends(RoleGate(Role.learner))]
Assessors = Annotated[Principal, Depends(RoleGate(Role.assessor))]
SignOff = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.assessor))]
STAFF_ROLES = {Role.hub_operator, Role.mentor, Role.assessor, Role.sme_partner}


def _runner(request: Request):
    runner = getattr(request.app.state, "lab_runner", None)
    if runner is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "lab sessions need the hub's command key (TEACHFAB_HUB_COMMAND_KEY): learners deploy "
                            "through the signed command path")
    return runner


def _visible(db: DB, who: Principal, session_id: int) -> LabSession:
    row = db.get(LabSession, session_id)
    if row is None or not sessions.visible_to(db, row, who.user_id, who.roles, who.scope):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id} in your scope")
    return row


def _sees_truth(who: Principal, session: LabSession) -> bool:
    """Staff see the ground truth at any time; learners once the session is closed (or at once when
    the pack's ``scenario.yaml`` sets ``hide_ground_truth: false``, e.g. a guided first session)."""
    return bool(who.roles & STAFF_ROLES) or session.status is not SessionStatus.running or \
        not _hides_truth(session.pack_id)


@functools.lru_cache(maxsize=64)
def _hides_truth(pack_id: str) -> bool:
    return not pack_id or load_pack(pack_id).scenario.hide_ground_truth


def spec_of(session: LabSession):
    """The runner's view of a session row."""


    pipelines = sessions.starter_pipelines(session)
    pipelines.update({d.asset: d.pipeline for d in session.deployments})  # the newest per asset wins
    started = session.start_ns if session.deployments else None  # None: t = 0 when the simulator serves
    return SessionSpec(session.id, session.site, session.edge, session.scenario, list(session.assets),
                       started, session.speed, session.duration_s, pipelines)


async def close_and_score(app, session_id: int, user_id: int | None, wall_ns: int | None = None) -> None:
    """Stop the session's simulator and edge, then close it and compute its evidence (write-once).

    A challenge window on real assets has nothing to stop; it is closed and scored as it is.
    """
    wall_ns = time.time_ns() if wall_ns is None else wall_ns
    runner = app.state.lab_runner
    ran = runner is not None and await runner.stop(session_id)
    if ran is None:  # another close (the automatic one, or a second click) is closing it
        return

    def work() -> None:
        with app.state.sessions() as db:
            row = sessions.get_session(db, session_id)
            if row.status is not SessionStatus.running:
                return
            if row.kind == "lab" and not ran:  # nothing ran it here: its data are incomplete, so no evidence is computed
                sessions.fail_session(db, row, "no runner on this hub (it restarted while the session ran); "
                                               "start a new session")
                return
            user = None if user_id is None else db.get(User, user_id)
            sessions.close_session(db, row, app.state.store, user, wall_ns)

    await asyncio.to_thread(work)


@router.post("/challenges/{challenge_id}/sessions", status_code=201, responses=ERRORS,
             summary="Start a lab session of the challenge's pack for one of its teams: the hub runs the "
                     "scenario's simulator and an edge agent for it")
def start_session(request: Request, db: DB, who: Runs, challenge_id: int, body: SessionCreate) -> dict:
    visible_challenge(db, who, challenge_id)
    runner = _runner(request)
    row = domain_call(sessions.start_session, db, challenge_id, body.team_id, user_of(db, who), body.speed)
    try:
        ready = anyio.from_thread.run(runner.start, spec_of(row))
    except Exception as exc:
        sessions.fail_session(db, row, f"could not start: {exc}")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"session {row.id} could not start: {exc}") from None
    sessions.mark_started(db, row, ready["start_ns"])
    return sessions.view(row, show_truth=_sees_truth(who, row))


@router.post("/challenges/{challenge_id}/windows", status_code=201, responses=ERRORS,
             summary="Open a challenge window on real assets of the challenge for one of its teams; it is scored "
                     "at close against the fault and maintenance events mentors log")
def open_window(db: DB, who: Runs, challenge_id: int, body: WindowCreate) -> dict:
    visible_challenge(db, who, challenge_id)
    row = domain_call(sessions.open_window, db, challenge_id, body.team_id, user_of(db, who), body.edge, body.assets)
    return sessions.view(row, show_truth=True)


@router.post("/sessions/{session_id}/events", status_code=201, responses=ERRORS,
             summary="Log a fault or regime change on a real asset of an open window (its ground truth; mentors)")
def log_event(db: DB, who: Runs, session_id: int, body: EventIn) -> dict:
    row = _visible(db, who, session_id)
    return domain_call(sessions.log_event, db, row, user_of(db, who), body.asset, body.event, body.category,
                       body.start_ns, body.end_ns, body.note)


@router.get("/sessions", summary="Lab sessions in the caller's scope (a learner: their team's)")
def list_sessions(db: DB, who: Anyone, challenge: int | None = None) -> list[dict]:
    return [sessions.view(s, _sees_truth(who, s)) for s in sessions.list_sessions(db, who.scope, challenge)
            if sessions.visible_to(db, s, who.user_id, who.roles, who.scope)]


@router.get("/sessions/{session_id}", responses=ERRORS,
            summary="A session: state, deployments with lineage, evidence; the ground truth only to staff, "
                    "and to learners once it is closed")
def get_session(db: DB, who: Anyone, session_id: int) -> dict:
    row = _visible(db, who, session_id)
    return sessions.view(row, _sees_truth(who, row))


@router.post("/sessions/{session_id}/close", responses=ERRORS,
             summary="Close a running session: stop its simulator and edge, compute and store the evidence")
def close_session(request: Request, db: DB, who: Runs, session_id: int) -> dict:
    row = _visible(db, who, session_id)
    if row.status is not SessionStatus.running:
        raise HTTPException(status.HTTP_409_CONFLICT, f"session {session_id} is {row.status.value} already")
    if row.kind == "lab":
        _runner(request)
    anyio.from_thread.run(close_and_score, request.app, session_id, who.user_id, time.time_ns())
    db.expire_all()
    return sessions.view(_visible(db, who, session_id), show_truth=True)


@router.post("/sessions/{session_id}/deployments", status_code=202, responses=ERRORS,
             summary="Deploy a declared pipeline to an asset of the session: validated, signed by the hub, "
                     "verified by the edge, recorded with its lineage")
def deploy(request: Request, db: DB, who: Deployers, session_id: int, body: DeployIn,
           signer: Annotated[tuple, Depends(hub_signer)]) -> dict:
    row = _visible(db, who, session_id)
    if not sessions.may_deploy(db, row, who.user_id, who.roles):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the session's team, its mentors and hub operators deploy")
    user = user_of(db, who)
    cfg = domain_call(sessions.prepare_deployment, db, row, user, body.asset, body.pipeline, body.note)
    sent_ns = time.time_ns()
    sent = sign_and_publish(request.app.state.settings, signer, row.site, row.edge,
                            {"cmd": "deploy", "asset": body.asset, "pipeline": cfg.model_dump(mode="json")})
    dep = sessions.record_deployment(db, row, user, body.asset, cfg, sent.bundle_id, sent_ns)
    return {"deployment": dep.id, "asset": dep.asset, "name": dep.name, "hash": dep.config_hash,
            "parent": dep.parent_hash, "bundle_id": sent.bundle_id, "active_ns": dep.active_ns,
            "ledger_hash": dep.ledger_hash}


@router.get("/sessions/{session_id}/evidence", responses=ERRORS,
            summary="The evidence computed when the session closed, per asset (write-once, with its SHA-256)")
def evidence(db: DB, who: Anyone, session_id: int) -> list[dict]:
    row = _visible(db, who, session_id)
    return [{"id": e.id, "asset": e.asset, "computed_at": iso_utc(e.computed_at), "sha256": e.sha256,
             "ledger_hash": e.ledger_hash, "intact": ledger.sha256_of(e.document) == e.sha256,
             "document": e.document} for e in db.query(Evidence).filter_by(session_id=row.id).order_by(Evidence.asset)]


@router.post("/sessions/{session_id}/submissions", status_code=201, responses=ERRORS,
             summary="The team hands in its work (starts the 24-48 h mentor-feedback clock)")
def submit(db: DB, who: Learners, session_id: int, body: SubmissionIn) -> dict:
    _visible(db, who, session_id)
    return sla.submission_view(domain_call(sla.submit, db, session_id, user_of(db, who), body.note, body.links))


@router.get("/sessions/{session_id}/submissions", responses=ERRORS,
            summary="The session's submissions with feedback and service-level state")
def submissions(db: DB, who: Anyone, session_id: int) -> list[dict]:
    row = _visible(db, who, session_id)
    return [sla.submission_view(s) for s in db.query(Submission).filter_by(session_id=row.id).order_by(Submission.id)]


@router.post("/submissions/{submission_id}/feedback", responses=ERRORS,
             summary="A mentor's feedback on a submission (stops its service-level clock)")
def feedback(db: DB, who: Runs, submission_id: int, body: FeedbackIn) -> dict:
    sub = db.get(Submission, submission_id)
    if sub is None:
        raise HTTPException(404, f"no submission {submission_id}")
    _visible(db, who, sub.session_id)
    return sla.submission_view(domain_call(sla.give_feedback, db, submission_id, user_of(db, who), body.text))


@router.post("/sessions/{session_id}/scores", status_code=201, responses=ERRORS,
             summary="An assessor of the challenge scores the rubric (levels 1-4 per criterion, comments)")
def score(db: DB, who: Assessors, session_id: int, body: ScoreIn) -> dict:
    _visible(db, who, session_id)
    domain_call(assessment.submit_score, db, session_id, user_of(db, who), body.levels, body.comments)
    return assessment.state(db, session_id)


@router.get("/sessions/{session_id}/assessment", responses=ERRORS,
            summary="Stage of the dual assessment; staff see every score, learners the outcome once signed off")
def assessment_state(db: DB, who: Anyone, session_id: int) -> dict:
    _visible(db, who, session_id)
    st = assessment.state(db, session_id)
    if who.roles & STAFF_ROLES:
        return st
    return {"session": session_id, "stage": st["stage"], "outcome": st["outcome"]}


@router.post("/sessions/{session_id}/moderation", status_code=201, responses=ERRORS,
             summary="Moderate the criteria the assessors disagree on (a mentor or operator who did not score)")
def moderate(db: DB, who: Runs, session_id: int, body: ModerationIn) -> dict:
    _visible(db, who, session_id)
    domain_call(assessment.moderate, db, session_id, user_of(db, who), body.levels, body.rationale)
    return assessment.state(db, session_id)


@router.post("/sessions/{session_id}/signoff", status_code=201, responses=ERRORS,
             summary="Sign the assessment off: records the outcome (pass / not yet) and starts the credential clock")
def sign_off(db: DB, who: SignOff, session_id: int, body: SignOffIn) -> dict:
    _visible(db, who, session_id)
    outcome = domain_call(assessment.sign_off, db, session_id, user_of(db, who), body.note)
    return {**outcome.document, "credential_due_at": iso_utc(outcome.credential_due_at)}


@router.post("/sessions/{session_id}/credential-decision", responses=ERRORS,
             summary="Record the credential decision on a signed-off outcome (hub operators)")
def credential_decision(db: DB, who: Operator, session_id: int, body: CredentialDecisionIn) -> dict:
    _visible(db, who, session_id)
    oc = domain_call(assessment.record_credential_decision, db, session_id, user_of(db, who), body.decision)
    return {"session": session_id, "decision": oc.credential_decision,
            "decided_at": iso_utc(oc.credential_decided_at), "due_at": iso_utc(oc.credential_due_at)}


@router.get("/sla", summary="Service levels of the caller's sessions: mentor feedback (24-48 h) and credential "
                            "decisions (10 business days); overdue first")
def service_levels(db: DB, who: Staff) -> list[dict]:
    return sla.items(db, who.scope)


@router.get("/sessions/{session_id}/ledger", responses=ERRORS,
            summary="The session's entries in the tamper-evident log (deployments, evidence, assessment)")
def session_ledger(db: DB, who: Staff, session_id: int) -> list[dict]:
    _visible(db, who, session_id)
    return ledger.entries(db, f"session:{session_id}")


@router.get("/ledger/verify", summary="Recompute the whole hash chain of the tamper-evident log (hub operators)")
def verify_ledger(db: DB, who: Operator) -> dict:
    return ledger.verify_chain(db)
