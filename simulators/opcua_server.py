"""Serve simulated machines over a real OPC UA server (asyncua).

Address space, one object per asset under ``Objects/Assets``::

    Assets/<asset>/VibrationDE   Double[]  g     one block per update; the
                                                 DataValue's SourceTimestamp is
                                                 the time of the first sample
    Assets/<asset>/SampleRate    Double    Hz
    Assets/<asset>/ShaftSpeed    Double    rpm
    Assets/<asset>/Temperature   Double    degC
    Assets/<asset>/BlockSequence UInt64    count of blocks published

Node ids are strings in the namespace ``urn:teachfab:simulator``, e.g.
``<asset>.VibrationDE``, so clients can address them without browsing.
Each variable carries the standard ``EngineeringUnits`` property
(UNECE codes, OPC UA Part 8).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from asyncua import Server, ua

from simulators.rotating_machine import RotatingMachine

NAMESPACE_URI = "urn:teachfab:simulator"
log = logging.getLogger(__name__)

# UNECE Rec. 20 common codes packed as OPC UA Part 8 UnitIds.
_UNITS = {
    "g": ("G", "g", "standard acceleration of free fall"),
    "Hz": ("HTZ", "Hz", "hertz"),
    "rpm": ("RPM", "rpm", "revolutions per minute"),
    "degC": ("CEL", "°C", "degree Celsius"),
    "": ("C62", "1", "one"),
}


def _eu_information(unit: str) -> ua.EUInformation:
    code, display, description = _UNITS[unit]
    unit_id = 0
    for ch in code:
        unit_id = (unit_id << 8) | ord(ch)
    return ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(display),
        Description=ua.LocalizedText(description),
    )


@dataclass
class GroundTruthEvent:
    """A fault as it really happened, for scoring detections.

    Times are UTC epoch nanoseconds on the simulator clock.
    """

    event: str
    asset: str
    start_ns: int
    end_ns: int | None
    severity: float

    def as_dict(self) -> dict:
        """Return the event as a JSON-ready dict."""
        return {
            "event": self.event,
            "asset": self.asset,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "severity": self.severity,
        }


@dataclass
class _AssetNodes:
    machine: RotatingMachine
    vibration: object
    temperature: object
    sequence: object
    blocks: int = 0


@dataclass
class SimulatorServer:
    """Run machines in real time and publish them over OPC UA.

    Use as an async context manager; blocks are generated at wall-clock pace
    (``block_s`` seconds each) from the moment the server starts.

    Parameters
    ----------
    machines : list of RotatingMachine
        The simulated assets.
    host, port : str, int
        Endpoint to listen on (``opc.tcp://host:port/teachfab/``).
    block_s : float
        Duration of one waveform block in seconds.

    Examples
    --------
    >>> import asyncio
    >>> from simulators.rotating_machine import RotatingMachine
    >>> async def main():
    ...     async with SimulatorServer([RotatingMachine("m1")], port=0) as sim:
    ...         await asyncio.sleep(0.25)
    ...         return sim.blocks_published("m1") >= 1
    >>> asyncio.run(main())
    True
    """

    machines: list[RotatingMachine]
    host: str = "127.0.0.1"
    port: int = 4840
    block_s: float = 0.1
    start_ns: int = 0
    _server: Server | None = field(default=None, init=False, repr=False)
    _nodes: dict[str, _AssetNodes] = field(default_factory=dict, init=False, repr=False)
    _task: asyncio.Task | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        """The OPC UA endpoint URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}/teachfab/"

    async def __aenter__(self) -> "SimulatorServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the address space, open the endpoint and start streaming."""
        if self.port == 0:
            self.port = _free_port(self.host)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("TeachFab machine simulator")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE_URI)
        folder = await server.nodes.objects.add_folder(ua.NodeId("Assets", idx), f"{idx}:Assets")
        for m in self.machines:
            self._nodes[m.asset] = await self._add_asset(folder, idx, m)
        await server.start()
        self._server = server
        self.start_ns = time.time_ns()
        self._task = asyncio.create_task(self._stream(), name="simulator-stream")
        log.info("OPC UA simulator at %s with assets %s", self.endpoint, list(self._nodes))

    async def stop(self) -> None:
        """Stop streaming and close the endpoint."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def source_config(self, asset: str) -> dict:
        """The OPC UA adapter config that reads ``asset`` from this server.

        Examples
        --------
        >>> from simulators.rotating_machine import RotatingMachine
        >>> SimulatorServer([RotatingMachine("m1")], port=4841).source_config("m1")["waveforms"]
        {'vibration_de': 'm1.VibrationDE'}
        """
        if asset not in {m.asset for m in self.machines}:
            raise ValueError(f"no simulated asset {asset!r}; have {[m.asset for m in self.machines]}")
        return {
            "url": self.endpoint, "namespace": NAMESPACE_URI, "asset": asset,
            "rate_node": f"{asset}.SampleRate",
            "waveforms": {"vibration_de": f"{asset}.VibrationDE"},
            "scalars": {"temperature": f"{asset}.Temperature"},
            "units": {"vibration_de": "g", "temperature": "degC"},
        }

    def blocks_published(self, asset: str) -> int:
        """Number of waveform blocks published for ``asset``."""
        return self._nodes[asset].blocks

    def ground_truth(self) -> list[GroundTruthEvent]:
        """The scripted faults of every asset, on the simulator clock."""
        events = []
        for m in self.machines:
            for f in m.faults:
                end = None if f.end_s is None else self.start_ns + int(f.end_s * 1e9)
                events.append(
                    GroundTruthEvent(f.kind, m.asset, self.start_ns + int(f.start_s * 1e9), end, f.severity)
                )
        return events

    async def _add_asset(self, folder, idx: int, m: RotatingMachine) -> _AssetNodes:
        obj = await folder.add_object(ua.NodeId(m.asset, idx), f"{idx}:{m.asset}")
        n_block = int(round(m.fs * self.block_s))

        async def var(name: str, value, vtype, unit: str):
            node = await obj.add_variable(
                ua.NodeId(f"{m.asset}.{name}", idx), f"{idx}:{name}", ua.Variant(value, vtype)
            )
            await node.add_property(
                0, "EngineeringUnits", ua.Variant(_eu_information(unit), ua.VariantType.ExtensionObject)
            )
            return node

        vib = await var("VibrationDE", [0.0] * n_block, ua.VariantType.Double, "g")
        await var("SampleRate", m.fs, ua.VariantType.Double, "Hz")
        await var("ShaftSpeed", m.rpm, ua.VariantType.Double, "rpm")
        temp = await var("Temperature", m.temperature_c, ua.VariantType.Double, "degC")
        seq = await var("BlockSequence", 0, ua.VariantType.UInt64, "")
        return _AssetNodes(m, vib, temp, seq)

    async def _stream(self) -> None:
        k = 0
        while True:
            due = self.start_ns + int(k * self.block_s * 1e9)
            await asyncio.sleep(max(0.0, (due - time.time_ns()) / 1e9))
            stamp = datetime.fromtimestamp(due / 1e9, tz=timezone.utc)
            for nodes in self._nodes.values():
                n = int(round(nodes.machine.fs * self.block_s))
                block = nodes.machine.next_block(n)
                await nodes.vibration.write_value(
                    ua.DataValue(
                        ua.Variant(block.tolist(), ua.VariantType.Double),
                        SourceTimestamp=stamp,
                        ServerTimestamp=datetime.now(timezone.utc),
                    )
                )
                await nodes.temperature.write_value(
                    ua.DataValue(ua.Variant(nodes.machine.temperature_c, ua.VariantType.Double), SourceTimestamp=stamp)
                )
                nodes.blocks += 1
                await nodes.sequence.write_value(ua.Variant(nodes.blocks, ua.VariantType.UInt64))
            k += 1


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
