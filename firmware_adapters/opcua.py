"""OPC UA adapter: subscribe to waveform and scalar nodes, yield Samples.

Uses monitored-item subscriptions (not polling) with a per-item queue so
that blocks written faster than one publishing interval are all delivered.
When the connection drops the adapter reconnects and subscribes again on
its own, with a capped back-off.

Sample config (TOML)::

    [sources.pump1]
    adapter = "opcua"
    url = "opc.tcp://127.0.0.1:4840/teachfab/"
    namespace = "urn:teachfab:simulator"   # node ids below are in this namespace
    asset = "pump-1"
    rate_node = "pump-1.SampleRate"         # or: rate = 12000.0
    [sources.pump1.waveforms]               # channel = node id (Double[])
    vibration_de = "pump-1.VibrationDE"
    [sources.pump1.scalars]                 # channel = node id (Double)
    temperature = "pump-1.Temperature"
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from asyncua import Client, ua

from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)


@dataclass
class OpcUaConfig:
    """Where to read and what the nodes mean.

    Parameters
    ----------
    url : str
        Server endpoint, ``opc.tcp://host:port/path``.
    asset : str
        Asset the channels belong to.
    waveforms : dict
        Channel name to node identifier of a Double array updated per block.
    scalars : dict
        Channel name to node identifier of a scalar Double.
    namespace : str or None
        Namespace URI the string identifiers live in; ``None`` means the
        identifiers are full node id strings (``"ns=2;s=..."``).
    rate : float or None
        Waveform sample rate in Hz, if not read from ``rate_node``.
    rate_node : str or None
        Node holding the waveform sample rate in Hz.
    units : dict
        Channel name to engineering units.
    publishing_ms : int
        Subscription publishing interval.
    queue_size : int
        Server-side queue per monitored item.
    """

    url: str
    asset: str
    waveforms: dict[str, str] = field(default_factory=dict)
    scalars: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    rate: float | None = None
    rate_node: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    publishing_ms: int = 50
    queue_size: int = 100

    def __post_init__(self) -> None:
        if not self.url.startswith("opc.tcp://"):
            raise ValueError(f"opcua url must start with opc.tcp://, got {self.url!r}")
        if not self.waveforms and not self.scalars:
            raise ValueError("opcua source needs at least one node in 'waveforms' or 'scalars'")
        if self.rate is None and self.rate_node is None and self.waveforms:
            raise ValueError("opcua source with waveforms needs 'rate' or 'rate_node'")


class _Handler:
    """Turns data-change notifications into Samples on a queue."""

    def __init__(self, source: "OpcUaSource", channels: dict, queue: asyncio.Queue) -> None:
        self._source = source
        self._channels = channels
        self._queue = queue

    def datachange_notification(self, node, val, data) -> None:
        channel, rate, units = self._channels[node.nodeid]
        dv = data.monitored_item.Value
        stamp = dv.SourceTimestamp or dv.ServerTimestamp
        if stamp is None:
            start_ns = time.time_ns()
        else:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
            start_ns = _datetime_ns(stamp)
        try:
            values = np.asarray(val if isinstance(val, list) else [val], dtype=np.float64)
        except (TypeError, ValueError):
            self._source.rejected += 1
            log.warning("opcua %s: channel %s sent non-numeric value %r", self._source.config.url, channel, val)
            return
        sample = Sample(self._source.config.asset, channel, start_ns, rate, values, units)
        try:
            self._queue.put_nowait(sample)
        except asyncio.QueueFull:
            self._source.dropped += 1
            log.error("opcua %s: consumer too slow, dropped a block of %s", self._source.config.url, channel)

    def status_change_notification(self, status) -> None:
        log.warning("opcua %s: subscription status %s", self._source.config.url, status)


class OpcUaSource:
    """Stream :class:`Sample` blocks from an OPC UA server, reconnecting forever.

    Parameters
    ----------
    config : OpcUaConfig
        Endpoint and node mapping.
    reconnect_max_s : float
        Cap of the exponential back-off between connection attempts.

    Attributes
    ----------
    connects : int
        Successful (re)connections so far.
    dropped, rejected : int
        Blocks lost to a full queue, values that were not numeric.
    """

    name = "opcua"

    def __init__(self, config: OpcUaConfig, reconnect_max_s: float = 2.0) -> None:
        self.config = config
        self.reconnect_max_s = reconnect_max_s
        self.connects = 0
        self.dropped = 0
        self.rejected = 0

    async def samples(self) -> AsyncIterator[Sample]:
        """Yield samples as they arrive; reconnect whenever the link fails."""
        delay = 0.2
        while True:
            queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=10_000)
            try:
                async with Client(self.config.url, timeout=4) as client:
                    await self._subscribe(client, queue)
                    self.connects += 1
                    delay = 0.2
                    log.info("opcua %s: connected and subscribed", self.config.url)
                    while True:
                        try:
                            yield await asyncio.wait_for(queue.get(), timeout=1.0)
                        except asyncio.TimeoutError:
                            await client.check_connection()
            except (OSError, asyncio.TimeoutError, ua.UaError, ConnectionError, RuntimeError) as exc:
                log.warning("opcua %s: link lost (%s: %s); retrying in %.1f s",
                            self.config.url, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.reconnect_max_s, delay * 2)

    async def _subscribe(self, client: Client, queue: asyncio.Queue) -> None:
        cfg = self.config
        ns = await client.get_namespace_index(cfg.namespace) if cfg.namespace else None

        def node(ident: str):
            return client.get_node(ua.NodeId(ident, ns) if ns is not None else ident)

        rate = cfg.rate if cfg.rate is not None else float(await node(cfg.rate_node).read_value())
        channels: dict = {}
        for name, ident in cfg.waveforms.items():
            channels[node(ident).nodeid] = (name, rate, cfg.units.get(name, "g"))
        for name, ident in cfg.scalars.items():
            channels[node(ident).nodeid] = (name, 0.0, cfg.units.get(name, ""))
        sub = await client.create_subscription(cfg.publishing_ms, _Handler(self, channels, queue))
        nodes = [client.get_node(nid) for nid in channels]
        await sub.subscribe_data_change(nodes, queuesize=cfg.queue_size)


def _datetime_ns(stamp: datetime) -> int:
    """Epoch nanoseconds of an aware datetime, exact to the microsecond."""
    delta = stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
