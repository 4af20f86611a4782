"""MQTT ingest: subscribe, validate, store in batches, acknowledge, fan out.

Flow and threads::

    broker ──TCP──▶ paho network thread ──bounded queue──▶ writer thread ──▶ store
                     (on_message: enqueue)                  (validate, write batch,
                                                             then PUBACK each message)

- **Sharing.** With ``protocol="5"`` and a ``shared_group`` the hub subscribes
  to ``$share/<group>/tf/v1/...``: the broker hands each message to one member
  of the group, so hub replicas split the load. MQTT 3.1.1 has no shared
  subscriptions (the embedded amqtt broker speaks only 3.1.1): there a group is
  ignored, with a warning, and this hub receives every message.
- **At-least-once, end to end.** paho runs with ``manual_ack``: a QoS 1 message
  is acknowledged only after the store committed it (or quarantined it). If the
  hub dies before that, the broker still owns the message and delivers it again
  (to the resumed session, or to another group member); the store de-duplicates
  on (edge, boot, seq), so a redelivery never double-counts.
- **Backpressure.** When the queue is full, ``on_message`` blocks the network
  thread. paho then stops reading the socket, TCP flow control stops the
  broker, and the broker keeps the QoS 1 messages it could not deliver (bounded
  by its own ``max_queued_messages``; see ``deploy/mosquitto.conf``). Blocking
  is safe *because* nothing blocked has been acknowledged yet. Memory in the hub
  stays at ``queue_size`` messages.
- **Validation.** Every payload is validated; an invalid one is quarantined with
  its reason, counted and logged — never dropped silently, never fatal.
- **Sequence gaps.** Each (edge, boot) stream's ``seq`` is tracked (see
  :mod:`cloud.ingest.gaps`); tracking is on by default only when this hub sees
  every message (no sharing) — with round-robin sharing each replica sees a
  subset and a local gap means nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.ingest.gaps import SequenceTracker
from cloud.ingest.metrics import IngestMetrics, reason_class
from cloud.telemetry.live import Broadcaster
from contract.mqtt import make_client, parse_mqtt_url
from contract.payloads import FeaturesMsg, InvalidMessage, Message, WaveformMsg, parse_message
from contract.topics import ASSET_KINDS, EDGE_KINDS, ingest_filters

log = logging.getLogger(__name__)
#: What the hub subscribes to: every v1 kind, but not the commands it sends itself (``cmd/...``).
TOPICS = ingest_filters()
#: Retained last-value-wins state; sent with ``seq`` 0, outside the record stream.
_UNSEQUENCED = {"status", "birth", "health"}
_STOP = object()


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    gen: int  # connection generation: a packet id is only meaningful on the connection that delivered it


def write_messages(store, messages: list[Message]) -> list[bool]:
    """Write ``messages`` with ``store.write_many`` if the store has it, else one by one.

    Returns one flag per message: ``True`` stored, ``False`` duplicate.
    """
    write_many = getattr(store, "write_many", None)
    if write_many is not None:
        return list(write_many(messages))
    return [store.write(m) for m in messages]


class MqttIngest:
    """Subscribe to every edge's topics and feed the store and live streams.

    Parameters
    ----------
    broker : str
        ``mqtt://host:port``.
    store : object
        Telemetry store with ``write`` (and optionally ``write_many``) and ``quarantine``.
    live : Broadcaster
        Live fan-out to browsers.
    protocol : str
        ``"3.1.1"`` or ``"5"``.
    shared_group : str or None
        With MQTT 5, subscribe as ``$share/<group>/...`` so hub replicas split the
        load; ignored (with a warning) under 3.1.1.
    client_id : str
        MQTT client id; every replica needs its own.
    queue_size : int
        Messages held between the network thread and the writer.
    batch_size : int
        Most messages per store write.
    batch_ms : float
        How long the writer waits for a batch to fill once the queue ran dry.
    track_gaps : bool or None
        Track sequence gaps; ``None`` means on unless sharing.
    metrics : IngestMetrics or None
        Where to count; a private registry when ``None``.

    Examples
    --------
    >>> from cloud.telemetry.store import SQLiteStore
    >>> ingest = MqttIngest("mqtt://127.0.0.1:1883", SQLiteStore(":memory:"), Broadcaster())
    >>> ingest.handle("tf/v1/lab/e1/m1/features",
    ...     b'{"v":1,"edge":"e1","boot":"b","seq":1,"records":[{"ts":1700000000000000000,"features":{"rms":0.1}}]}')
    >>> ingest.handle("tf/v1/lab/e1/m1/features", b'not json')
    >>> ingest.stored, ingest.quarantined, ingest.mode
    (1, 1, 'mqtt 3.1.1')
    """

    def __init__(self, broker: str, store, live: Broadcaster, protocol: str = "3.1.1",
                 shared_group: str | None = None, client_id: str = "tf-hub", *, queue_size: int = 10_000,
                 batch_size: int = 500, batch_ms: float = 5.0, track_gaps: bool | None = None,
                 metrics: IngestMetrics | None = None) -> None:
        if queue_size < 1 or batch_size < 1 or batch_ms < 0:
            raise ValueError(f"queue_size and batch_size must be >= 1 and batch_ms >= 0, got "
                             f"{queue_size}, {batch_size}, {batch_ms}")
        self.host, self.port = parse_mqtt_url(broker)
        self.store, self.live = store, live
        self.protocol = protocol
        if shared_group and protocol != "5":
            log.warning("hub: shared group %r ignored: MQTT %s has no shared subscriptions, so this hub "
                        "receives every message (set mqtt_protocol='5' to share ingest between replicas)",
                        shared_group, protocol)
            shared_group = None
        self.shared_group = shared_group
        self.mode = f"mqtt 5, shared group {shared_group!r}" if shared_group else f"mqtt {protocol}"
        self.queue_size, self.batch_size, self.batch_ms = queue_size, batch_size, batch_ms
        self.metrics = metrics or IngestMetrics()
        self.gaps = SequenceTracker() if (track_gaps if track_gaps is not None else not shared_group) else None
        self.received = self.stored = self.duplicates = self.quarantined = self.batches = 0
        self.subscribed = threading.Event()  # set when the broker acknowledged the subscriptions (SUBACK)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._gen = 0
        self._stopping = threading.Event()
        self._unsubscribed = threading.Event()
        self._writer: threading.Thread | None = None
        self.metrics.queue_capacity.set(queue_size)
        self.metrics.bind_gauges(self._queue.qsize, lambda: self.gaps.open_gaps if self.gaps else 0)
        self._client = make_client(client_id, protocol)
        self._client.manual_ack_set(True)  # PUBACK only after the store committed
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_unsubscribe = lambda *a: self._unsubscribed.set()
        self._client.reconnect_delay_set(0.5, 5)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer, connect in the background and keep reconnecting."""
        log.info("hub: ingest from %s:%d over %s (queue %d, batches of <= %d)", self.host, self.port, self.mode,
                 self.queue_size, self.batch_size)
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._writer.start()
        props = None
        if self.protocol == "5":  # let the broker have at most a queue's worth of unacknowledged messages in flight
            props = Properties(PacketTypes.CONNECT)
            props.ReceiveMaximum = min(self.queue_size, 65535)
        self._client.connect_async(self.host, self.port, keepalive=15, properties=props)
        self._client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop intake, store and acknowledge what is queued, then disconnect."""
        if self._writer is not None and self.subscribed.is_set():
            self._unsubscribed.clear()
            self._client.unsubscribe([self._topic(t) for t in TOPICS])
            self._unsubscribed.wait(2.0)  # every message sent before the UNSUBACK is now queued
        if self._writer is not None:
            self._stopping.set()
            self._put(_STOP)
            self._writer.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def stats(self) -> dict:
        """Counters, queue and sequence-gap state, JSON-ready."""
        return {"mode": self.mode, "received": self.received, "stored": self.stored,
                "duplicates": self.duplicates, "quarantined": self.quarantined, "batches": self.batches,
                "queue_depth": self._queue.qsize(), "queue_capacity": self.queue_size,
                "gaps": self.gaps.stats() if self.gaps else None}

    # -- paho callbacks (network thread) ----------------------------------------------------------
    def _topic(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            hint = (" (the broker may speak only MQTT 3.1.1: set mqtt_protocol='3.1.1')"
                    if self.protocol == "5" and "protocol" in str(reason_code).lower() else "")
            log.error("hub: broker %s:%d refused connection: %s%s", self.host, self.port, reason_code, hint)
            return
        self._gen += 1
        client.subscribe([(self._topic(t), 1) for t in TOPICS])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("hub: broker %s:%d refused subscriptions (%s); check its ACL", self.host, self.port,
                      ", ".join(refused))
            return
        self.subscribed.set()  # the broker acknowledged: from now on nothing published is missed
        log.info("hub: subscribed to %s:%d (%s)", self.host, self.port, self.mode)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        item = _Inbound(message.topic, message.payload, message.mid, message.qos, self._gen)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            t0 = time.monotonic()
            self._put(item)  # blocks paho's reading: TCP backpressure up to the broker
            self.metrics.blocked.inc(time.monotonic() - t0)

    def _put(self, item) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._stopping.is_set() and item is not _STOP:
                    return  # not acknowledged: the broker still owns it
                if self._writer is None or not self._writer.is_alive():
                    log.error("hub: ingest writer is not running; message on %s left unacknowledged",
                              getattr(item, "topic", "?"))
                    return

    # -- writer thread ----------------------------------------------------------------------------
    def _write_loop(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            deadline = time.monotonic() + self.batch_ms / 1000
            while len(batch) < self.batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                self._process(batch)
            except Exception:  # the writer must outlive any batch; unacknowledged messages come again
                log.exception("hub: ingest batch of %d failed; left unacknowledged", len(batch))
                continue
            for m in batch:
                if m.qos > 0 and m.gen == self._gen:
                    self._client.ack(m.mid, m.qos)

    def handle(self, topic: str, payload: bytes) -> None:
        """Validate and store one message synchronously (also usable without a broker)."""
        self._process([_Inbound(topic, payload, 0, 0, 0)])

    def _process(self, batch: list[_Inbound]) -> None:
        """Validate, store and count one batch; return once every message is stored or quarantined."""
        m = self.metrics
        valid: list[tuple[_Inbound, Message]] = []
        for item in batch:
            kind = item.topic.rsplit("/", 1)[-1]
            m.received.labels(kind=kind if kind in ASSET_KINDS or kind in EDGE_KINDS else "unknown").inc()
            self.received += 1
            try:
                valid.append((item, parse_message(item.topic, item.payload)))
            except InvalidMessage as exc:
                self._quarantine(item.topic, exc.reason, item.payload)
        if not valid:
            return
        msgs = [msg for _, msg in valid]
        t0 = time.perf_counter()
        results = self._write(msgs)
        m.write_latency.observe(time.perf_counter() - t0)
        m.batch_size.observe(len(msgs))
        self.batches += 1
        now = time.time_ns()
        for (item, msg), ok in zip(valid, results):
            if isinstance(ok, Exception):
                self._quarantine(item.topic, f"internal error while storing: {type(ok).__name__} (see hub log)",
                                 item.payload)
                continue
            if self.gaps is not None and msg.kind not in _UNSEQUENCED:
                self._observe_seq(msg)
            if not ok:
                self.duplicates += 1
                m.duplicates.labels(kind=msg.kind).inc()
                continue
            self.stored += 1
            m.stored.labels(kind=msg.kind).inc()
            ts = _message_ts(msg)
            if ts is not None:
                m.lag.labels(kind=msg.kind).observe(max(0.0, (now - ts) / 1e9))
            self.live.publish(_live_event(msg))

    def _write(self, msgs: list[Message]) -> list:
        """Write a batch; if the batch fails, write one by one so one bad message cannot sink the rest."""
        try:
            return write_messages(self.store, msgs)
        except Exception:
            log.exception("hub: batch write of %d messages failed; retrying one by one", len(msgs))
        out: list = []
        for msg in msgs:
            try:
                out.append(self.store.write(msg))
            except Exception as exc:
                log.exception("hub: storing %s from %s failed", msg.kind, msg.edge)
                out.append(exc)
        return out

    def _observe_seq(self, msg: Message) -> None:
        before = (self.gaps.gaps_total, self.gaps.missing_total, self.gaps.filled_total)
        outcome = self.gaps.observe(msg.edge, msg.body.boot, msg.body.seq)
        if outcome == "gap":
            g = self.gaps.last_gap
            self.metrics.gaps.inc(self.gaps.gaps_total - before[0])
            self.metrics.gap_missing.inc(self.gaps.missing_total - before[1])
            log.warning("hub: sequence gap from edge %s boot %s: seq %d..%d missing", g.edge, g.boot, g.first,
                        g.last)
        elif outcome == "filled":
            self.metrics.gap_filled.inc(self.gaps.filled_total - before[2])

    def _quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        self.quarantined += 1
        self.metrics.quarantined.labels(reason=reason_class(reason)).inc()
        log.warning("hub: quarantined message on %s: %s", topic, reason)
        self.store.quarantine(topic, reason, payload)
        self.live.publish({"type": "quarantine", "topic": topic, "reason": reason})


def _message_ts(msg: Message) -> int | None:
    body = msg.body
    if isinstance(body, FeaturesMsg):
        return body.records[-1].ts
    return getattr(body, "ts", None)


def _live_event(msg: Message) -> dict:
    event = {"type": msg.kind, "site": msg.site, "edge": msg.edge, "asset": msg.asset}
    if isinstance(msg.body, FeaturesMsg):
        event["records"] = [
            {"ts": r.ts, **r.features, "score": r.score, "threshold": r.threshold, "learning": r.learning}
            for r in msg.body.records
        ]
    elif isinstance(msg.body, WaveformMsg):  # too big for every dashboard: announce, fetch on demand
        event["body"] = msg.body.model_dump(exclude={"values"}) | {"n": len(msg.body.values)}
    else:
        event["body"] = msg.body.model_dump()
    return event
