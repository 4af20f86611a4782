"""OPC UA adapter: subscribe to waveform and scalar nodes, yield Samples.

Uses monitored-item subscriptions (not polling) with a per-item queue so
that blocks written faster than one publishing interval are all delivered.
When the link drops — server restart, network cut, session expiry — the
adapter connects, maps and subscribes again on its own with a capped
back-off, without the agent restarting.

Nodes are given explicitly (``waveforms`` / ``scalars``) or found by
browsing the object at ``browse_path``: every Double array variable below
it becomes a waveform channel, every Double scalar a scalar channel, named
after the browse name in snake case (``VibrationDE`` → ``vibration_de``);
units come from the standard ``EngineeringUnits`` property when present.

The commented sample config is ``firmware_adapters/samples/opcua.toml``
(its keys are one entry of an edge config's ``sources`` list, with
``adapter: opcua``); the docs page is ``docs/adapters/opcua.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from asyncua import Client, ua

from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)

_POLICIES = ("Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")


@dataclass
class OpcUaConfig:
    """Where to read, what the nodes mean and how to authenticate.

    Parameters
    ----------
    url : str
        Server endpoint, ``opc.tcp://host:port/path``.
    asset : str
        Asset the channels belong to.
    waveforms, scalars : dict
        Channel name to node identifier (Double array updated per block, or
        scalar Double). Leave both empty to browse ``browse_path``.
    namespace : str or None
        Namespace URI of string identifiers and browse names; ``None`` means
        identifiers are full node id strings (``"ns=2;s=..."``).
    browse_path : str or None
        Path of browse names below ``Objects`` to the asset's object, e.g.
        ``"Assets/pump-1"``; used when no nodes are listed.
    rate : float or None
        Waveform sample rate in Hz, if not read from ``rate_node``.
    rate_node : str or None
        Node holding the waveform sample rate in Hz (found by browsing as
        ``SampleRate`` when browsing).
    units : dict
        Channel name to engineering units, overriding the server's.
    publishing_ms : int
        Subscription publishing interval in milliseconds.
    queue_size : int
        Server-side queue per monitored item; blocks written faster than
        one publishing interval wait there instead of being overwritten.
    timeout_s : float
        Request timeout.
    reconnect_max_s : float
        Cap of the exponential back-off between connection attempts.
    security_policy : str or None
        ``None`` (no security) or one of Basic256Sha256,
        Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss.
    security_mode : {"Sign", "SignAndEncrypt"}
        Message security mode when a policy is set.
    certificate, private_key : str or None
        Client certificate (DER or PEM) and its private key (PEM).
    server_certificate : str or None
        Server certificate to trust (optional).
    username, password : str or None
        User identity token; ``None`` for anonymous.
    """

    url: str
    asset: str
    waveforms: dict[str, str] = field(default_factory=dict)
    scalars: dict[str, str] = field(default_factory=dict)
    namespace: str | None = None
    browse_path: str | None = None
    rate: float | None = None
    rate_node: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    publishing_ms: int = 50
    queue_size: int = 100
    timeout_s: float = 4.0
    reconnect_max_s: float = 2.0
    security_policy: str | None = None
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith("opc.tcp://"):
            raise ValueError(f"opcua url must start with opc.tcp://, got {self.url!r}")
        if not self.waveforms and not self.scalars and not self.browse_path:
            raise ValueError("opcua source needs nodes in 'waveforms'/'scalars' or a 'browse_path' to browse")
        if self.waveforms and self.rate is None and self.rate_node is None:
            raise ValueError("opcua source with waveforms needs 'rate' or 'rate_node'")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"opcua rate must be positive, got {self.rate}")
        if self.queue_size < 1 or self.publishing_ms < 1:
            raise ValueError(f"queue_size and publishing_ms must be >= 1, got {self.queue_size}, {self.publishing_ms}")
        if self.security_policy is not None:
            if self.security_policy not in _POLICIES:
                raise ValueError(f"security_policy {self.security_policy!r} unknown; expected one of {_POLICIES}")
            if not (self.certificate and self.private_key):
                raise ValueError(f"security_policy {self.security_policy} needs 'certificate' and 'private_key'")
        if (self.username is None) != (self.password is None):
            raise ValueError("give both 'username' and 'password', or neither")

    def security_string(self) -> str | None:
        """The policy, mode and key material in asyncua's security-string form."""
        if self.security_policy is None:
            return None
        parts = [self.security_policy, self.security_mode, self.certificate, self.private_key]
        if self.server_certificate:
            parts.append(self.server_certificate)
        return ",".join(parts)


