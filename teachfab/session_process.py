"""``python -m teachfab.session_process DOC``: one lab session's simulator and edge agent.

Started by the hub's :class:`cloud.challenges.runner.LabRunner`, one process
per running session. It serves the session's scenario over OPC UA on a free
port (scenario t = 0 when it starts serving, paced at the session's
``speed``), runs an edge agent for the session's site that reads it, runs the
session's pipelines and publishes to the hub's broker, and trusts only the
hub's command key. It prints one JSON line ``{"opcua": endpoint, "start_ns":
t0}`` once the agent listens for commands, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Callable

from cloud.challenges.runner import START_TIMEOUT_S, SessionSpec
from edge_agent.agent import EdgeAgent, load_edge_settings
from simulators.opcua_server import SimulatorServer
from simulators.scenario import load_scenario

#: Longest OPC UA block (scenario seconds): at speed ``s`` a block covers ``min(1, 0.1·s)`` s.
MAX_BLOCK_S = 1.0


async def serve_session(spec: SessionSpec, broker: str, hub_keys: str, mqtt_protocol: str = "3.1.1",
                        stop: asyncio.Event | None = None, ready: Callable[[dict], None] | None = None,
                        state_dir: str | None = None) -> None:
    """Serve the session's scenario over OPC UA and run its edge agent until ``stop`` is set.

    ``state_dir`` is where the edge keeps the replay protection of signed
    commands, under the hub's own state directory (the outbox stays in
    memory: a session's telemetry is not worth a disk write per record).
    """
    stop = stop or asyncio.Event()
    scenario = load_scenario(spec.scenario_doc if spec.scenario_doc is not None else spec.scenario)
    assets = [a for a in scenario.restart().assets if a.asset in spec.assets]
    block_s = min(MAX_BLOCK_S, 0.1 * max(1.0, spec.speed))
    async with SimulatorServer(assets, port=0, epoch_ns=spec.start_ns, speed=spec.speed, block_s=block_s) as sim:
        settings = load_edge_settings(
            None, site=spec.site, edge_id=spec.edge, broker=broker, mqtt_protocol=mqtt_protocol, hub_keys=hub_keys,
            command_state_dir=state_dir,
            sources=[{"adapter": "opcua", **sim.browse_config(a)} for a in spec.assets], pipelines=spec.pipelines)
        edge = EdgeAgent(settings)
        task = asyncio.create_task(edge.run(stop), name=f"session-{spec.session_id}-edge")
        # ready only once the agent listens for commands: a deploy published earlier would be lost
        deadline = time.monotonic() + START_TIMEOUT_S
        while not edge.publisher.connected.is_set() and not task.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not edge.publisher.connected.is_set():
            stop.set()
            await task
            raise RuntimeError(f"the session's edge agent could not connect to {broker}")
        if ready is not None:
            ready({"opcua": sim.endpoint, "start_ns": sim.start_ns})
        await task


def main(argv: list[str] | None = None) -> int:
    """Run one session until SIGTERM; ``argv`` is ``[DOC]``, the JSON document the hub passes."""
    doc = json.loads((argv or sys.argv[1:])[0])
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s session-{doc['spec']['session_id']} "
                                                      "%(levelname)s %(name)s: %(message)s")
    spec = SessionSpec(**doc["spec"])

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(info: dict) -> None:
            print(json.dumps(info), flush=True)

        await serve_session(spec, doc["broker"], doc["hub_keys"], doc.get("mqtt_protocol", "3.1.1"), stop, ready,
                            doc.get("state_dir"))

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
