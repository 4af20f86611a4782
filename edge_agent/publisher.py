"""MQTT publisher of the edge: durable outbox, QoS 1, status, birth, commands.

Every record goes into the :class:`~edge_agent.outbox.Outbox` first; a pump
thread publishes from it in order with QoS 1, at most ``max_inflight``
un-acknowledged at once, and deletes a record when its PUBACK arrives. A
broker outage only grows the outbox; a killed agent leaves its records in
the file for the next process, which resends them with their original
``(boot, seq)``. paho reconnects with exponential back-off (0.5 s → 10 s).
Under MQTT 5 a PUBACK saying "no matching subscribers" (no hub session
subscribed) does not delete the record: it stays in the outbox and is sent
again after 1 s, then at doubling intervals up to 30 s, until a subscriber
takes it.

Bundles (MQTT 5 only): while more than :data:`BUNDLE_BACKLOG` records wait,
the pump packs up to :data:`BUNDLE_MESSAGES` asset records (at most
:data:`BUNDLE_BYTES`) into one message on ``tf/v1/{site}/{edge}/bundle``
(:mod:`contract.bundle`), so a backlog after an outage drains at the
broker's byte rate rather than its per-message rate; each record keeps its
own bytes and ``(boot, seq)``, and is deleted when its bundle's PUBACK
arrives. The first bundle of a publisher goes alone, as a probe: if the
broker refuses it (an ACL written before bundles existed) the edge sends
those records, and every later one, singly. Under MQTT 3.1.1 the broker
cannot say it refused a message, so bundles are never sent there.

Retained topics: ``status`` (``online`` on every connection, last will
``offline``) and ``birth`` (agent version, assets, commands handled and the
agent's ``birth_info`` — pipelines and their lineage; re-sent on every
connection and by :meth:`MqttPublisher.update_birth`). With a
:class:`~edge_agent.commands.CommandRouter`, the publisher subscribes to
``cmd/#`` (``subscribed`` is set once the broker acknowledged it) and
sends each result on ``cmd_result`` through the outbox.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from pathlib import Path

from contract.bundle import pack
from contract.mqtt import BrokerAuth, make_client, parse_mqtt_url, secure_client
from contract.payloads import Envelope, now_ns
from contract.topics import (ASSET_KINDS, asset_topic, birth_topic, bundle_topic, command_filter,
                             command_result_topic, health_topic, status_topic)
from edge_agent.commands import CommandRouter
from edge_agent.outbox import Outbox

log = logging.getLogger(__name__)
NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK reason: the broker took the record and delivered it to no one
UNROUTED_RETRY_S = (1.0, 30.0)  # first and longest wait before sending such records again
#: Bundle (MQTT 5) while more than this many records wait in the outbox.
BUNDLE_BACKLOG = 400
#: At most this many records, and about this many payload bytes, per bundle.
BUNDLE_MESSAGES, BUNDLE_BYTES = 64, 256 * 1024
_BIRTH_RESERVED = {"v", "edge", "boot", "seq", "ts", "version", "assets", "protocol", "commands"}


class MqttPublisher:
    """Publish an edge's records under the v1 contract, store-and-forward.

    Parameters
    ----------
    broker : str
        ``mqtt://host:port``.
    site, edge : str
        Topic segments identifying the edge.
    assets : list of str
        Assets this edge reports, announced in status and birth.
    version : str
        Agent version announced in status and birth.
    protocol : str
        ``"3.1.1"`` or ``"5"``.
    max_inflight : int
        Un-acknowledged QoS 1 records at once (paho's message ids wrap past
        65535, so this must stay well below that).
    outbox : Outbox, str or Path, optional
        The durable outbox, or its SQLite file. Default: in memory (records
        survive broker outages but not a restart of the agent).
    birth_info : dict, optional
        Extra birth fields, e.g. ``{"pipelines": {...}}`` with lineage.
    commands : CommandRouter, optional
        Subscribe to ``cmd/#`` and answer on ``cmd_result``.
    auth : BrokerAuth, optional
        The edge's broker credentials and the CA its ``mqtts://`` broker must chain to.

    Examples
    --------
    >>> pub = MqttPublisher("mqtt://127.0.0.1:1", "lab", "edge-1", ["pump-1"], "0.1.0")
    >>> pub.publish("pump-1", "alert", {"ts": 1, "message": "m"})["seq"]  # stored, not yet sent
    1
    >>> pub.stats()["queued"], pub.stats()["in_flight"]
    (1, 0)
    >>> pub.stop()
    """

    def __init__(self, broker: str, site: str, edge: str, assets: list[str], version: str,
                 protocol: str = "3.1.1", max_inflight: int = 100, *, outbox: Outbox | str | Path | None = None,
                 birth_info: dict | None = None, commands: CommandRouter | None = None,
                 auth: BrokerAuth | None = None) -> None:
        if not 1 <= max_inflight <= 10_000:
            raise ValueError(f"max_inflight must be within 1..10000, got {max_inflight}")
        self.host, self.port = parse_mqtt_url(broker)
        self.site, self.edge = site, edge
        self.assets = list(assets)
        self.version, self.protocol = version, protocol
        self.max_inflight = max_inflight
        self.envelope = Envelope(edge)
        self.commands = commands
        self.birth_info = self._checked_birth(birth_info or {})
        self._own_outbox = not isinstance(outbox, Outbox)
        self.outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox or ":memory:")
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker acknowledged the cmd/# subscription
        self.published = self.acked = self.refused = self.connects = self.disconnects = 0
        # paho callbacks only touch these (deque appends, ints, Event.set): the pump thread owns the rest,
        # because paho calls on_publish while holding its own message lock
        self._acks: collections.deque[tuple[int, int, int]] = collections.deque()  # (gen, mid, reason code)
        self._gen = 0
        self._wake = threading.Event()
        self._stopping = False
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id (pump thread only)
        self._bundled: dict[int, list[int]] = {}  # paho mid of a bundle -> its row ids (pump thread only)
        self._resend: list[int] = []  # row ids of a refused bundle, to send singly (pump thread only)
        # "probe": the next bundle goes alone; "probing": it is in flight; "on"; "off" (3.1.1, or refused)
        self._bundling = "probe" if protocol == "5" else "off"
        self.bundles_sent = self.bundled_records = self.bundles_refused = 0
        self._done: list[int] = []  # acknowledged row ids not yet deleted (pump thread only)
        self._unrouted: list[int] = []  # row ids the broker took with "no matching subscribers" (pump thread)
        self._retried: set[int] = set()  # of those, the ones sent again and not answered yet
        self._retry_at, self._retry_delay = 0.0, UNROUTED_RETRY_S[0]
        self.unrouted_total = 0
        self._cursor = 0
        self._pump_thread: threading.Thread | None = None
        self._client = make_client(f"tf-edge-{site}-{edge}-{self.envelope.boot[:8]}", protocol)
        # the pump bounds records in flight itself; paho's own limit would rescan its whole queue on
        # every PUBACK (O(in-flight) per ack), so it is switched off (0 = unlimited)
        self._client.max_inflight_messages_set(0)
        secure_client(self._client, broker, auth)
        self._client.will_set(status_topic(site, edge), json.dumps(self._status("offline")), qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.reconnect_delay_set(0.5, 10)

    # -- payloads ---------------------------------------------------------------------------------
    def _status(self, state: str) -> dict:
        # the will is fixed at connect time, so status messages carry seq 0:
        # status is last-value-wins by (boot, ts), not part of the record stream
        return {"v": 1, "edge": self.edge, "boot": self.envelope.boot, "seq": 0, "state": state,
                "ts": now_ns(), "version": self.version, "assets": self.assets}

    def _birth(self) -> dict:
        return {"v": 1, "edge": self.edge, "boot": self.envelope.boot, "seq": 0, "ts": now_ns(),
                "version": self.version, "assets": self.assets, "protocol": self.protocol,
                "commands": self.commands.names if self.commands else [], **self.birth_info}

    @staticmethod
    def _checked_birth(info: dict) -> dict:
        clash = _BIRTH_RESERVED & set(info)
        if clash:
            raise ValueError(f"birth_info may not set {sorted(clash)}: the publisher fills those in")
        json.dumps(info)  # fail here, not in the MQTT thread
        return dict(info)

    def update_birth(self, birth_info: dict) -> None:
        """Replace the birth's extra fields (e.g. after a deploy) and re-publish it if connected."""
        self.birth_info = self._checked_birth(birth_info)
        if self.connected.is_set():
            self._client.publish(birth_topic(self.site, self.edge), json.dumps(self._birth()), qos=1, retain=True)

    # -- paho callbacks (network thread) ----------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        self._gen += 1
        self.connects += 1
        client.publish(status_topic(self.site, self.edge), json.dumps(self._status("online")), qos=1, retain=True)
        client.publish(birth_topic(self.site, self.edge), json.dumps(self._birth()), qos=1, retain=True)
        if self.commands is not None:
            client.subscribe(command_filter(self.site, self.edge), qos=1)
        self.connected.set()
        self._wake.set()
        log.info("edge %s connected to %s:%d (outbox: %d queued)", self.edge, self.host, self.port, len(self.outbox))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("edge %s: broker refused the command subscription (%s); check its ACL", self.edge,
                      ", ".join(refused))
        else:
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        self.disconnects += 1
        if reason_code != 0:
            log.warning("edge %s lost the broker (%s); paho reconnects", self.edge, reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._acks.append((self._gen, mid, int(getattr(reason_code, "value", 0))))
        self._wake.set()

    def _on_message(self, client, userdata, message) -> None:
        if self.commands is None:
            return
        try:  # an exception here would end paho's network thread
            result = self.commands.handle(message.topic, message.payload)
            self._enqueue(command_result_topic(self.site, self.edge), "cmd_result", result)
        except Exception:
            log.exception("edge %s: could not answer the command on %s", self.edge, message.topic)

    # -- public API -------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; records queue in the outbox until the broker answers."""
        self._pump_thread = threading.Thread(target=self._pump, name=f"outbox-{self.edge}", daemon=True)
        self._pump_thread.start()
        self._client.connect_async(self.host, self.port, keepalive=15)
        self._client.loop_start()

    def publish(self, asset: str, kind: str, body: dict) -> dict:
        """Wrap ``body`` in the envelope, store it in the outbox and return the payload."""
        return self._enqueue(asset_topic(self.site, self.edge, asset, kind), kind, body)

    def publish_health(self, body: dict) -> bool:
        """Publish ``body`` as the retained health state if connected (last value wins; not stored).

        Health is a snapshot, not a record: an old one is worth nothing, so it
        skips the outbox and is simply sent again at the next period.
        """
        if not self.connected.is_set():
            return False
        payload = {"v": 1, "edge": self.edge, "boot": self.envelope.boot, "seq": 0, **body}
        self._client.publish(health_topic(self.site, self.edge), json.dumps(payload, separators=(",", ":")),
                             qos=1, retain=True)
        return True

    def _enqueue(self, topic: str, kind: str, body: dict) -> dict:
        payload = self.envelope.wrap(body)
        self.outbox.put(topic, json.dumps(payload, separators=(",", ":")).encode(), kind=kind)
        self.published += 1
        self._wake.set()
        return payload

    def stats(self) -> dict:
        """Delivery counters (also what the agent reports in its health)."""
        oldest = self.outbox.oldest_created_ns()
        return {"connected": self.connected.is_set(), "published": self.published,
                "queued": len(self.outbox), "queued_bytes": self.outbox.nbytes, "in_flight": self._window(),
                "acked": self.acked, "refused": self.refused, "unrouted_held": len(self._unrouted),
                "unrouted_total": self.unrouted_total, "dropped_overflow": self.outbox.dropped_total,
                "dropped_by_kind": dict(self.outbox.dropped), "over_bound": self.outbox.over_bound,
                "disk_full": self.outbox.disk_full, "bundling": self._bundling, "bundles_sent": self.bundles_sent,
                "bundled_records": self.bundled_records, "bundles_refused": self.bundles_refused,
                "oldest_unacked_age_s": 0.0 if oldest is None else round((time.time_ns() - oldest) / 1e9, 3),
                "connects": self.connects, "disconnects": self.disconnects}

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (everything acknowledged); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) or self._window():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, drain_timeout: float = 2.0) -> None:
        """Give queued records ``drain_timeout`` s, publish ``offline`` and disconnect.

        What is not acknowledged by then stays in the outbox for the next start.
        """
        if self.connected.is_set() and drain_timeout > 0:
            self.wait_drained(drain_timeout)
        if self.connected.is_set():
            info = self._client.publish(status_topic(self.site, self.edge),
                                        json.dumps(self._status("offline")), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except RuntimeError:
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self._stopping = True
        self._wake.set()
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=5)
        if self._own_outbox:
            self.outbox.close()

    # -- pump thread ------------------------------------------------------------------------------
    def _pump(self) -> None:
        gate, gen_seen = False, 0
        while not self._stopping:
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                gate, gen_seen = self._pump_once(gate, gen_seen)
            except Exception:  # keep the pump alive: the records stay in the outbox
                log.exception("edge %s: outbox pump error; retrying", self.edge)
                time.sleep(0.5)
        self._pump_once(False, gen_seen)  # delete what was acknowledged meanwhile

    def _pump_once(self, gate: bool, gen_seen: int) -> tuple[bool, int]:
        while self._acks:
            gen, mid, code = self._acks.popleft()
            rowid = self._inflight.pop(mid, None)
            if rowid is None:
                rows = self._bundled.pop(mid, None)
                if rows is not None:
                    gate = gate or gen == self._gen
                    self._bundle_answered(rows, code)
                continue  # otherwise status / birth, or a mid from before a restart
            gate = gate or gen == self._gen  # an ack of this connection: paho's resend is behind us
            if code == NO_MATCHING_SUBSCRIBERS:
                self._keep_unrouted(rowid)
                continue
            self._done.append(rowid)
            if rowid in self._retried:  # a record held for want of a subscriber got through: send the rest
                self._retried.discard(rowid)
                self._retry_at, self._retry_delay = 0.0, UNROUTED_RETRY_S[0]
            if code >= 0x80:
                self.refused += 1
                log.error("edge %s: broker refused record %d (reason %#x); dropped (a retry would be refused "
                          "too)", self.edge, rowid, code)
        connected = self.connected.is_set()
        if connected and self._gen != gen_seen:
            # paho resends its un-acked messages right after on_connect; send new ones only after that,
            # i.e. once one of them is acknowledged, or at once if nothing was in flight
            gen_seen, gate = self._gen, not self._window()
        window = self._window()
        gate = connected and (gate or not window)
        # refill at half the window, deleting acknowledged rows in the same breath: one transaction and
        # one read per max_inflight/2 records instead of per record (4x the drain rate)
        refill = gate and window <= self.max_inflight // 2 and self._bundling != "probing"
        if self._done and (refill or not window or not connected or len(self._done) >= self.max_inflight):
            self.outbox.ack(self._done)
            self.acked += len(self._done)
            self._done = []
        if refill:
            room = self.max_inflight - window
            if self._resend:
                batch, self._resend = self._resend[:room], self._resend[room:]
                for rec in self.outbox.get(batch):
                    self._send_single(rec)
                room = self.max_inflight - self._window()
            if self._bundling in ("probe", "on") and len(self.outbox) > BUNDLE_BACKLOG:
                self._send_bundled(1 if self._bundling == "probe" else room)
            else:
                for rec in self.outbox.after(self._cursor, room):
                    self._send_single(rec)
                    self._cursor = rec.id
            if self._unrouted and time.monotonic() >= self._retry_at:
                self._retry_unrouted()
        return gate, gen_seen

    def _window(self) -> int:
        """MQTT messages in flight: single records and bundles."""
        return len(self._inflight) + len(self._bundled)

    def _send_single(self, rec) -> None:
        info = self._client.publish(rec.topic, rec.payload, qos=rec.qos)
        self._inflight[info.mid] = rec.id

    def _send_bundled(self, room: int) -> None:
        """Send the next records as at most ``room`` MQTT messages: asset records bundled, the rest singly."""
        chunk: list = []
        size = sent = 0
        for rec in self.outbox.after(self._cursor, room * BUNDLE_MESSAGES):
            if sent >= room:
                break
            parts = rec.topic.split("/")
            if rec.kind not in ASSET_KINDS or len(parts) != 6:  # a command answer: on its own topic
                if chunk:
                    self._send_chunk(chunk)
                    chunk, size, sent = [], 0, sent + 1
                    if sent >= room:
                        break
                self._send_single(rec)
                self._cursor, sent = rec.id, sent + 1
                continue
            chunk.append((rec, parts[4]))
            size += len(rec.payload)
            if len(chunk) >= BUNDLE_MESSAGES or size >= BUNDLE_BYTES:
                self._send_chunk(chunk)
                chunk, size, sent = [], 0, sent + 1
        if chunk:
            self._send_chunk(chunk)

    def _send_chunk(self, chunk: list) -> None:
        if len(chunk) == 1:  # nothing to gain: send it as itself
            self._send_single(chunk[0][0])
        else:
            raw = pack([(asset, rec.kind, rec.payload) for rec, asset in chunk])
            info = self._client.publish(bundle_topic(self.site, self.edge), raw, qos=1)
            self._bundled[info.mid] = [rec.id for rec, _ in chunk]
            self.bundles_sent += 1
            self.bundled_records += len(chunk)
            if self._bundling == "probe":
                self._bundling = "probing"
        self._cursor = chunk[-1][0].id

    def _bundle_answered(self, rows: list[int], code: int) -> None:
        """A bundle's PUBACK: its records are done, held for a subscriber, or (refused) to be sent singly."""
        if code >= 0x80:
            self.bundles_refused += 1
            if self._bundling != "off":
                log.warning("edge %s: the broker refused a bundle (reason %#x; its ACL may predate bundles): "
                            "sending records one by one from now on", self.edge, code)
            self._bundling = "off"
            self._resend.extend(rows)
            return
        if self._bundling == "probing":
            self._bundling = "on"
        if code == NO_MATCHING_SUBSCRIBERS:
            for rowid in rows:
                self._keep_unrouted(rowid)
        else:
            self._done.extend(rows)

    def _keep_unrouted(self, rowid: int) -> None:
        """Hold a record the broker took but delivered to no one (MQTT 5 reason 0x10), to send it again.

        A broker answers so when no hub session is subscribed: the hub has not
        subscribed yet, or the broker lost its sessions (e.g. it could not save
        them). Under MQTT 3.1.1 the broker drops such a record without saying so.
        """
        if not self._unrouted and not self._retried:
            log.warning("edge %s: the broker has no subscriber for these records (no hub session?); "
                        "keeping them in the outbox and sending them again", self.edge)
            self._retry_at = time.monotonic() + self._retry_delay
        self._retried.discard(rowid)
        self._unrouted.append(rowid)
        self.unrouted_total += 1

    def _retry_unrouted(self) -> None:
        room = self.max_inflight - self._window()
        batch, self._unrouted = self._unrouted[:room], self._unrouted[room:]
        if not batch:
            return
        for rec in self.outbox.get(batch):  # the outbox's bound may have dropped some meanwhile
            info = self._client.publish(rec.topic, rec.payload, qos=rec.qos)
            self._inflight[info.mid] = rec.id
            self._retried.add(rec.id)
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, UNROUTED_RETRY_S[1])
