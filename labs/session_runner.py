"""The lab runner: for each running lab session, the scenario's OPC UA simulator and one edge agent.

The hub owns a :class:`LabRunner` and drives it from its API: starting a
session serves the pack's scenario on a free OPC UA port (scenario t = 0 at
the session's ``start_ns``, paced at its ``speed``) and starts an edge agent
for the session's site that reads it, runs the pack's starter pipeline and
publishes to the hub's broker. The agent trusts the hub's command key, so
learners' deployments reach it only through the hub's signed deploy path.
When the scenario's duration has passed, ``on_finished(session_id)`` is
called so the hub can close the session and compute its evidence.

Everything runs in the hub's event loop; for many concurrent sessions run
the hub replicas with sessions on one of them (docs/mentors.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: Longest OPC UA block (scenario seconds): at speed ``s`` a block covers ``min(1, 0.1·s)`` s.
MAX_BLOCK_S = 1.0


@dataclass
class SessionSpec:
    """What the runner needs to run one session (copied from the session's database row)."""

    session_id: int
    site: str
    edge: str
    scenario: str
    assets: list[str]
    start_ns: int
    speed: float
    duration_s: float
    pipelines: dict[str, dict]


@dataclass
class _Running:
    spec: SessionSpec
    sim: object
    stop: asyncio.Event
    edge_task: asyncio.Task
    timer: asyncio.Task | None = None
    keys: tempfile.TemporaryDirectory | None = field(default=None, repr=False)


class LabRunner:
    """Runs the simulators and edge agents of the hub's lab sessions.

    Parameters
    ----------
    broker : str
        The MQTT broker the hub ingests from (``mqtt://host:port``).
    hub_key_pem : str or Path
        The hub's Ed25519 private key (PEM): its public half is what the
        sessions' edge agents trust for deploy commands.
    key_id : str
        The key id the hub signs with.
    on_finished : callable, optional
        ``async on_finished(session_id)``: the scenario's duration has passed.
    mqtt_protocol : str
        MQTT version of the edge agents (``3.1.1`` or ``5``).
    """

    def __init__(self, broker: str, hub_key_pem: str | Path, key_id: str,
                 on_finished: Callable[[int], Awaitable[None]] | None = None, mqtt_protocol: str = "3.1.1") -> None:
        self.broker, self.hub_key_pem, self.key_id = broker, Path(hub_key_pem), key_id
        self.on_finished, self.mqtt_protocol = on_finished, mqtt_protocol
        self._running: dict[int, _Running] = {}

    def running(self) -> list[int]:
        """Ids of the sessions this runner runs."""
        return sorted(self._running)

    def _trusted_keys(self) -> tempfile.TemporaryDirectory:
        from edge_agent.signing import load_private_key, save_public_key

        tmp = tempfile.TemporaryDirectory(prefix="teachfab-session-keys-")
        save_public_key(load_private_key(self.hub_key_pem).public_key(), Path(tmp.name) / f"{self.key_id}.pub.pem")
        return tmp

    async def start(self, spec: SessionSpec) -> dict:
        """Serve the scenario and start the session's edge agent; return where it is served."""
        from edge_agent.agent import EdgeAgent, load_edge_settings
        from simulators.opcua_server import SimulatorServer
        from simulators.scenario import load_scenario

        if spec.session_id in self._running:
            raise RuntimeError(f"session {spec.session_id} runs already")
        scenario = load_scenario(spec.scenario)
        assets = [a for a in scenario.restart().assets if a.asset in spec.assets]
        block_s = min(MAX_BLOCK_S, 0.1 * max(1.0, spec.speed))
        sim = SimulatorServer(assets, port=0, epoch_ns=spec.start_ns, speed=spec.speed, block_s=block_s)
        await sim.start()
        keys = self._trusted_keys()
        try:
            settings = load_edge_settings(
                None, site=spec.site, edge_id=spec.edge, broker=self.broker, mqtt_protocol=self.mqtt_protocol,
                hub_keys=keys.name, sources=[{"adapter": "opcua", **sim.browse_config(a)} for a in spec.assets],
                pipelines=spec.pipelines)
            edge = EdgeAgent(settings)
        except Exception:
            await sim.stop()
            keys.cleanup()
            raise
        stop = asyncio.Event()
        task = asyncio.create_task(edge.run(stop), name=f"session-{spec.session_id}-edge")
        run = _Running(spec, sim, stop, task, keys=keys)
        if self.on_finished is not None:
            run.timer = asyncio.create_task(self._finish_after(spec), name=f"session-{spec.session_id}-timer")
        self._running[spec.session_id] = run
        log.info("session %s: scenario %s at %s, speed %g", spec.session_id, spec.scenario, sim.endpoint, spec.speed)
        return {"opcua": sim.endpoint}

    async def _finish_after(self, spec: SessionSpec) -> None:
        import time

        left = spec.start_ns / 1e9 + spec.duration_s / spec.speed - time.time()
        await asyncio.sleep(max(0.0, left))
        try:
            await self.on_finished(spec.session_id)
        except Exception:  # the session stays open; a mentor can close it by hand
            log.exception("session %s: automatic close failed", spec.session_id)

    async def stop(self, session_id: int, settle_s: float = 1.0) -> bool:
        """Stop the session's edge agent (flushing its outbox) and simulator; ``False`` if not running.

        Waits ``settle_s`` after the agent stopped so its last messages reach the hub.
        """
        run = self._running.pop(session_id, None)
        if run is None:
            return False
        current = asyncio.current_task()
        if run.timer is not None and run.timer is not current:
            run.timer.cancel()
        run.stop.set()
        with contextlib.suppress(Exception):
            await run.edge_task
        await run.sim.stop()
        if run.keys is not None:
            run.keys.cleanup()
        await asyncio.sleep(settle_s)
        return True

    async def stop_all(self) -> None:
        """Stop every session (hub shutdown); they stay open in the database for a mentor to close."""
        for session_id in list(self._running):
            await self.stop(session_id, settle_s=0.0)
