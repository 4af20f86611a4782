"""The lab service: start, deploy to, close and score lab sessions — what the routes and ``lab up`` share.

:mod:`cloud.challenges.sessions` holds the database work (synchronous, one
transaction each); this service puts it together with the two things a
session needs beyond the database: the :class:`~cloud.challenges.runner.LabRunner`
that runs a session's simulator and edge agent in a process of its own, and
the hub's :class:`~cloud.commands.service.CommandSigner` through which every
deployment reaches the edge. The hub creates one :class:`LabService` at
start-up (``app.state.lab``); its coroutines run in the hub's event loop and
do their database work in worker threads, so the loop never blocks on it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from cloud.access import Role
from cloud.accounts.models import User
from cloud.challenges import sessions
from cloud.challenges.hooks import LearningHooks
from cloud.challenges.models import LabSession, SessionStatus
from cloud.challenges.runner import LabRunner, SessionSpec
from cloud.challenges.schemas import DeploymentSent
from cloud.commands.service import CommandSigner
from cloud.errors import Forbidden, Unavailable
from cloud.telemetry.base import TelemetryStore

log = logging.getLogger(__name__)
NO_RUNNER = ("lab sessions need the hub's command key (TEACHFAB_HUB_COMMAND_KEY) and lab sessions on in this "
             "hub (TEACHFAB_HUB_LAB_SESSIONS): learners deploy through the signed command path")


class LabService:
    """Lab sessions of one hub: database rows, session processes and the signed deploy path.

    Parameters
    ----------
    db_sessions : sessionmaker
        The hub's session factory of the relational domain.
    store : TelemetryStore
        The telemetry store evidence is computed from.
    signer : CommandSigner or None
        The hub's command signer (no deployments without it).
    runner : LabRunner or None
        Runs sessions' processes; ``None`` on a hub that runs no lab sessions
        (a replica, or one without command key). Windows on real assets need none.
    """

    def __init__(self, db_sessions: sessionmaker[Session], store: TelemetryStore, signer: CommandSigner | None,
                 runner: LabRunner | None = None) -> None:
        self.db_sessions, self.store, self.signer, self.runner = db_sessions, store, signer, runner
        #: draws each session's variant seed; secret by default (tests replace it to replay a known variant)
        self.variant_seed: Callable[[], int] = lambda: secrets.randbelow(2**31)
        self.hooks: LearningHooks | None = None  # what the hub wires: profiles raised by evidence at close

    def _require_runner(self) -> LabRunner:
        if self.runner is None:
            raise Unavailable(NO_RUNNER)
        return self.runner

    async def start(self, challenge_id: int, team_id: int, user_id: int, speed: float = 1.0) -> int:
        """Start a session of the challenge's pack for ``team_id``; return its id once its edge listens.

        The session is recorded, its process started, and its clock, ground
        truth and starter deployment fixed to the moment the simulator began
        serving. A process that cannot start marks the session failed and
        raises :class:`~cloud.errors.Unavailable`.
        """
        runner = self._require_runner()

        def record() -> tuple[int, SessionSpec]:
            with self.db_sessions() as db:
                row = sessions.start_session(db, challenge_id, team_id, db.get(User, user_id), speed,
                                             variant_seed=self.variant_seed())
                return row.id, spec_of(row)

        session_id, spec = await asyncio.to_thread(record)
        try:
            ready = await runner.start(spec)
        except Exception as exc:
            await asyncio.to_thread(self._fail, session_id, f"could not start: {exc}")
            raise Unavailable(f"session {session_id} could not start: {exc}") from None
        await asyncio.to_thread(self._started, session_id, ready["start_ns"])
        return session_id

    def _started(self, session_id: int, start_ns: int) -> None:
        with self.db_sessions() as db:
            sessions.mark_started(db, sessions.get_session(db, session_id), start_ns)

    def _fail(self, session_id: int, error: str) -> None:
        with self.db_sessions() as db:
            sessions.fail_session(db, sessions.get_session(db, session_id), error)

    async def close(self, session_id: int, user_id: int | None, wall_ns: int | None = None) -> None:
        """Stop the session's simulator and edge, then close it and store its evidence (write-once).

        A window on real assets has nothing to stop; it is closed and scored
        as it is. A lab session that no runner of this hub ran (the hub
        restarted meanwhile) is marked failed: its data are incomplete.
        When another close of the same session is under way, this one waits
        for it and returns.
        """
        wall_ns = time.time_ns() if wall_ns is None else wall_ns
        ran = self.runner is not None and await self.runner.stop(session_id)
        if ran is None:  # another close (the automatic one, or a second click) is closing it
            return

        def work() -> None:
            with self.db_sessions() as db:
                row = sessions.get_session(db, session_id)
                if row.status is not SessionStatus.running:
                    return
                if row.kind == "lab" and not ran:
                    sessions.fail_session(db, row, "no runner on this hub (it restarted while the session "
                                                   "ran); start a new session")
                    return
                user = None if user_id is None else db.get(User, user_id)
                sessions.close_session(db, row, self.store, user, wall_ns, self.hooks)

        await asyncio.to_thread(work)

    def check_closable(self, session: LabSession) -> None:
        """Refuse a close this hub cannot carry out (a lab session needs the runner)."""
        sessions.require_running(session)
        if session.kind == "lab":
            self._require_runner()

    async def scenario_ended(self, session_id: int) -> None:
        """The runner's call when a session's scenario has run its duration: close it automatically."""
        await self.close(session_id, None)

    def deploy(self, db: Session, session: LabSession, user: User, roles: frozenset[Role], asset: str,
               pipeline: dict, note: str = "") -> DeploymentSent:
        """Validate, sign and publish a pipeline for one asset of ``session``; record it with its lineage.

        Learners of the team, the challenge's mentors and hub operators may
        deploy; the edge's answer arrives later on ``cmd_result`` and decides
        whether the deployment counts in the evidence.
        """
        if not sessions.may_deploy(db, session, user.id, roles):
            raise Forbidden("only the session's team, its mentors and hub operators deploy")
        if self.signer is None:
            raise Unavailable(NO_RUNNER)
        cfg = sessions.prepare_deployment(db, session, user, asset, pipeline, note)
        sent_ns = time.time_ns()
        sent = self.signer.send(session.site, session.edge,
                                {"cmd": "deploy", "asset": asset, "pipeline": cfg.model_dump(mode="json")})
        dep = sessions.record_deployment(db, session, user, asset, cfg, sent.bundle_id, sent_ns)
        return DeploymentSent(deployment=dep.id, asset=dep.asset, name=dep.name, hash=dep.config_hash,
                              parent=dep.parent_hash, bundle_id=sent.bundle_id, active_ns=dep.active_ns,
                              ledger_hash=dep.ledger_hash)

    async def stop_all(self) -> None:
        """Stop every session process of this hub (shutdown); the sessions stay open for a mentor to close."""
        if self.runner is not None:
            await self.runner.stop_all()


def spec_of(session: LabSession) -> SessionSpec:
    """What the runner needs to run ``session``: its names, scenario, clock and current pipelines."""
    pipelines = sessions.starter_pipelines(session)
    pipelines.update({d.asset: d.pipeline for d in session.deployments})  # the newest per asset wins
    started = session.start_ns if session.deployments else None  # None: t = 0 when the simulator serves
    return SessionSpec(session.id, session.site, session.edge, session.scenario, list(session.assets),
                       started, session.speed, session.duration_s, pipelines, sessions.scenario_document(session))
