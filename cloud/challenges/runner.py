"""The lab runner: each running lab session's OPC UA simulator and edge agent, in a process of its own.

The hub owns a :class:`LabRunner` and drives it from its API: starting a
session spawns the session command (default ``python -m
teachfab.session_process DOC``, see :data:`SESSION_COMMAND`) which serves the
pack's scenario on a free OPC UA port (scenario t = 0 when it starts
serving — reported back as ``start_ns`` — paced at the session's ``speed``) and runs an edge agent for the
session's site that reads it, runs the session's pipelines and publishes
to the hub's broker. The agent trusts only the hub's command key, so
learners' deployments reach it through the hub's signed deploy path.
When the scenario's duration has passed, ``on_finished(session_id)`` is
called so the hub can close the session and compute its evidence.

One process per session keeps the hub responsive however hard a session
computes (a 25.6 kHz pipeline at 10× speed is a full core's worth of
work), and a session that crashes takes nothing else down.

The hub and the session process speak over the process boundary only: the
hub passes one JSON document (:class:`SessionSpec` and where to publish)
as the last argument, the process prints one JSON line ``{"opcua": endpoint,
"start_ns": t0}`` once its simulator serves and its edge listens for
commands, and stops its edge (flushing the outbox) on SIGTERM. The session
process composes simulators and an edge agent, so it belongs to the
commands on top of the hub (:mod:`teachfab.session_process`), not to it.

On a broker that admits no anonymous client, the runner asks its
:class:`BrokerAccess` (the onboarding area's, wired by the hub) for a broker
user of the session's own: granted before the process starts, limited by
the broker's ACL to the session edge's topics, and released when the
session stops. The process gets the user and password in its environment
(``TEACHFAB_EDGE_BROKER_USERNAME`` / ``_PASSWORD`` / ``_CA``), never on its
command line, which every local user can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.signing import save_public_key

log = logging.getLogger(__name__)

#: The program a session runs as; the hub appends the JSON document.
SESSION_COMMAND = (sys.executable, "-m", "teachfab.session_process")
#: How long a session process may take to come up (imports, kernel cache, OPC UA server).
START_TIMEOUT_S = 90.0


@dataclass
class SessionSpec:
    """What the runner needs to run one session (copied from the session's database row)."""

    session_id: int
    site: str
    edge: str
    scenario: str
    assets: list[str]
    start_ns: int | None  # scenario t = 0 on the epoch clock; None: when the simulator starts serving
    speed: float
    duration_s: float
    pipelines: dict[str, dict]
    scenario_doc: dict | None = None  # the drawn assessed variant; None: the shipped script named by ``scenario``


class BrokerAccess(Protocol):
    """Broker users for lab sessions (the onboarding area's :class:`~cloud.onboarding.kits.SessionBrokerAccess`)."""

    def grant(self, spec: SessionSpec) -> dict[str, str] | None:
        """A user for the session's edge, ``{"username", "password", "ca"}`` (``ca`` may be ``""``); ``None``:
        the broker is not managed by the hub (the edge connects as configured)."""

    def release(self, spec: SessionSpec) -> None:
        """Remove the session's user (its connection is dropped)."""


@dataclass
class _Running:
    spec: SessionSpec
    proc: asyncio.subprocess.Process
    timer: asyncio.Task | None = None
    keys: tempfile.TemporaryDirectory | None = field(default=None, repr=False)


class LabRunner:
    """Runs the simulators and edge agents of the hub's lab sessions, one process per session.

    Parameters
    ----------
    broker : str
        The MQTT broker the hub ingests from (``mqtt://host:port``).
    hub_public_key : Ed25519PublicKey
        The public half of the hub's command key: what the sessions' edge
        agents trust for deploy commands (the runner never sees the private key).
    key_id : str
        The key id the hub signs with.
    on_finished : callable, optional
        ``async on_finished(session_id)``: the scenario's duration has passed.
    mqtt_protocol : str
        MQTT version of the edge agents (``3.1.1`` or ``5``).
    command : sequence of str
        The session program (:data:`SESSION_COMMAND`); the JSON document is appended.
    state_root : Path, optional
        The hub's state directory: each session's edge keeps the replay
        protection of signed commands in ``state_root/sessions/<site>``, so a
        restarted session edge still refuses a replayed bundle. ``None``:
        the edge's default.
    access : BrokerAccess, optional
        Grants each session a broker user of its own (a secured broker).
    """

    def __init__(self, broker: str, hub_public_key: Ed25519PublicKey, key_id: str,
                 on_finished: Callable[[int], Awaitable[None]] | None = None, mqtt_protocol: str = "3.1.1",
                 command: Sequence[str] = SESSION_COMMAND, state_root: Path | None = None,
                 access: BrokerAccess | None = None) -> None:
        self.state_root, self.access = state_root, access
        self.broker, self.hub_public_key, self.key_id = broker, hub_public_key, key_id
        self.on_finished, self.mqtt_protocol, self.command = on_finished, mqtt_protocol, tuple(command)
        self._running: dict[int, _Running] = {}
        self._stopping: dict[int, asyncio.Event] = {}

    def running(self) -> list[int]:
        """Ids of the sessions this runner runs."""
        return sorted(self._running)

    def _trusted_keys(self) -> tempfile.TemporaryDirectory:
        tmp = tempfile.TemporaryDirectory(prefix="teachfab-session-keys-")
        save_public_key(self.hub_public_key, Path(tmp.name) / f"{self.key_id}.pub.pem")
        return tmp

    async def start(self, spec: SessionSpec) -> dict:
        """Spawn the session's process; return once it serves (``{"opcua": endpoint, "start_ns": t0}``)."""
        if spec.session_id in self._running:
            raise RuntimeError(f"session {spec.session_id} runs already")
        keys = self._trusted_keys()
        doc = {"spec": dataclasses.asdict(spec), "broker": self.broker, "hub_keys": keys.name,
               "mqtt_protocol": self.mqtt_protocol,
               "state_dir": None if self.state_root is None else str(self.state_root / "sessions" / spec.site)}
        env = None
        try:
            granted = None if self.access is None else await asyncio.to_thread(self.access.grant, spec)
            if granted is not None:
                env = {**os.environ, "TEACHFAB_EDGE_BROKER_USERNAME": granted["username"],
                       "TEACHFAB_EDGE_BROKER_PASSWORD": granted["password"]}
                if granted.get("ca"):
                    env["TEACHFAB_EDGE_BROKER_CA"] = granted["ca"]
            proc = await asyncio.create_subprocess_exec(*self.command, json.dumps(doc), env=env,
                                                        stdout=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent)
        except BaseException:
            keys.cleanup()
            await self._release(spec)
            raise
        try:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)
            except asyncio.TimeoutError:
                raise RuntimeError(f"the session process did not serve within {START_TIMEOUT_S:.0f} s (its edge "
                                   "could not reach the broker?); see the hub log") from None
            ready = json.loads(line) if line.startswith(b"{") else None
            if not ready:
                raise RuntimeError(f"session process exited ({await proc.wait()}) before serving; see the hub log")
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            keys.cleanup()
            await self._release(spec)
            raise
        spec = dataclasses.replace(spec, start_ns=ready["start_ns"])
        run = _Running(spec, proc, keys=keys)
        if self.on_finished is not None:
            run.timer = asyncio.create_task(self._finish_after(spec), name=f"session-{spec.session_id}-timer")
        self._running[spec.session_id] = run
        log.info("session %s: scenario %s at %s, speed %g (pid %s)", spec.session_id, spec.scenario,
                 ready["opcua"], spec.speed, proc.pid)
        return ready

    async def _finish_after(self, spec: SessionSpec) -> None:
        left = spec.start_ns / 1e9 + spec.duration_s / spec.speed - time.time()
        await asyncio.sleep(max(0.0, left))
        try:
            await self.on_finished(spec.session_id)
        except Exception:  # the session stays open; a mentor can close it by hand
            log.exception("session %s: automatic close failed", spec.session_id)

    async def stop(self, session_id: int, settle_s: float = 1.0) -> bool | None:
        """Stop the session's process (its edge agent flushes its outbox first).

        Returns ``True`` when this call stopped it, ``None`` when another call
        was stopping it (this one waits for that), ``False`` when it was not
        running here. Waits ``settle_s`` afterwards so the agent's last
        messages reach the hub.
        """
        if session_id in self._stopping:
            await self._stopping[session_id].wait()
            return None
        run = self._running.get(session_id)
        if run is None:
            return False
        self._stopping[session_id] = done = asyncio.Event()
        try:
            await self._terminate(session_id, run, settle_s)
        finally:
            self._running.pop(session_id, None)
            del self._stopping[session_id]
            done.set()
        return True

    async def _terminate(self, session_id: int, run: _Running, settle_s: float) -> None:
        if run.timer is not None and run.timer is not asyncio.current_task():
            run.timer.cancel()
        with contextlib.suppress(ProcessLookupError):
            run.proc.terminate()
        try:
            await asyncio.wait_for(run.proc.wait(), 30)
        except asyncio.TimeoutError:
            log.error("session %s: process did not stop in 30 s; killing it", session_id)
            run.proc.kill()
            await run.proc.wait()
        if run.keys is not None:
            run.keys.cleanup()
        await self._release(run.spec)
        await asyncio.sleep(settle_s)

    async def _release(self, spec: SessionSpec) -> None:
        if self.access is None:
            return
        try:
            await asyncio.to_thread(self.access.release, spec)
        except Exception:  # the user stays until the hub restarts (the broker's files are rewritten then)
            log.exception("session %s: could not remove its broker user", spec.session_id)

    async def stop_all(self) -> None:
        """Stop every session (hub shutdown); they stay open in the database for a mentor to close."""
        for session_id in list(self._running):
            await self.stop(session_id, settle_s=0.0)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the session process gets SIGTERM when the hub dies, even by SIGKILL (no orphaned sessions)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
