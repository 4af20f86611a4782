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
  on (site, edge, boot, seq) and the payload's digest, so a redelivery never
  double-counts.
- **Persistent session.** The hub's session outlives its connection: MQTT 5
  connects with ``clean_start=False`` and a session-expiry interval, 3.1.1 with
  ``clean_session=False``. While the hub is down (crash, ``kill -9``,
  restart) the broker keeps its subscriptions and queues what edges publish
  (up to the broker's ``max_queued_messages``), and delivers it when the hub
  comes back with the same ``client_id``. A graceful stop therefore does not
  unsubscribe: it finishes the batch in hand and leaves the rest unacknowledged.
- **Store outages.** When the store cannot write (full disk, InfluxDB down:
  :class:`~cloud.telemetry.base.StoreUnavailable`) the writer holds the batch,
  unacknowledged, and retries it with back-off; the queue fills, backpressure
  reaches the broker, which keeps the rest. ``/healthz`` is red with the
  store's reason meanwhile; when the store recovers everything is replayed.
- **Backpressure.** When the queue is full, ``on_message`` blocks the network
  thread. paho then stops reading the socket, TCP flow control stops the
  broker, and the broker keeps the QoS 1 messages it could not deliver (bounded
  by its own ``max_queued_messages``; see ``deploy/mosquitto.conf``). Blocking
  is safe *because* nothing blocked has been acknowledged yet. Memory in the hub
  stays at ``queue_size`` messages.
- **Validation.** Every payload is validated; an invalid one is quarantined with
  its reason (in the same transaction as the valid rest of its batch, which is
  then acknowledged whole), counted and logged — never dropped silently, never
  fatal. Retained state (status, birth, health) and command answers stamped
  more than ``max_future_s`` ahead of the hub's clock are refused, so a
  far-future timestamp cannot pin what the hub shows.
- **Bundles.** A message on ``tf/v1/{site}/{edge}/bundle`` (an MQTT 5 edge
  draining a backlog, :mod:`contract.bundle`) is expanded into the asset
  messages it holds, each validated, de-duplicated and stored as if it had
  come alone; a malformed bundle is quarantined whole with the reason.
- **Sequence gaps.** Each (edge, boot) stream's ``seq`` is tracked (see
  :mod:`cloud.ingest.gaps`); tracking is on by default only when this hub sees
  every message (no sharing) — with round-robin sharing each replica sees a
  subset and a local gap means nothing.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.ingest.gaps import SequenceTracker
from cloud.ingest.metrics import IngestMetrics, reason_class
from cloud.telemetry.base import Conflict, StoreUnavailable
from cloud.telemetry.live import Broadcaster
from contract.mqtt import BrokerAuth, make_client, parse_mqtt_url, secure_client
from contract.bundle import expand
from contract.payloads import FeaturesMsg, InvalidMessage, Message, WaveformMsg, parse_message
from contract.topics import ASSET_KINDS, BUNDLE_KIND, EDGE_KINDS, ingest_filters

log = logging.getLogger(__name__)
#: What the hub subscribes to: every v1 kind, but not the commands it sends itself (``cmd/...``).
TOPICS = ingest_filters()
#: Retained last-value-wins state; sent with ``seq`` 0, outside the record stream.
_UNSEQUENCED = {"status", "birth", "health"}
#: Kinds whose timestamp orders state the hub keeps, checked against the hub's clock.
_CLOCKED = {"status", "birth", "health", "cmd_result"}
_BUNDLE_SUFFIX = "/" + BUNDLE_KIND
_STOP = object()


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    gen: int  # connection generation: a packet id is only meaningful on the connection that delivered it
    t: float = field(default_factory=time.monotonic)  # when it reached the hub


