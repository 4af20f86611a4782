"""Routes of lab sessions and windows, deployments, evidence, submissions, dual assessment and service levels.

Thin over :class:`cloud.challenges.lab.LabService` (``app.state.lab``: what
needs the session processes or the command signer) and the service modules
(:mod:`~cloud.challenges.sessions`, :mod:`~cloud.challenges.assessment`,
:mod:`~cloud.challenges.sla`, :mod:`~cloud.challenges.ledger`). The lab
service's coroutines run in the hub's event loop; these synchronous routes
reach them with ``anyio.from_thread``.
"""

from __future__ import annotations

import time
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Depends, Request

from cloud.access import DB, Anyone, Operator, Principal, Role, RoleGate, Staff
from cloud.accounts.service import user_of
from cloud.challenges import assessment, ledger, sessions, sla
from cloud.challenges.checkpoints import LedgerCheckpoints
from cloud.challenges.lab import LabService
from cloud.challenges.models import LabSession
from cloud.challenges.router import Runs
from cloud.challenges.schemas import (AssessmentState, AssessmentSummary, CheckpointPublished, CredentialDecision,
                                      CredentialDecisionIn, DeployIn, DeploymentSent, EventIn, EvidencePublic,
                                      FeedbackIn, GroundTruthEvent, LedgerCheck, LedgerEntryView, ModerationIn, OutcomeView, ScoreIn, SessionCreate,
                                      SessionView, SignOffIn, SlaItem, SubmissionIn, SubmissionView, WindowCreate)
from cloud.challenges.teams import visible_challenge
from cloud.commands.router import Signer
from cloud.errors import ERROR_RESPONSES, NotFound

router = APIRouter(prefix="/api", tags=["sessions"])
Deployers = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.mentor, Role.learner))]
Learners = Annotated[Principal, Depends(RoleGate(Role.learner))]
Assessors = Annotated[Principal, Depends(RoleGate(Role.assessor))]
SignOff = Annotated[Principal, Depends(RoleGate(Role.hub_operator, Role.assessor))]
ERRORS = {**ERROR_RESPONSES, 503: {"description": "the hub runs no lab sessions, or a session could not start"}}


def _lab(request: Request) -> LabService:
    return request.app.state.lab


Lab = Annotated[LabService, Depends(_lab)]


def _visible(db: DB, who: Principal, session_id: int) -> LabSession:
    row = db.get(LabSession, session_id)
    if row is None or not sessions.visible_to(db, row, who.user_id, who.roles, who.scope):
        raise NotFound(f"no session {session_id} in your scope")
    return row


def _view(who: Principal, row: LabSession) -> dict:
    return sessions.view(row, show_truth=sessions.sees_truth(who.roles, row))


@router.post("/challenges/{challenge_id}/sessions", response_model=SessionView, status_code=201, responses=ERRORS,
             summary="Start a lab session of the challenge's pack for one of its teams: the hub runs the "
                     "scenario's simulator and an edge agent for it")
def start_session(db: DB, who: Runs, lab: Lab, challenge_id: int, body: SessionCreate) -> dict:
    visible_challenge(db, who.scope, challenge_id)
    session_id = anyio.from_thread.run(lab.start, challenge_id, body.team_id, who.user_id, body.speed)
    return _view(who, sessions.get_session(db, session_id))


@router.post("/challenges/{challenge_id}/windows", response_model=SessionView, status_code=201, responses=ERRORS,
             summary="Open a challenge window on real assets of the challenge for one of its teams; it is scored "
                     "at close against the fault and maintenance events mentors log")
def open_window(db: DB, who: Runs, challenge_id: int, body: WindowCreate) -> dict:
    visible_challenge(db, who.scope, challenge_id)
    row = sessions.open_window(db, challenge_id, body.team_id, user_of(db, who), body.edge, body.assets)
    return sessions.view(row, show_truth=True)


@router.post("/sessions/{session_id}/events", response_model=GroundTruthEvent, status_code=201, responses=ERRORS,
             summary="Log a fault or regime change on a real asset of an open window (its ground truth; mentors)")
def log_event(db: DB, who: Runs, session_id: int, body: EventIn) -> dict:
    row = _visible(db, who, session_id)
    return sessions.log_event(db, row, user_of(db, who), body.asset, body.event, body.category, body.start_ns,
                              body.end_ns, body.note)


