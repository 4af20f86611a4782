"""Publish simulated assets over MQTT the way a smart sensor does.

Every ``block_s`` seconds of wall clock each asset advances by ``block_s``
and one JSON message goes to ``{topic_prefix}/{asset}/data``::

    {"device": "pump-1", "seq": 41, "ts": 1718000000100000,
     "fs": {"vibration_de": 12000.0},
     "wave": {"vibration_de": [0.012, -0.034, ...]},
     "temperature": 41.27, "shaft_speed": 1797.0}

- ``ts``: UTC epoch **microseconds** of the first waveform sample of the
  block (scalars are stamped with it too);
- ``seq``: block counter per asset, from 0;
- ``fs`` and ``wave``: sample rate in Hz and samples of each waveform
  channel; scalar channels are top-level numbers. Units are not sent (as
  with most sensors): they belong to the adapter config, which
  :meth:`MqttSensorPublisher.source_config` writes for each asset and
  ``firmware_adapters/samples/mqtt_sensor.toml`` shows for the default
  rotating machine.

Floats are written with Python's shortest round-trip repr, so a receiver
gets exactly the simulated values.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from contract.mqtt import make_client, parse_mqtt_url
from simulators.base import SimAsset, cancel_task

log = logging.getLogger(__name__)

RESERVED_KEYS = ("device", "seq", "ts", "fs", "wave")


@dataclass
class MqttSensorPublisher:
    """Run simulated assets in real time and publish them as smart-sensor JSON.

    Use as an async context manager (or :meth:`start` / :meth:`stop`).
    :meth:`start` fails with ``ConnectionError`` if the broker does not
    answer within ``connect_timeout_s``; after that, paho reconnects on its
    own and QoS 1 messages published meanwhile are delivered afterwards.

    Parameters
    ----------
    assets : list of SimAsset
        The simulated assets (see :mod:`simulators.base`).
    broker : str
        ``mqtt://host:port``.
    topic_prefix : str
        First topic levels; messages go to ``{topic_prefix}/{asset}/data``.
    block_s : float
        Seconds per message; every waveform rate × ``block_s`` must be a
        whole number of samples and ``block_s`` a whole number of µs.
    qos : int
        Publish QoS.
    protocol : {"3.1.1", "5"}
        MQTT protocol version.
    connect_timeout_s : float
        How long :meth:`start` waits for the broker.
    epoch_ns : int or None
        Wall-clock time (UTC epoch ns) of the scenario's t = 0, shared with
        other servers of one scenario; default: when the broker accepted us.

    Examples
    --------
    >>> from simulators.rotating_machine import RotatingMachine
    >>> pub = MqttSensorPublisher([RotatingMachine("pump-1")], "mqtt://127.0.0.1:1883")
    >>> pub.topic("pump-1"), pub.source_config("pump-1")["fields"]["vibration_de"]
    ('teachfab/sensors/pump-1/data', {'path': 'wave.vibration_de', 'rate_field': 'fs.vibration_de', 'units': 'g'})
    """

    assets: list[SimAsset]
    broker: str
    topic_prefix: str = "teachfab/sensors"
    block_s: float = 0.1
    qos: int = 1
    protocol: str = "3.1.1"
    connect_timeout_s: float = 10.0
    epoch_ns: int | None = None
    start_ns: int = field(default=0, init=False)
    _blocks: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _sent: dict[tuple[str, str], int] = field(default_factory=dict, init=False, repr=False)
    _task: asyncio.Task | None = field(default=None, init=False, repr=False)
    _client: object = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.host, self.port = parse_mqtt_url(self.broker)
        if not self.topic_prefix or any(c in self.topic_prefix for c in "+#") or self.topic_prefix.endswith("/"):
            raise ValueError(f"topic_prefix {self.topic_prefix!r} must be non-empty topic levels without "
                             f"wildcards or a trailing '/'")
        self.block_us = int(round(self.block_s * 1e6))
        if self.block_us <= 0 or abs(self.block_us - self.block_s * 1e6) > 1e-6:
            raise ValueError(f"block_s must be a positive whole number of microseconds, got {self.block_s!r}")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {self.qos!r}")
        names = [a.asset for a in self.assets]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"assets must be a non-empty list with unique names, got {names}")
        for a in self.assets:
            for ch in a.channels():
                if ch.name in RESERVED_KEYS:
                    raise ValueError(f"asset {a.asset}: channel name {ch.name!r} collides with payload key; "
                                     f"reserved: {RESERVED_KEYS}")
                n = ch.rate * self.block_s
                if ch.kind == "waveform" and (abs(n - round(n)) > 1e-6 or round(n) < 1):
                    raise ValueError(f"asset {a.asset}: block_s={self.block_s} gives {n:g} samples of "
                                     f"{ch.name} at {ch.rate:g} Hz; choose block_s so that it is a whole number")
            self._blocks[a.asset] = 0
        self.connected = threading.Event()

    def topic(self, asset: str) -> str:
        """The data topic of ``asset``."""
        return f"{self.topic_prefix}/{asset}/data"

    def blocks_published(self, asset: str) -> int:
        """Messages published for ``asset`` so far."""
        return self._blocks[asset]

    def source_config(self, asset: str) -> dict:
        """The ``mqtt_sensor`` adapter config that maps this publisher's messages for ``asset``."""
        found = [a for a in self.assets if a.asset == asset]
        if not found:
            raise ValueError(f"no simulated asset {asset!r}; have {[a.asset for a in self.assets]}")
        fields = {}
        for ch in found[0].channels():
            if ch.kind == "waveform":
                fields[ch.name] = {"path": f"wave.{ch.name}", "rate_field": f"fs.{ch.name}", "units": ch.units}
            else:
                fields[ch.name] = {"path": ch.name, "units": ch.units}
        return {"broker": self.broker, "topics": [self.topic(asset)], "asset": asset,
                "timestamp": "ts", "timestamp_unit": "us", "qos": self.qos, "fields": fields}

    def ground_truth(self) -> list[dict]:
        """Scripted events of every asset with ``start_ns``/``end_ns`` on the publisher clock."""
        out = []
        for a in self.assets:
            for e in a.ground_truth():
                end = e.get("end_s")
                out.append({"event": e["event"], "asset": a.asset,
                            "start_ns": self.start_ns + int(round(e["start_s"] * 1e9)),
                            "end_ns": None if end is None else self.start_ns + int(round(end * 1e9)),
                            "severity": e.get("severity", 0.0)})
        return out

    async def __aenter__(self) -> "MqttSensorPublisher":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect to the broker and start publishing in real time."""
        client = make_client(f"tf-sim-sensor-{uuid.uuid4().hex[:12]}", self.protocol)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        client.reconnect_delay_set(0.25, 2)
        client.max_queued_messages_set(10_000)
        client.connect_async(self.host, self.port, keepalive=15)
        client.loop_start()
        self._client = client
        if not await asyncio.to_thread(self.connected.wait, self.connect_timeout_s):
            await asyncio.to_thread(client.loop_stop)
            self._client = None
            raise ConnectionError(f"MQTT broker {self.broker} did not accept a connection within "
                                  f"{self.connect_timeout_s} s")
        start = self.epoch_ns if self.epoch_ns is not None else time.time_ns()
        self.start_ns = start // 1000 * 1000  # whole microseconds, as the payload carries
        self._task = asyncio.create_task(self._stream(), name="mqtt-sensor-sim")
        log.info("MQTT sensor simulator publishing %s under %s/", [a.asset for a in self.assets], self.topic_prefix)

    async def stop(self) -> None:
        """Stop publishing, let in-flight messages finish briefly, disconnect."""
        await cancel_task(self._task)
        self._task = None
        if self._client is not None:
            client, self._client = self._client, None
            deadline = time.monotonic() + 2.0
            while self.connected.is_set() and client.want_write() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("simulated sensor: broker %s refused the connection: %s", self.broker, reason_code)
            return
        self.connected.set()

    async def _stream(self) -> None:
        k = 0
        while True:
            # block k covers [k, k+1) × block_s; a sensor sends it once its last sample is measured
            due_ns = self.start_ns + (k + 1) * self.block_us * 1000
            await asyncio.sleep(max(0.0, (due_ns - time.time_ns()) / 1e9))
            for a in self.assets:
                self._publish(a)
            k += 1

    def _payload(self, asset: SimAsset, data: dict) -> dict:
        """The JSON-ready message for one block of ``asset`` (advances the sample counters)."""
        seq = self._blocks[asset.asset]
        msg: dict = {"device": asset.asset, "seq": seq, "ts": None, "fs": {}, "wave": {}}
        ts_us = self.start_ns // 1000 + seq * self.block_us
        first_wave = True
        for ch in asset.channels():
            values = data.get(ch.name)
            if values is None or values.size == 0:
                continue
            if ch.kind == "waveform":
                sent = self._sent.get((asset.asset, ch.name), 0)
                if first_wave:  # stamp of the first sample, exact whatever the step rounding did
                    ts_us = self.start_ns // 1000 + int(round(sent * 1e6 / ch.rate))
                    first_wave = False
                self._sent[(asset.asset, ch.name)] = sent + values.size
                msg["fs"][ch.name] = float(ch.rate)
                msg["wave"][ch.name] = values.tolist()
            else:
                msg[ch.name] = float(values[-1])
        msg["ts"] = ts_us
        return msg

    def _publish(self, asset: SimAsset) -> None:
        msg = self._payload(asset, asset.advance(self.block_s))
        info = self._client.publish(self.topic(asset.asset), json.dumps(msg), qos=self.qos)
        if info.rc not in (0, 4):  # 4: not connected now; paho queues QoS>0 messages until reconnect
            log.warning("simulated sensor %s: publish failed (rc=%s)", asset.asset, info.rc)
        self._blocks[asset.asset] += 1
