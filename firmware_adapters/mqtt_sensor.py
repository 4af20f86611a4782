"""MQTT smart-sensor adapter: subscribe to a sensor's topics, map its JSON.

Smart sensors (wireless vibration nodes, IO-Link masters with an MQTT
gateway, ESP32 boards) publish JSON objects whose layout differs per
vendor. This adapter maps one layout to :class:`Sample` blocks with a
declared field per channel: a dotted path into the object, the units, a
``scale``/``offset`` (engineering value = raw × scale + offset) and, for
arrays of samples, the rate (fixed, or read from another field). A payload
may also be a JSON array of such objects (a batch).

Time stamps come from a declared field with a declared unit (``s``,
``ms``, ``us``, ``ns``; ISO-8601 strings are accepted too) and must fall
between 2000-01-01 and 2100-01-01 — a wrong unit or an unset sensor clock
is rejected with that reason instead of producing data in 1970 or 55000.
Without a time stamp field, the arrival time is used.

paho-mqtt runs its network thread; every message is handed to the event
loop with ``loop.call_soon_threadsafe`` into a bounded queue (a full
queue drops the message and counts it). paho reconnects on its own; the
adapter subscribes again on every connection. Invalid payloads are counted
by reason (``stats()["rejected_<reason>"]``), logged, and never stop the
stream; a bad field costs only that field.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from contract.bounds import MIN_TS_NS, in_time_bounds
from contract.mqtt import make_client, parse_mqtt_url
from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)

TIMESTAMP_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _parse_path(path: str | list, where: str) -> tuple:
    """A dotted path (``"accel.x"``, ``"data.0.v"``) or a list of keys, as a tuple."""
    parts = path.split(".") if isinstance(path, str) else list(path)
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"{where}: path {path!r} must be dotted keys like 'accel.x'")
    return tuple(parts)


def _lookup(obj, path: tuple):
    """Value at ``path`` in nested dicts/lists, or ``KeyError``."""
    for key in path:
        if isinstance(obj, dict) and str(key) in obj:
            obj = obj[str(key)]
        elif isinstance(obj, list) and str(key).isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            raise KeyError(key)
    return obj


@dataclass
class FieldMap:
    """Where one channel sits in the payload and what its numbers mean.

    Parameters
    ----------
    path : str or list
        Dotted path to the value (``"temp"``, ``"accel.x"``, ``"ch.0.data"``),
        or a list of keys when a key itself contains a dot.
    units : str
        Engineering units of the mapped value.
    scale, offset : float
        Engineering value = raw × ``scale`` + ``offset``.
    rate : float or None
        Sample rate in Hz of an array of samples.
    rate_field : str or None
        Path of a payload field holding that rate instead.

    A field with ``rate`` or ``rate_field`` expects an array (a waveform
    block); one without expects a single number (a scalar reading).
    """

    path: str | list
    units: str = ""
    scale: float = 1.0
    offset: float = 0.0
    rate: float | None = None
    rate_field: str | list | None = None

    def __post_init__(self) -> None:
        self.keys = _parse_path(self.path, "field")
        self.rate_keys = _parse_path(self.rate_field, "rate_field") if self.rate_field is not None else None
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"field {self.path!r}: rate must be a positive number of Hz, got {self.rate!r}")
        if self.rate is not None and self.rate_field is not None:
            raise ValueError(f"field {self.path!r}: give rate or rate_field, not both")
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)):
            raise ValueError(f"field {self.path!r}: scale and offset must be finite numbers")

    @property
    def waveform(self) -> bool:
        """True if the field holds an array of samples."""
        return self.rate is not None or self.rate_keys is not None


@dataclass
class MqttSensorConfig:
    """Broker, topics and payload mapping of one smart sensor (or a family of them).

    Parameters
    ----------
    broker : str
        ``mqtt://host:port``.
    topics : list of str
        Topic filters to subscribe to (``+`` and ``#`` wildcards allowed).
    fields : dict
        Channel name to :class:`FieldMap` (or a dict of its parameters).
    asset : str or None
        Asset of every channel; or, with ``asset_topic_level``, taken from
        that 0-based level of the topic (``sensors/<asset>/data`` → 1).
    timestamp : str or None
        Path of the time stamp field; ``None`` stamps with the arrival time.
    timestamp_unit : {"s", "ms", "us", "ns"} or None
        Unit of a numeric time stamp (required with ``timestamp``).
    timestamp_marks : {"first", "last"}
        Whether the stamp is the time of the first or the last sample of an array.
    qos : int
        Subscription QoS (0, 1 or 2).
    protocol : {"3.1.1", "5"}
        MQTT protocol version.
    client_id, username, password : str or None
        Client identity (a unique id is generated when ``None``).
    keepalive : int
        MQTT keep-alive in seconds (a dead broker is noticed after ~1.5×).
    queue_size : int
        Messages buffered between paho's thread and the consumer.
    reconnect_max_s : float
        Cap of paho's exponential reconnect back-off.
    """

    broker: str
    topics: list[str]
    fields: dict[str, FieldMap | dict]
    asset: str | None = None
    asset_topic_level: int | None = None
    timestamp: str | list | None = None
    timestamp_unit: str | None = None
    timestamp_marks: str = "first"
    qos: int = 1
    protocol: str = "3.1.1"
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive: int = 15
    queue_size: int = 1000
    reconnect_max_s: float = 5.0

    def __post_init__(self) -> None:
        parse_mqtt_url(self.broker)
        if isinstance(self.topics, str):
            self.topics = [self.topics]
        if not self.topics:
            raise ValueError("mqtt_sensor needs at least one topic filter in 'topics'")
        for t in self.topics:
            levels = t.split("/")
            if not t or "#" in levels[:-1] or any(("+" in lv or "#" in lv) and len(lv) > 1 for lv in levels):
                raise ValueError(f"topic filter {t!r} is invalid: '+' and '#' must fill a whole level, "
                                 f"'#' only the last")
        if (self.asset is None) == (self.asset_topic_level is None):
            raise ValueError("mqtt_sensor needs exactly one of 'asset' or 'asset_topic_level'")
        if not self.fields:
            raise ValueError("mqtt_sensor needs at least one channel in 'fields'")
        self.fields = {ch: f if isinstance(f, FieldMap) else FieldMap(**f) for ch, f in self.fields.items()}
        self.timestamp_keys = _parse_path(self.timestamp, "timestamp") if self.timestamp is not None else None
        if self.timestamp is not None and self.timestamp_unit not in TIMESTAMP_UNITS:
            raise ValueError(f"timestamp_unit must be one of {list(TIMESTAMP_UNITS)} when 'timestamp' is set, "
                             f"got {self.timestamp_unit!r}")
        if self.timestamp_marks not in ("first", "last"):
            raise ValueError(f"timestamp_marks must be 'first' or 'last', got {self.timestamp_marks!r}")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {self.qos!r}")
        if self.protocol not in ("3.1.1", "5"):
            raise ValueError(f"protocol must be '3.1.1' or '5', got {self.protocol!r}")
        if not (isinstance(self.queue_size, int) and self.queue_size >= 1):
            raise ValueError(f"queue_size must be a positive integer, got {self.queue_size!r}")


class _Reject(Exception):
    """A record or field that cannot be mapped: ``reason`` (a counter name) and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Reject("not_numeric", f"{what} = {str(value)[:60]!r} is not a number")
    try:
        x = float(value)
    except OverflowError:
        raise _Reject("non_finite", f"{what} = {value!r} overflows a float") from None
    if not math.isfinite(x):
        raise _Reject("non_finite", f"{what} = {value!r}")
    return x


def _timestamp_ns(value, unit: str) -> int:
    """Epoch ns of a numeric stamp in ``unit`` or an ISO-8601 string, range-checked."""
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise _Reject("timestamp_invalid", f"timestamp {value[:40]!r} is not a number or ISO-8601") from None
        if stamp.tzinfo is None:
            raise _Reject("timestamp_invalid", f"timestamp {value!r} has no time zone")
        delta = stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    else:
        try:
            x = _number(value, "timestamp")
        except _Reject as exc:
            raise _Reject("timestamp_invalid", str(exc)) from None
        mult = TIMESTAMP_UNITS[unit]
        if isinstance(value, int):
            ns = value * mult
        else:  # whole and fractional part apart, so 1717200000.25 s is exact to the ns
            whole = math.floor(x)
            ns = whole * mult + int(round((x - whole) * mult))
    if not in_time_bounds(ns):
        side = "before 2000-01-01" if ns < MIN_TS_NS else "after 2100-01-01"
        raise _Reject("timestamp_out_of_range",
                      f"timestamp {value!r} read as {unit} lands {side}; wrong timestamp_unit or unset clock?")
    return ns


class PayloadMapper:
    """Turn one MQTT message into Samples, collecting every rejection with its reason.

    Parameters
    ----------
    config : MqttSensorConfig
        The mapping.

    Examples
    --------
    >>> cfg = MqttSensorConfig("mqtt://127.0.0.1:1883", ["s/+/data"], asset_topic_level=1,
    ...     timestamp="ts", timestamp_unit="ms",
    ...     fields={"vib_x": {"path": "accel.x", "rate": 1000.0, "units": "g"},
    ...             "temperature": {"path": "temp", "units": "degC"}})
    >>> samples, problems = PayloadMapper(cfg).map(
    ...     "s/fan-3/data", b'{"ts": 1717200000000, "accel": {"x": [0.1, -0.2]}, "temp": 41.2}', 0)
    >>> [(s.asset, s.channel, s.start_ns, s.rate, s.values.tolist()) for s in samples], problems
    ([('fan-3', 'vib_x', 1717200000000000000, 1000.0, [0.1, -0.2]), ('fan-3', 'temperature', 1717200000000000000, 0.0, [41.2])], [])
    >>> PayloadMapper(cfg).map("s/fan-3/data", b'{"ts": 1717200000, "temp": 41.2}', 0)[1]
    [('timestamp_out_of_range', 'timestamp 1717200000 read as ms lands before 2000-01-01; ...')]
    """

    def __init__(self, config: MqttSensorConfig) -> None:
        self.config = config

    def map(self, topic: str, payload: bytes, arrival_ns: int) -> tuple[list[Sample], list[tuple[str, str]]]:
        """Samples of every record in ``payload`` and the (reason, detail) of every rejection."""
        problems: list[tuple[str, str]] = []
        try:
            doc = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError:
            return [], [("not_utf8", f"payload of {len(payload)} bytes is not UTF-8: {payload[:40]!r}")]
        except ValueError as exc:
            return [], [("not_json", f"{exc}: {payload[:60]!r}")]
        records = doc if isinstance(doc, list) else [doc]
        if not records:
            return [], [("no_mapped_field", "empty JSON array")]
        try:
            asset = self._asset(topic)
        except _Reject as exc:
            return [], [(exc.reason, str(exc))]
        samples: list[Sample] = []
        for record in records:
            try:
                samples.extend(self._record(record, asset, arrival_ns, problems))
            except _Reject as exc:
                problems.append((exc.reason, str(exc)))
        return samples, problems

    def _asset(self, topic: str) -> str:
        cfg = self.config
        if cfg.asset is not None:
            return cfg.asset
        levels = topic.split("/")
        if cfg.asset_topic_level >= len(levels) or not levels[cfg.asset_topic_level]:
            raise _Reject("asset_missing", f"topic {topic!r} has no level {cfg.asset_topic_level} for the asset")
        return levels[cfg.asset_topic_level]

    def _record(self, record, asset: str, arrival_ns: int, problems: list) -> list[Sample]:
        cfg = self.config
        if not isinstance(record, dict):
            raise _Reject("not_object", f"expected a JSON object, got {type(record).__name__}: {str(record)[:60]}")
        present = {}
        for channel, fm in cfg.fields.items():
            try:
                present[channel] = _lookup(record, fm.keys)
            except KeyError:
                continue
        if not present:
            raise _Reject("no_mapped_field", f"none of {[f.path for f in cfg.fields.values()]} in keys "
                                             f"{sorted(record)[:10]}")
        if cfg.timestamp_keys is None:
            ts_ns = arrival_ns
        else:
            try:
                raw_ts = _lookup(record, cfg.timestamp_keys)
            except KeyError:
                raise _Reject("timestamp_missing", f"no timestamp field {cfg.timestamp!r}") from None
            ts_ns = _timestamp_ns(raw_ts, cfg.timestamp_unit)
        out = []
        for channel, raw in present.items():
            try:
                out.append(self._field(record, asset, channel, cfg.fields[channel], raw, ts_ns))
            except _Reject as exc:
                problems.append((exc.reason, f"{channel}: {exc}"))
        return out

    def _field(self, record: dict, asset: str, channel: str, fm: FieldMap, raw, ts_ns: int) -> Sample:
        if not fm.waveform:
            if isinstance(raw, list):
                raise _Reject("expected_scalar", f"{fm.path} is an array of {len(raw)}; set rate for arrays")
            value = _number(raw, fm.path) * fm.scale + fm.offset
            return Sample(asset, channel, ts_ns, 0.0, np.array([value]), fm.units)
        if not isinstance(raw, list):
            raise _Reject("expected_array", f"{fm.path} = {str(raw)[:40]} is not an array of samples")
        if not raw:
            raise _Reject("empty_array", f"{fm.path} is an empty array")
        if not all(type(v) in (int, float) for v in raw):
            bad = next(v for v in raw if type(v) not in (int, float))
            raise _Reject("not_numeric", f"{fm.path} holds {str(bad)[:40]!r}")
        try:
            values = np.array(raw, dtype=np.float64)
        except OverflowError:
            raise _Reject("non_finite", f"{fm.path} holds a number too large for a float") from None
        if not np.all(np.isfinite(values)):
            raise _Reject("non_finite", f"{fm.path} holds NaN or infinity")
        rate = fm.rate
        if fm.rate_keys is not None:
            try:
                rate = _number(_lookup(record, fm.rate_keys), fm.rate_field)
            except KeyError:
                raise _Reject("rate_missing", f"no rate field {fm.rate_field!r}") from None
            if rate <= 0:
                raise _Reject("rate_invalid", f"{fm.rate_field} = {rate} is not a positive rate")
        if fm.scale != 1.0 or fm.offset != 0.0:
            values = values * fm.scale + fm.offset
        if self.config.timestamp_marks == "last":
            ts_ns -= int(round((values.size - 1) / rate * 1e9))
        return Sample(asset, channel, ts_ns, rate, values, fm.units)


class MqttSensorSource:
    """Stream :class:`Sample` blocks from a smart sensor over MQTT.

    Parameters
    ----------
    config : MqttSensorConfig
        Broker, topics and the payload mapping.

    Attributes
    ----------
    connected : threading.Event
        Set while the broker connection is up and the subscriptions acknowledged.
    recent_rejections : collections.deque
        The last 50 rejections as ``(reason, detail, topic)``.
    """

    name = "mqtt_sensor"

    def __init__(self, config: MqttSensorConfig) -> None:
        self.config = config
        self.mapper = PayloadMapper(config)
        self.host, self.port = parse_mqtt_url(config.broker)
        self.connected = threading.Event()
        self.recent_rejections: deque = deque(maxlen=50)
        self._closing = False
        self._rejected: Counter = Counter()
        self._counts = {"samples": 0, "blocks": 0, "messages": 0, "dropped": 0, "connects": 0,
                        "disconnects": 0, "subscribe_failures": 0}

    async def samples(self) -> AsyncIterator[Sample]:
        """Yield samples as messages arrive; paho reconnects and the adapter resubscribes."""
        cfg = self.config
        self._closing = False
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=cfg.queue_size)
        client = make_client(cfg.client_id or f"tf-sensor-{uuid.uuid4().hex[:12]}", cfg.protocol)
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda c, u, msg: self._from_paho(loop, queue, msg)
        client.reconnect_delay_set(0.25, cfg.reconnect_max_s)
        client.connect_async(self.host, self.port, keepalive=cfg.keepalive)
        client.loop_start()
        try:
            while True:
                topic, payload, arrival_ns = await queue.get()
                self._counts["messages"] += 1
                samples, problems = self.mapper.map(topic, payload, arrival_ns)
                for reason, detail in problems:
                    self._reject(reason, detail, topic)
                for s in samples:
                    self._counts["blocks"] += 1
                    self._counts["samples"] += s.values.size
                    yield s
        finally:
            self._closing = True
            self.connected.clear()
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)

    def _from_paho(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, msg) -> None:
        # paho's network thread: hand over to the event loop, never touch the queue here
        item = (msg.topic, bytes(msg.payload), time.time_ns())
        try:
            loop.call_soon_threadsafe(self._offer, queue, item)
        except RuntimeError:  # event loop closed while paho was still delivering
            pass

    def _offer(self, queue: asyncio.Queue, item: tuple) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self._counts["dropped"] += 1
            if self._counts["dropped"] in (1, 10, 100) or self._counts["dropped"] % 1000 == 0:
                log.error("mqtt_sensor %s: consumer too slow, %d messages dropped so far",
                          self.config.broker, self._counts["dropped"])

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("mqtt_sensor: broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        self._counts["connects"] += 1
        client.subscribe([(t, self.config.qos) for t in self.config.topics])
        log.info("mqtt_sensor: connected to %s:%d, subscribing to %s", self.host, self.port, self.config.topics)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [(t, str(rc)) for t, rc in zip(self.config.topics, reason_codes) if rc.is_failure]
        if refused:
            self._counts["subscribe_failures"] += 1
            log.error("mqtt_sensor: broker refused subscriptions %s (check the broker ACL)", refused)
        else:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if self._closing:
            return
        self._counts["disconnects"] += 1
        log.warning("mqtt_sensor: lost broker %s:%d (%s); paho reconnects", self.host, self.port, reason_code)

    def _reject(self, reason: str, detail: str, topic: str) -> None:
        self._rejected[reason] += 1
        self.recent_rejections.append((reason, detail, topic))
        n = self._rejected[reason]
        if n <= 10 or n % 1000 == 0:
            log.warning("mqtt_sensor %s: rejected (%s, #%d): %s", topic, reason, n, detail)

    def stats(self) -> dict[str, int]:
        """Counters: ``samples`` (values), ``blocks``, ``rejected`` and ``rejected_<reason>``,
        ``messages``, ``dropped``, ``connects``, ``disconnects``, ``subscribe_failures``."""
        out = dict(self._counts)
        out["rejected"] = sum(self._rejected.values())
        out.update({f"rejected_{k}": v for k, v in sorted(self._rejected.items())})
        return out