@dataclass(frozen=True)
class _Channel:
    name: str
    rate: float
    units: str


class _Handler:
    """Turns data-change notifications into Samples on a queue."""

    def __init__(self, source: "OpcUaSource", channels: dict, queue: asyncio.Queue) -> None:
        self._source = source
        self._channels = channels
        self._queue = queue

    def datachange_notification(self, node, val, data) -> None:
        ch: _Channel = self._channels[node.nodeid]
        dv = data.monitored_item.Value
        stamp = dv.SourceTimestamp or dv.ServerTimestamp
        start_ns = _datetime_ns(stamp) if stamp is not None else time.time_ns()
        try:
            values = np.asarray(val if isinstance(val, (list, tuple)) else [val], dtype=np.float64).ravel()
        except (TypeError, ValueError):
            values = None
        if values is None or values.size == 0 or not np.all(np.isfinite(values)):
            self._source.count("rejected")
            self._source.count("rejected_bad_value")
            log.warning("opcua %s: channel %s sent an unusable value %.60r", self._source.config.url, ch.name, val)
            return
        try:
            self._queue.put_nowait(Sample(self._source.config.asset, ch.name, start_ns, ch.rate, values, ch.units))
        except asyncio.QueueFull:
            self._source.count("dropped")
            log.error("opcua %s: consumer too slow, dropped a block of %s", self._source.config.url, ch.name)

    def status_change_notification(self, status) -> None:
        log.warning("opcua %s: subscription status %s", self._source.config.url, status)