@router.get("/sessions", response_model=list[SessionView],
            summary="Lab sessions in the caller's scope (a learner: their team's)")
def list_sessions(db: DB, who: Anyone, challenge: int | None = None) -> list[dict]:
    return [_view(who, s) for s in sessions.list_sessions(db, who.scope, challenge)
            if sessions.visible_to(db, s, who.user_id, who.roles, who.scope)]


@router.get("/sessions/{session_id}", response_model=SessionView, responses=ERRORS,
            summary="A session: state, deployments with lineage, evidence; the ground truth only to staff, "
                    "and to learners once it is closed")
def get_session(db: DB, who: Anyone, session_id: int) -> dict:
    return _view(who, _visible(db, who, session_id))


@router.post("/sessions/{session_id}/close", response_model=SessionView, responses=ERRORS,
             summary="Close a running session: stop its simulator and edge, compute and store the evidence")
def close_session(db: DB, who: Runs, lab: Lab, session_id: int) -> dict:
    lab.check_closable(_visible(db, who, session_id))
    anyio.from_thread.run(lab.close, session_id, who.user_id, time.time_ns())
    db.expire_all()
    return sessions.view(_visible(db, who, session_id), show_truth=True)


@router.post("/sessions/{session_id}/deployments", response_model=DeploymentSent, status_code=202, responses=ERRORS,
             summary="Deploy a declared pipeline to an asset of the session: validated, signed by the hub, "
                     "verified by the edge, recorded with its lineage")
def deploy(db: DB, who: Deployers, _signer: Signer, lab: Lab, session_id: int, body: DeployIn) -> DeploymentSent:
    # _signer: after the role gate, 503 when the hub cannot sign (before looking the session up)
    row = _visible(db, who, session_id)
    return lab.deploy(db, row, user_of(db, who), who.roles, body.asset, body.pipeline, body.note)


@router.get("/sessions/{session_id}/evidence", response_model=list[EvidencePublic], responses=ERRORS,
            summary="The evidence computed when the session closed, per asset (write-once, with its SHA-256)")
def evidence(db: DB, who: Anyone, session_id: int) -> list[dict]:
    return sessions.evidence_of(db, _visible(db, who, session_id))


@router.post("/sessions/{session_id}/submissions", response_model=SubmissionView, status_code=201, responses=ERRORS,
             summary="The team hands in its work (starts the 24-48 h mentor-feedback clock)")
def submit(db: DB, who: Learners, session_id: int, body: SubmissionIn) -> dict:
    _visible(db, who, session_id)
    return sla.submission_view(sla.submit(db, session_id, user_of(db, who), body.note, body.links))


@router.get("/sessions/{session_id}/submissions", response_model=list[SubmissionView], responses=ERRORS,
            summary="The session's submissions with feedback and service-level state")
def submissions(db: DB, who: Anyone, session_id: int) -> list[dict]:
    return [sla.submission_view(s) for s in sla.submissions_of(db, _visible(db, who, session_id).id)]


@router.post("/submissions/{submission_id}/feedback", response_model=SubmissionView, responses=ERRORS,
             summary="A mentor's feedback on a submission (stops its service-level clock)")
def feedback(db: DB, who: Runs, submission_id: int, body: FeedbackIn) -> dict:
    _visible(db, who, sla.get_submission(db, submission_id).session_id)
    return sla.submission_view(sla.give_feedback(db, submission_id, user_of(db, who), body.text))


@router.post("/sessions/{session_id}/scores", response_model=AssessmentState, status_code=201, responses=ERRORS,
             summary="An assessor of the challenge scores the rubric (levels 1-4 per criterion, comments)")
def score(db: DB, who: Assessors, session_id: int, body: ScoreIn) -> dict:
    _visible(db, who, session_id)
    assessment.submit_score(db, session_id, user_of(db, who), body.levels, body.comments)
    return assessment.state(db, session_id)


@router.get("/sessions/{session_id}/assessment", response_model=AssessmentState | AssessmentSummary,
            responses=ERRORS,
            summary="Stage of the dual assessment; staff see every score, learners the outcome once signed off")
