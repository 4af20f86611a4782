"""The whole spine running in a background thread, for tests that drive it from outside."""

from __future__ import annotations

import asyncio
import threading

from cloud.hub import HubServer
from cloud.settings import HubSettings
from edge_agent.agent import EdgeAgent, load_edge_settings
from simulators.opcua_server import SimulatorServer
from simulators.rotating_machine import FaultEvent, RotatingMachine
from tests.servers import free_port


class Stack:
    """Simulator + edge agent + hub against ``broker_url``, in its own event loop thread."""

    def __init__(self, broker_url: str, db_path: str, onset_s: float, warmup: int = 20,
                 hub_keys: str | None = None) -> None:
        self.broker_url, self.db_path, self.onset_s, self.warmup = broker_url, db_path, onset_s, warmup
        self.hub_keys = hub_keys  # directory of <key_id>.pub.pem: the edge then obeys signed commands
        self.ready = threading.Event()
        self.hub: HubServer | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        try:
            self._stop = asyncio.Event()
            machine = RotatingMachine("pump-1", faults=[FaultEvent("outer_race", start_s=self.onset_s)], seed=4)
            self.hub = HubServer(HubSettings(broker=self.broker_url, db_path=self.db_path, http_port=free_port()))
            await self.hub.start()
            async with SimulatorServer([machine], port=free_port()) as sim:
                settings = load_edge_settings(
                    None, site="lab", edge_id="edge-1", broker=self.broker_url,
                    sources=[sim.source_config("pump-1")],
                    pipelines={"pump-1": {"window": 4096, "warmup": self.warmup}}, hub_keys=self.hub_keys,
                )
                self.ready.set()
                await EdgeAgent(settings).run(self._stop)
            await self.hub.stop()
        except BaseException as exc:  # surfaced to the test by stop()
            self.error = exc
            self.ready.set()

    def __enter__(self) -> "Stack":
        self._thread.start()
        if not self.ready.wait(60) or self.error:
            raise RuntimeError(f"stack did not start: {self.error!r}")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self.error:
            raise self.error