class OpcUaSource:
    """Stream :class:`Sample` blocks from an OPC UA server, reconnecting forever.

    Parameters
    ----------
    config : OpcUaConfig
        Endpoint, node mapping and security.

    Examples
    --------
    >>> src = OpcUaSource(OpcUaConfig(url="opc.tcp://127.0.0.1:4840/", asset="m1", browse_path="Assets/m1"))
    >>> src.stats()["connects"]
    0
    """

    name = "opcua"

    def __init__(self, config: OpcUaConfig) -> None:
        self.config = config
        self._stats = {"samples": 0, "rejected": 0, "rejected_bad_value": 0, "dropped": 0,
                       "connects": 0, "reconnects": 0}
        self.channels: dict[str, _Channel] = {}

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to counter ``key``."""
        self._stats[key] = self._stats.get(key, 0) + n

    def stats(self) -> dict[str, int]:
        """Counters: samples, rejected, dropped, connects, reconnects."""
        return dict(self._stats)

    async def samples(self) -> AsyncIterator[Sample]:
        """Yield samples as they arrive; reconnect whenever the link fails."""
        delay = 0.2
        while True:
            queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=10_000)
            client = Client(self.config.url, timeout=self.config.timeout_s)
            try:
                await self._connect(client, queue)
                delay = 0.2
                while True:
                    try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                        async with asyncio.timeout(1.0):
                            sample = await queue.get()
                    except TimeoutError:
                        await client.check_connection()
                        continue
                    self.count("samples")
                    yield sample
            except (OSError, asyncio.TimeoutError, ua.UaError, ConnectionError, RuntimeError) as exc:
                log.warning("opcua %s: link lost (%s: %s); retrying in %.1f s",
                            self.config.url, type(exc).__name__, exc, delay)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 2.0)
            self.count("reconnects")
            await asyncio.sleep(delay)
            delay = min(self.config.reconnect_max_s, delay * 2)

    async def _connect(self, client: Client, queue: asyncio.Queue) -> None:
        cfg = self.config
        if cfg.security_policy is not None:
            await client.set_security_string(cfg.security_string())
        if cfg.username is not None:
            client.set_user(cfg.username)
            client.set_password(cfg.password)
        await client.connect()
        ns = await client.get_namespace_index(cfg.namespace) if cfg.namespace else None
        if cfg.waveforms or cfg.scalars:
            nodes = await self._configured_nodes(client, ns)
        else:
            nodes = await self._browsed_nodes(client, ns)
        sub = await client.create_subscription(cfg.publishing_ms, _Handler(self, nodes, queue))
        await sub.subscribe_data_change([client.get_node(nid) for nid in nodes], queuesize=cfg.queue_size)
        self.channels = {c.name: c for c in nodes.values()}
        self.count("connects")
        log.info("opcua %s: subscribed to %s", cfg.url, sorted(self.channels))

    async def _configured_nodes(self, client: Client, ns: int | None) -> dict:
        cfg = self.config

        def node(ident: str):
            return client.get_node(ua.NodeId(ident, ns) if ns is not None else ident)

        rate = cfg.rate if cfg.rate is not None else float(await node(cfg.rate_node).read_value())
        nodes = {}
        for name, ident in cfg.waveforms.items():
            nodes[node(ident).nodeid] = _Channel(name, rate, cfg.units.get(name, ""))
        for name, ident in cfg.scalars.items():
            nodes[node(ident).nodeid] = _Channel(name, 0.0, cfg.units.get(name, ""))
        return nodes

    async def _browsed_nodes(self, client: Client, ns: int | None) -> dict:
        cfg = self.config
        prefix = f"{ns}:" if ns is not None else ""
        path = [f"{prefix}{part}" for part in cfg.browse_path.strip("/").split("/")]
        try:
            obj = await client.nodes.objects.get_child(path)
        except ua.UaError as exc:
            raise ValueError(f"opcua {cfg.url}: browse_path {cfg.browse_path!r} not found ({exc})") from None
        nodes: dict = {}
        asset_rate = cfg.rate
        for child in await obj.get_children(nodeclassmask=ua.NodeClass.Variable):
            if (await child.read_browse_name()).Name == "SampleRate":
                asset_rate = asset_rate or float(await child.read_value())
        for child in await obj.get_children(nodeclassmask=ua.NodeClass.Variable):
            name = (await child.read_browse_name()).Name
            if name == "SampleRate":
                continue
            value = await child.read_value()
            channel = _snake(name)
            units = cfg.units.get(channel) or await _units_of(child)
            if isinstance(value, list) and value and isinstance(value[0], float):
                rate = cfg.rate or await _property(child, f"{prefix}SampleRate") or asset_rate
                if not rate:
                    raise ValueError(f"opcua {cfg.url}: waveform {name!r} has no SampleRate property "
                                     f"and no 'rate' is configured")
                nodes[child.nodeid] = _Channel(channel, float(rate), units)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                nodes[child.nodeid] = _Channel(channel, 0.0, units)
        if not nodes:
            raise ValueError(f"opcua {cfg.url}: no numeric variables below {cfg.browse_path!r}")
        return nodes


async def _property(node, browse_name: str):
    """Value of a child property, or ``None`` if the node has none of that name."""
    try:
        return await (await node.get_child(browse_name)).read_value()
    except ua.UaError:
        return None


async def _units_of(node) -> str:
    """Display name of the node's EngineeringUnits property, or ``""``."""
    eu = await _property(node, "0:EngineeringUnits")
    return getattr(getattr(eu, "DisplayName", None), "Text", None) or ""


def _snake(name: str) -> str:
    """``VibrationDE`` → ``vibration_de``; ``SampleRate`` → ``sample_rate``.

    Examples
    --------
    >>> _snake("VibrationDE"), _snake("Temperature"), _snake("motor.CurrentA")
    ('vibration_de', 'temperature', 'motor_current_a')
    """
    s = re.sub(r"[^A-Za-z0-9]+", "_", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.strip("_").lower()


def _datetime_ns(stamp: datetime) -> int:
    """Epoch nanoseconds of a datetime (naive means UTC), exact to the microsecond."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    delta = stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