def assessment_state(db: DB, who: Anyone, session_id: int) -> dict:
    _visible(db, who, session_id)
    return assessment.state_for(db, session_id, staff=sessions.is_staff(who.roles))


@router.post("/sessions/{session_id}/moderation", response_model=AssessmentState, status_code=201, responses=ERRORS,
             summary="Moderate the criteria the assessors disagree on (a mentor or operator who did not score)")
def moderate(db: DB, who: Runs, session_id: int, body: ModerationIn) -> dict:
    _visible(db, who, session_id)
    assessment.moderate(db, session_id, user_of(db, who), body.levels, body.rationale)
    return assessment.state(db, session_id)


@router.post("/sessions/{session_id}/signoff", response_model=OutcomeView, status_code=201, responses=ERRORS,
             summary="Sign the assessment off: records the outcome (pass / not yet) and starts the credential clock")
def sign_off(request: Request, db: DB, who: SignOff, session_id: int, body: SignOffIn) -> dict:
    _visible(db, who, session_id)
    hooks = getattr(request.app.state, "hooks", None)  # the skills area's profile updates (cloud/hub.py)
    return assessment.outcome_view(assessment.sign_off(db, session_id, user_of(db, who), body.note, hooks))


@router.post("/sessions/{session_id}/credential-decision", response_model=CredentialDecision, responses=ERRORS,
             summary="Record the credential decision on a signed-off outcome (hub operators); 'issued' issues "
                     "the learners' credentials")
def credential_decision(request: Request, db: DB, who: Operator, session_id: int, body: CredentialDecisionIn) -> dict:
    _visible(db, who, session_id)
    hooks = getattr(request.app.state, "hooks", None)  # the credentials area issues (cloud/hub.py)
    return assessment.decision_view(assessment.record_credential_decision(db, session_id, user_of(db, who),
                                                                          body.decision, hooks))


@router.get("/sla", response_model=list[SlaItem],
            summary="Service levels of the caller's sessions: mentor feedback (24-48 h) and credential "
                    "decisions (10 business days); overdue first")
def service_levels(db: DB, who: Staff) -> list[dict]:
    return sla.items(db, who.scope)


@router.get("/sessions/{session_id}/ledger", response_model=list[LedgerEntryView], responses=ERRORS,
            summary="The session's entries in the tamper-evident log (deployments, evidence, assessment)")
def session_ledger(db: DB, who: Staff, session_id: int) -> list[dict]:
    _visible(db, who, session_id)
    return ledger.entries(db, f"session:{session_id}")


def _checkpoints(request: Request) -> LedgerCheckpoints:
    return request.app.state.ledger_checkpoints


Checkpoints = Annotated[LedgerCheckpoints, Depends(_checkpoints)]


@router.get("/ledger/verify", response_model=LedgerCheck,
            summary="Recompute the hash chain of the tamper-evident log, check every evidence row against it "
                    "and the chain against the signed checkpoints (hub operators)")
def verify_ledger(db: DB, who: Operator, book: Checkpoints) -> dict:
    chain = ledger.verify_chain(db)
    evidence = ledger.evidence_problems(db)
    anchored = book.check(db)
    return {**chain, "ok": chain["ok"] and not evidence and anchored["ok"],
            "chain_ok": chain["ok"], "evidence": [{"id": i, "problem": p} for i, p in sorted(evidence.items())],
            "checkpoints": anchored}


@router.get("/ledger/checkpoints/latest", response_model=CheckpointPublished, responses=ERRORS,
            summary="The newest signed checkpoint of the log's head and the key that verifies it: keep a copy")
def latest_checkpoint(who: Anyone, book: Checkpoints) -> dict:
    bundle = book.latest()
    if bundle is None:
        raise NotFound("no checkpoint has been written yet")
    return {"bundle": bundle, "public_key_pem": book.public_pem()}


@router.post("/ledger/checkpoints", response_model=CheckpointPublished, status_code=201, responses=ERRORS,
             summary="Sign the log's current head as a checkpoint, written outside the database (hub operators)")
def write_checkpoint(db: DB, who: Operator, book: Checkpoints) -> dict:
    return {"bundle": book.write(db), "public_key_pem": book.public_pem()}