def write_messages(store, messages: list[Message], rejected: list[tuple[str, str, bytes]] = ()) -> list:
    """Write ``messages`` (and quarantine ``rejected``) with ``store.write_many`` if it has it, else one by one.

    Returns one flag per message: ``True`` stored, ``False`` duplicate, or a
    :class:`~cloud.telemetry.base.Conflict`. Stores whose ``write_many``
    takes ``rejected`` quarantine in the same transaction.
    """
    write_many = getattr(store, "write_many", None)
    if write_many is not None and rejected and "rejected" in inspect.signature(write_many).parameters:
        return list(write_many(messages, rejected))
    flags = list(write_many(messages)) if write_many is not None else [store.write(m) for m in messages]
    for topic, reason, payload in rejected:
        store.quarantine(topic, reason, payload)
    return flags


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
        Default 0: a batch is whatever queued while the previous one was
        written, so batches grow with the load by themselves and a message
        arriving alone is stored (and shown live) at once. With a 5 ms wait
        the sensor→browser p95 was 10× the bare subscriber's, without it
        about 3×, at the same throughput (``benchmarks/bench_ingest.py``).
    track_gaps : bool or None
        Track sequence gaps; ``None`` means on unless sharing.
    metrics : IngestMetrics or None
        Where to count; a private registry when ``None``.
    persistent : bool
        Keep the MQTT session across disconnections (see the module docstring).
    session_expiry_s : int
        MQTT 5: how long the broker keeps the session after the hub went away.
    max_future_s : float
        Retained state and command answers dated further ahead of this clock are quarantined.
    max_lag_s : float
        ``health()`` is red when a message waited longer than this to be stored.
    idle_s : float or None
        ``health()`` is red when nothing arrived for this long (``None``: a quiet broker is fine).
    auth : BrokerAuth or None
        The hub's broker user and the CA of an ``mqtts://`` broker.
    admit : callable or None
        ``admit(site, edge)`` returns ``None`` for an edge that may send, or
        the reason to quarantine its message (the hub passes its registry of
        edges: defence in depth behind the broker's ACL).

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
                 batch_size: int = 500, batch_ms: float = 0.0, track_gaps: bool | None = None,
                 metrics: IngestMetrics | None = None, persistent: bool = True, session_expiry_s: int = 86_400,
                 max_future_s: float = 3600.0, max_lag_s: float = 30.0, idle_s: float | None = None,
                 auth: BrokerAuth | None = None, admit: Callable[[str, str], str | None] | None = None) -> None:
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
        self.admit = admit
        self.gaps = SequenceTracker() if (track_gaps if track_gaps is not None else not shared_group) else None
        self.received = self.stored = self.duplicates = self.quarantined = self.batches = self.bundles = 0
        self.subscribed = threading.Event()  # set when the broker acknowledged the subscriptions (SUBACK)
        self.connected = threading.Event()  # set while the broker connection is up
        self.persistent, self.session_expiry_s = persistent, session_expiry_s
        self.max_future_ns, self.max_lag_s, self.idle_s = int(max_future_s * 1e9), max_lag_s, idle_s
        self.store_error: str | None = None  # why the last write failed, until a write succeeds again
        self.store_retries = 0
        self._refused: str | None = None  # why the broker refused the connection or subscriptions
        self._in_hand: float | None = None  # arrival time of the oldest message of the batch being written
        self._last_received: float | None = None
        self._check_cache: tuple[float, str | None] = (0.0, None)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._gen = 0
        self._stopping = threading.Event()
        self._unsubscribed = threading.Event()
        self._writer: threading.Thread | None = None
        self.metrics.queue_capacity.set(queue_size)
        self.metrics.bind_gauges(self._queue.qsize, lambda: self.gaps.open_gaps if self.gaps else 0)
        self._client = make_client(client_id, protocol, persistent=persistent)
        secure_client(self._client, broker, auth)
        self._client.manual_ack_set(True)  # PUBACK only after the store committed
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
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
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.ReceiveMaximum = min(self.queue_size, 65535)  # at most a queue's worth in flight
            if self.persistent:
                props.SessionExpiryInterval = self.session_expiry_s
            self._client.connect_async(self.host, self.port, keepalive=15, clean_start=not self.persistent,
                                       properties=props)
        else:
            self._client.connect_async(self.host, self.port, keepalive=15)
        self._client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store and acknowledge what is queued, then disconnect.

        With a persistent session nothing is unsubscribed: what arrives after
        the last batch stays unacknowledged and the broker delivers it to the
        next connection of this ``client_id``. Without one, the hub
        unsubscribes first so that every message sent before is stored.
        """
        if self._writer is not None and self.subscribed.is_set() and not self.persistent:
            self._unsubscribed.clear()
            self._client.unsubscribe([self._topic(t) for t in TOPICS])
            self._unsubscribed.wait(2.0)  # every message sent before the UNSUBACK is now queued
        if self._writer is not None:
            self._put(_STOP)
            self._stopping.set()
            self._writer.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def stats(self) -> dict:
        """Counters, queue and sequence-gap state, JSON-ready."""
        return {"mode": self.mode, "received": self.received, "stored": self.stored,
                "duplicates": self.duplicates, "quarantined": self.quarantined, "batches": self.batches,
                "bundles": self.bundles, "queue_depth": self._queue.qsize(), "queue_capacity": self.queue_size,
                "store_retries": self.store_retries, "gaps": self.gaps.stats() if self.gaps else None}

    def lag_s(self) -> float:
        """How long the oldest message not yet stored has waited (0 when nothing waits)."""
        now, oldest = time.monotonic(), self._in_hand
        try:
            head = self._queue.queue[0]  # a peek; the deque is only appended and popped by others
            if isinstance(head, _Inbound) and (oldest is None or head.t < oldest):
                oldest = head.t
        except IndexError:
            pass
        return 0.0 if oldest is None else max(0.0, now - oldest)

    def health(self, check_store: bool = True) -> dict:
        """What is true of ingest now, with a reason per failing part (``problems`` empty when healthy).

        Checks the broker connection and subscriptions, the writer thread,
        the store (the last write's error, else the store's own ``check()``,
        at most every 2 s), the lag of the oldest message waiting and, with
        ``idle_s``, whether anything arrives at all.
        """
        problems: list[str] = []
        where = f"{self.host}:{self.port}"
        if not self.connected.is_set():
            problems.append(f"broker {where} not connected" + (f": {self._refused}" if self._refused else ""))
        elif not self.subscribed.is_set():
            problems.append(f"ingest not subscribed at {where}" + (f": {self._refused}" if self._refused else ""))
        if self._writer is not None and not self._writer.is_alive() and not self._stopping.is_set():
            problems.append("ingest writer thread stopped")
        store_problem = self.store_error
        if store_problem is None and check_store:
            store_problem = self._store_check()
        if store_problem:
            problems.append(f"store not writable: {store_problem}")
        lag = self.lag_s()
        if lag > self.max_lag_s:
            problems.append(f"ingest lag {lag:.1f} s exceeds {self.max_lag_s:.0f} s "
                            f"({self._queue.qsize()} messages queued)")
        idle = None if self._last_received is None else time.monotonic() - self._last_received
        if self.idle_s is not None and self.connected.is_set() and (idle is None or idle > self.idle_s):
            problems.append(f"nothing received for more than {self.idle_s:.0f} s")
        return {"ok": not problems, "broker_connected": self.connected.is_set(),
                "ingest_subscribed": self.subscribed.is_set(), "store_writable": store_problem is None,
                "lag_s": round(lag, 3), "last_message_s": None if idle is None else round(idle, 3),
                "queue_depth": self._queue.qsize(), "problems": problems}

    def _store_check(self) -> str | None:
        check = getattr(self.store, "check", None)
        if check is None:
            return None
        at, cached = self._check_cache
        if time.monotonic() - at < 2.0:
            return cached
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - a check that fails is itself the answer
            result = f"store check failed: {type(exc).__name__}: {exc}"
        self._check_cache = (time.monotonic(), result)
        return result

    # -- paho callbacks (network thread) ----------------------------------------------------------
    def _topic(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            hint = (" (the broker may speak only MQTT 3.1.1: set mqtt_protocol='3.1.1')"
                    if self.protocol == "5" and "protocol" in str(reason_code).lower() else "")
            self._refused = f"connection refused: {reason_code}{hint}"
            log.error("hub: broker %s:%d refused connection: %s%s", self.host, self.port, reason_code, hint)
            return
        self._gen += 1
        self._refused = None
        self.connected.set()
        if self.persistent and not flags.session_present:
            log.info("hub: broker %s:%d holds no session for this hub yet; starting one", self.host, self.port)
        client.subscribe([(self._topic(t), 1) for t in TOPICS])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping.is_set():
            log.warning("hub: lost broker %s:%d (%s); reconnecting", self.host, self.port, reason_code)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._refused = f"subscriptions refused ({', '.join(refused)}); check the broker's ACL"
            log.error("hub: broker %s:%d refused subscriptions (%s); check its ACL", self.host, self.port,
                      ", ".join(refused))
            return
        self.subscribed.set()  # the broker acknowledged: from now on nothing published is missed
        log.info("hub: subscribed to %s:%d (%s)", self.host, self.port, self.mode)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # paho decodes topics lazily; a non-UTF-8 one is quarantined by its bytes
            topic = message._topic.decode("utf-8", "replace")
        item = _Inbound(topic, message.payload, message.mid, message.qos, self._gen)
        self._last_received = item.t
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
                if self._stopping.is_set():
                    return  # not acknowledged: the broker still owns it (and the writer sees the stop)
                if self._writer is None or not self._writer.is_alive():
                    log.error("hub: ingest writer is not running; message on %s left unacknowledged",
                              getattr(item, "topic", "?"))
                    return

    # -- writer thread ----------------------------------------------------------------------------
    def _next_batch(self) -> tuple[list[_Inbound], bool]:
        """Up to ``batch_size`` queued messages, and whether the writer should stop after them."""
        batch: list[_Inbound] = []
        while not batch:
            try:
                item = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._stopping.is_set():
                    return [], True
                continue
            if item is _STOP:
                return [], True
            batch.append(item)
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
                return batch, True
            batch.append(item)
        return batch, False

    def resume_sequences(self) -> int:
        """Seed gap tracking with the highest ``seq`` stored per (edge, boot); return how many boots.

        Called by the writer before its first batch, so a gap that spans a
        hub restart (messages the broker did not keep) is counted.
        """
        last = getattr(self.store, "last_sequences", None)
        if self.gaps is None or last is None:
            return 0
        rows = last(self.gaps.max_streams)
        for edge, boot, high in rows:
            self.gaps.resume(edge, boot, high)
        return len(rows)

    def _write_loop(self) -> None:
        try:
            resumed = self.resume_sequences()
            if resumed:
                log.info("hub: gap tracking resumed for %d edge boots from the store", resumed)
        except Exception:  # gap tracking starts from the next messages instead; ingest is not affected
            log.exception("hub: could not resume gap tracking from the store")
        stop = False
        while not stop:
            batch, stop = self._next_batch()
            if not batch:
                continue
            self._in_hand = batch[0].t
            try:
                if not self._process(batch, retry=True):
                    return  # stopped while the store was down: nothing of this batch was acknowledged
            finally:
                self._in_hand = None
            for m in batch:
                if m.qos > 0 and m.gen == self._gen:
                    self._client.ack(m.mid, m.qos)

    def handle(self, topic: str, payload: bytes) -> None:
        """Validate and store one message synchronously (also usable without a broker).

        Raises
        ------
        StoreUnavailable
            If the store cannot write (no retry here; ingest from MQTT retries).
        """
        self._process([_Inbound(topic, payload, 0, 0, 0)], retry=False)

    def _validate(self, batch: list[_Inbound]) -> tuple[list[tuple[_Inbound, Message]], list[tuple[str, str, bytes]]]:
        """Parse every message of a batch: the valid ones, and ``(topic, reason, payload)`` of the rest."""
        valid: list[tuple[_Inbound, Message]] = []
        rejected: list[tuple[str, str, bytes]] = []
        now = time.time_ns()
        for item in self._expanded(batch, rejected):
            kind = item.topic.rsplit("/", 1)[-1]
            self.metrics.received.labels(kind=kind if kind in ASSET_KINDS or kind in EDGE_KINDS else "unknown").inc()
            self.received += 1
            try:
                msg = parse_message(item.topic, item.payload)
            except InvalidMessage as exc:
                rejected.append((item.topic, exc.reason, item.payload))
                continue
            except Exception as exc:  # noqa: BLE001 - whatever a payload does to the parser, it is quarantined
                rejected.append((item.topic, f"payload could not be parsed: {type(exc).__name__}", item.payload))
                continue
            ts = getattr(msg.body, "ts", None)
            if msg.kind in _CLOCKED and ts is not None and ts > now + self.max_future_ns:
                rejected.append((item.topic, f"{msg.kind} payload: ts {ts} is {(ts - now) / 1e9:.0f} s ahead of "
                                 f"the hub's clock (at most {self.max_future_ns / 1e9:.0f} s allowed): refused so "
                                 "that a far-future stamp cannot pin the edge's state", item.payload))
                continue
            refused = None if self.admit is None else self.admit(msg.site, msg.edge)
            if refused:
                rejected.append((item.topic, refused, item.payload))
                continue
            valid.append((item, msg))
        return valid, rejected

    def _expanded(self, batch: list[_Inbound], rejected: list[tuple[str, str, bytes]]) -> list[_Inbound]:
        """The batch with every bundle replaced by the messages it holds; a malformed bundle is rejected whole.

        Inner messages share their bundle's packet id: the bundle is
        acknowledged once all of them are stored or quarantined.
        """
        if not any(item.topic.endswith(_BUNDLE_SUFFIX) for item in batch):
            return batch
        out: list[_Inbound] = []
        for item in batch:
            if not item.topic.endswith(_BUNDLE_SUFFIX):
                out.append(item)
                continue
            try:
                inner = expand(item.topic, item.payload)
            except ValueError as exc:
                self.received += 1
                self.metrics.received.labels(kind="unknown").inc()
                rejected.append((item.topic, str(exc), item.payload))
                continue
            self.bundles += 1
            out += [_Inbound(topic, payload, item.mid, item.qos, item.gen, item.t) for topic, payload in inner]
        return out

    def _process(self, batch: list[_Inbound], retry: bool) -> bool:
        """Validate, store and count one batch; ``True`` once every message is stored or quarantined.

        With ``retry`` a store outage is waited out (back-off up to 5 s, the
        reason on ``health()``); ``False`` if the hub stopped meanwhile.
        """
        valid, rejected = self._validate(batch)
        delay = 0.1
        while True:
            try:
                t0 = time.perf_counter()
                results, rejected_all = self._write(valid, rejected)
                break
            except StoreUnavailable as exc:
                if not retry:
                    raise
                self.store_retries += 1
                if self.store_error != str(exc):
                    log.error("hub: %s; holding %d messages unacknowledged and retrying", exc, len(batch))
                self.store_error = str(exc)
                if self._stopping.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)
        if self.store_error is not None:
            log.warning("hub: store writable again after %d retries", self.store_retries)
            self.store_error = None
            self._check_cache = (0.0, None)
        m = self.metrics
        m.write_latency.observe(time.perf_counter() - t0)
        m.batch_size.observe(len(batch))
        self.batches += 1
        for topic, reason, _ in rejected_all:
            self._count_quarantine(topic, reason)
        now = time.time_ns()
        listening = getattr(self.live, "listening", True)
        events: list[dict] = []
        for (item, msg), ok in zip(valid, results):
            if ok is not True and ok is not False:
                continue  # a conflict or an internal error: quarantined above
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
            if listening:
                events.append(_live_event(msg))
        if events:
            publish_many = getattr(self.live, "publish_many", None)
            if publish_many is not None:
                publish_many(events)
            else:
                for event in events:
                    self.live.publish(event)
        return True

    def _write(self, valid: list[tuple[_Inbound, Message]], rejected: list[tuple[str, str, bytes]]) -> tuple[list, list]:
        """Write a batch with its rejected messages; one flag per valid message, and every quarantined row.

        If the batch fails for a reason other than the store being down, it is
        written one message at a time, so one message the store cannot take
        (quarantined as an internal error) does not sink the rest. Conflicts
        (a key taken by different content) are quarantined after the batch.
        """
        msgs = [msg for _, msg in valid]
        try:
            results = write_messages(self.store, msgs, rejected) if msgs or rejected else []
            done = list(rejected)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("hub: batch write of %d messages failed; retrying one by one", len(msgs))
            results, done = [], []
            for msg in msgs:
                try:
                    results.append(write_messages(self.store, [msg])[0])
                except StoreUnavailable:
                    raise
                except Exception as exc:  # noqa: BLE001 - this one message cannot be stored; keep the rest going
                    log.exception("hub: storing %s from %s failed", msg.kind, msg.edge)
                    results.append(exc)
            late = list(rejected)
        else:
            late = []
        for (item, msg), ok in zip(valid, results):
            if isinstance(ok, Conflict):
                late.append((item.topic, f"{msg.kind} payload: conflict: {ok.reason}", item.payload))
            elif isinstance(ok, Exception):
                late.append((item.topic, f"internal error while storing: {type(ok).__name__} (see hub log)",
                             item.payload))
        if late:
            write_messages(self.store, [], late)
        return results, done + late

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

    def _count_quarantine(self, topic: str, reason: str) -> None:
        self.quarantined += 1
        self.metrics.quarantined.labels(reason=reason_class(reason)).inc()
        log.warning("hub: quarantined message on %s: %s", topic[:200], reason[:500])
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
