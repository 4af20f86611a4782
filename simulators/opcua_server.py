"""Serve simulated assets over a real OPC UA server (asyncua).

Address space, one object per asset under ``Objects/Assets``::

    Assets/<asset>/<Channel>       Double[] per waveform channel: one block per
                                   update; the DataValue's SourceTimestamp is the
                                   time of the block's first sample; a
                                   ``SampleRate`` property (Hz) on the variable
    Assets/<asset>/<Channel>       Double per scalar channel
    Assets/<asset>/BlockSequence   UInt64, blocks published so far

Channel names map to browse names in CamelCase (``vibration_de`` →
``VibrationDe``); node ids are strings ``<asset>.<BrowseName>`` in the
namespace ``urn:teachfab:simulator``. Every variable carries the standard
``EngineeringUnits`` property (UNECE codes, OPC UA Part 8).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from asyncua import Server, ua
from asyncua.server.user_managers import User, UserManager, UserRole

from simulators.base import SimAsset, cancel_task

NAMESPACE_URI = "urn:teachfab:simulator"
log = logging.getLogger(__name__)

# UNECE Rec. 20 common codes packed as OPC UA Part 8 UnitIds.
_UNITS = {
    "g": ("G", "g", "standard acceleration of free fall"),
    "m/s2": ("MSK", "m/s²", "metre per second squared"),
    "mm/s": ("C16", "mm/s", "millimetre per second"),
    "A": ("AMP", "A", "ampere"),
    "V": ("VLT", "V", "volt"),
    "Hz": ("HTZ", "Hz", "hertz"),
    "rpm": ("RPM", "rpm", "revolutions per minute"),
    "degC": ("CEL", "degC", "degree Celsius"),
    "%": ("P1", "%", "percent"),
    "": ("C62", "1", "one"),
}


def _eu_information(unit: str) -> ua.EUInformation:
    """EUInformation for ``unit``; units without a UNECE code get UnitId -1."""
    code, display, description = _UNITS.get(unit, (None, unit, unit))
    unit_id = -1
    if code is not None:
        unit_id = 0
        for ch in code:
            unit_id = (unit_id << 8) | ord(ch)
    return ua.EUInformation(
        NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(display),
        Description=ua.LocalizedText(description),
    )


def browse_name(channel: str) -> str:
    """Browse name of a channel: ``vibration_de`` → ``VibrationDe``.

    Examples
    --------
    >>> browse_name("vibration_de"), browse_name("temperature")
    ('VibrationDe', 'Temperature')
    """
    return "".join(part.capitalize() for part in channel.split("_"))


@dataclass
class GroundTruthEvent:
    """A scripted event as it really happened, for scoring detections.

    Times are UTC epoch nanoseconds on the simulator clock.
    """

    event: str
    asset: str
    start_ns: int
    end_ns: int | None
    severity: float

    def as_dict(self) -> dict:
        """Return the event as a JSON-ready dict."""
        return {"event": self.event, "asset": self.asset, "start_ns": self.start_ns,
                "end_ns": self.end_ns, "severity": self.severity}


@dataclass
class _AssetNodes:
    asset: SimAsset
    variables: dict[str, object]
    sequence: object
    blocks: int = 0
    sent: dict[str, int] = field(default_factory=dict)


@dataclass
class SimulatorServer:
    """Run simulated assets in real time and publish them over OPC UA.

    Use as an async context manager; every ``block_s`` seconds of wall
    clock each asset advances by ``block_s`` and its new data is written.

    Parameters
    ----------
    assets : list of SimAsset
        The simulated assets (see :mod:`simulators.base`).
    host, port : str, int
        Endpoint to listen on (``opc.tcp://host:port/teachfab/``); port 0
        picks a free one.
    block_s : float
        Duration of one waveform block in seconds.
    certificate, private_key : str or None
        Server certificate (DER/PEM) and key (PEM). With them the endpoint
        offers Basic256Sha256 Sign and SignAndEncrypt *instead of* None, as a
        plant server would; without them, security mode None only.
    users : dict or None
        Username → password; with it anonymous sessions are refused.
    epoch_ns : int or None
        Wall-clock time (UTC epoch ns) of the scenario's t = 0, shared by
        several servers of one scenario; default: when :meth:`start` runs.
        Blocks due before the server was up are published at once.
    speed : float
        Scenario seconds per wall-clock second. Above 1 a remote lab session
        (or a test) runs a 10-minute scenario in less; the data keep their
        scenario timestamps (``epoch_ns`` + scenario time), so alerts and the
        ground truth stay on one clock.

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

    assets: list[SimAsset]
    host: str = "127.0.0.1"
    port: int = 4840
    block_s: float = 0.1
    certificate: str | None = None
    private_key: str | None = None
    users: dict[str, str] | None = None
    epoch_ns: int | None = None
    speed: float = 1.0
    start_ns: int = field(default=0, init=False)
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
        if not self.speed > 0:
            raise ValueError(f"speed must be positive (scenario seconds per wall second), got {self.speed}")
        if self.port == 0:
            self.port = _free_port(self.host)
        server = Server(user_manager=_PasswordUsers(self.users) if self.users else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("TeachFab machine simulator")
        if self.certificate:
            await server.load_certificate(self.certificate)
            await server.load_private_key(self.private_key)
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                        ua.SecurityPolicyType.Basic256Sha256_Sign])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users:
            server.set_security_IDs(["Username"])
        idx = await server.register_namespace(NAMESPACE_URI)
        folder = await server.nodes.objects.add_folder(ua.NodeId("Assets", idx), f"{idx}:Assets")
        for a in self.assets:
            self._nodes[a.asset] = await self._add_asset(folder, idx, a)
        await server.start()
        self._server = server
        self.start_ns = self.epoch_ns if self.epoch_ns is not None else time.time_ns()
        self._task = asyncio.create_task(self._stream(), name="simulator-stream")
        log.info("OPC UA simulator at %s with assets %s", self.endpoint, list(self._nodes))

    async def stop(self) -> None:
        """Stop streaming and close the endpoint."""
        await cancel_task(self._task)
        self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def blocks_published(self, asset: str) -> int:
        """Number of blocks published for ``asset``."""
        return self._nodes[asset].blocks

    def source_config(self, asset: str) -> dict:
        """The OPC UA adapter config that reads ``asset`` from this server.

        Examples
        --------
        >>> from simulators.rotating_machine import RotatingMachine
        >>> SimulatorServer([RotatingMachine("m1")], port=4841).source_config("m1")["waveforms"]
        {'vibration_de': 'm1.VibrationDe'}
        """
        found = [a for a in self.assets if a.asset == asset]
        if not found:
            raise ValueError(f"no simulated asset {asset!r}; have {[a.asset for a in self.assets]}")
        channels = found[0].channels()
        waves = [c for c in channels if c.kind == "waveform"]
        rates = {c.rate for c in waves}
        if len(rates) > 1:
            raise ValueError(f"asset {asset!r} has waveforms at several rates {sorted(rates)}; "
                             "use one adapter config per rate or browse")
        return {
            "url": self.endpoint, "namespace": NAMESPACE_URI, "asset": asset,
            "rate": rates.pop() if rates else None,
            "waveforms": {c.name: f"{asset}.{browse_name(c.name)}" for c in waves},
            "scalars": {c.name: f"{asset}.{browse_name(c.name)}" for c in channels if c.kind == "scalar"},
            "units": {c.name: c.units for c in channels},
        }

    def browse_config(self, asset: str) -> dict:
        """The OPC UA adapter config that finds ``asset``'s channels by browsing (any mix of rates).

        Examples
        --------
        >>> from simulators.rotating_machine import RotatingMachine
        >>> SimulatorServer([RotatingMachine("m1")], port=4841).browse_config("m1")["browse_path"]
        'Assets/m1'
        """
        if asset not in {a.asset for a in self.assets}:
            raise ValueError(f"no simulated asset {asset!r}; have {[a.asset for a in self.assets]}")
        return {"url": self.endpoint, "asset": asset, "namespace": NAMESPACE_URI, "browse_path": f"Assets/{asset}"}

    def ground_truth(self) -> list[GroundTruthEvent]:
        """The scripted events of every asset, on the simulator clock."""
        events = []
        for a in self.assets:
            for e in a.ground_truth():
                end = None if e.get("end_s") is None else self.start_ns + int(round(e["end_s"] * 1e9))
                events.append(GroundTruthEvent(e["event"], a.asset, self.start_ns + int(round(e["start_s"] * 1e9)),
                                               end, e.get("severity", 0.0)))
        return events

    async def _add_asset(self, folder, idx: int, asset: SimAsset) -> _AssetNodes:
        obj = await folder.add_object(ua.NodeId(asset.asset, idx), f"{idx}:{asset.asset}")

        async def var(name: str, value, vtype, unit: str):
            node = await obj.add_variable(ua.NodeId(f"{asset.asset}.{name}", idx), f"{idx}:{name}",
                                          ua.Variant(value, vtype))
            await node.add_property(0, "EngineeringUnits",
                                    ua.Variant(_eu_information(unit), ua.VariantType.ExtensionObject))
            return node

        variables = {}
        for ch in asset.channels():
            if ch.kind == "waveform":
                n = max(1, int(round(ch.rate * self.block_s)))
                node = await var(browse_name(ch.name), [0.0] * n, ua.VariantType.Double, ch.units)
                await node.add_property(idx, "SampleRate", ua.Variant(float(ch.rate), ua.VariantType.Double))
            else:
                node = await var(browse_name(ch.name), 0.0, ua.VariantType.Double, ch.units)
            variables[ch.name] = (ch, node)
        seq = await var("BlockSequence", 0, ua.VariantType.UInt64, "")
        return _AssetNodes(asset, variables, seq)

    async def _stream(self) -> None:
        k = 0
        while True:
            due = self.start_ns + int(k * self.block_s * 1e9 / self.speed)
            await asyncio.sleep(max(0.0, (due - time.time_ns()) / 1e9))
            for nodes in self._nodes.values():
                await self._publish_block(nodes, self.block_s)
            k += 1

    async def _publish_block(self, nodes: _AssetNodes, dt_s: float) -> None:
        data = nodes.asset.advance(dt_s)
        end_ns = self.start_ns + int(round((nodes.blocks + 1) * dt_s * 1e9))
        for name, (ch, node) in nodes.variables.items():
            values = data.get(name)
            if values is None or values.size == 0:
                continue
            if ch.kind == "waveform":
                # stamp = time of the block's first sample, from the samples sent so far
                sent = nodes.sent.get(name, 0)
                stamp_ns = self.start_ns + int(round(sent / ch.rate * 1e9))
                nodes.sent[name] = sent + values.size
                variant = ua.Variant(values.tolist(), ua.VariantType.Double)
            else:
                stamp_ns = end_ns
                variant = ua.Variant(float(values[-1]), ua.VariantType.Double)
            await node.write_value(ua.DataValue(variant, SourceTimestamp=_ns_datetime(stamp_ns),
                                                ServerTimestamp=datetime.now(timezone.utc)))
        nodes.blocks += 1
        await nodes.sequence.write_value(ua.Variant(nodes.blocks, ua.VariantType.UInt64))


class _PasswordUsers(UserManager):
    """Accept the configured username/password pairs, nobody else."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


def _ns_datetime(ns: int) -> datetime:
    """Aware UTC datetime of epoch nanoseconds (microsecond resolution)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ns // 1000)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
