"""MQTT ingest: subscribe, validate, store, fan out.

Every payload is validated; an invalid one is quarantined with its reason,
counted and logged — never dropped silently, never allowed to stop ingest.
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt

from cloud.ingest.schema import ASSET_KINDS, EDGE_KINDS, FeaturesMsg, InvalidMessage, WaveformMsg, parse_message
from cloud.live import Broadcaster
from cloud.telemetry.store import SQLiteStore
from firmware_adapters.mqtt_client import make_client, parse_mqtt_url

log = logging.getLogger(__name__)
#: What the hub subscribes to: every v1 kind, but not the commands it sends itself (``cmd/...``).
TOPICS = tuple(f"tf/v1/+/+/+/{k}" for k in ASSET_KINDS) + tuple(f"tf/v1/+/+/{k}" for k in EDGE_KINDS)


class MqttIngest:
    """Subscribe to every edge's topics and feed the store and live streams.

    Parameters
    ----------
    broker : str
        ``mqtt://host:port``.
    store : SQLiteStore
        Where validated messages go.
    live : Broadcaster
        Live fan-out to browsers.
    protocol : str
        ``"3.1.1"`` or ``"5"``.
    shared_group : str or None
        With MQTT 5, subscribe as ``$share/<group>/...`` so hub replicas
        split the load.
    """

    def __init__(self, broker: str, store: SQLiteStore, live: Broadcaster, protocol: str = "3.1.1",
                 shared_group: str | None = None, client_id: str = "tf-hub") -> None:
        if shared_group and protocol != "5":
            raise ValueError("shared subscriptions need MQTT protocol '5'")
        self.host, self.port = parse_mqtt_url(broker)
        self.store, self.live = store, live
        self.shared_group = shared_group
        self.received = 0
        self.duplicates = 0
        self.quarantined = 0
        self.subscribed = threading.Event()
        self._client = make_client(client_id, protocol)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.5, 5)

    def start(self) -> None:
        """Connect in the background and keep reconnecting."""
        self._client.connect_async(self.host, self.port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("hub: broker %s:%d refused connection: %s", self.host, self.port, reason_code)
            return
        prefix = f"$share/{self.shared_group}/" if self.shared_group else ""
        client.subscribe([(prefix + t, 1) for t in TOPICS])
        self.subscribed.set()
        log.info("hub: subscribed to %s:%d", self.host, self.port)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self.received += 1
        try:
            self.handle(message.topic, message.payload)
        except Exception:  # ingest must outlive any single message
            log.exception("hub: unexpected error on %s; payload quarantined", message.topic)
            self._quarantine(message.topic, "internal error while storing (see hub log)", message.payload)

    def handle(self, topic: str, payload: bytes) -> None:
        """Validate and store one message (also usable without a broker)."""
        try:
            msg = parse_message(topic, payload)
        except InvalidMessage as exc:
            self._quarantine(topic, exc.reason, payload)
            return
        if not self.store.write(msg):
            self.duplicates += 1
            return
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
        self.live.publish(event)

    def _quarantine(self, topic: str, reason: str, payload: bytes) -> None:
        self.quarantined += 1
        log.warning("hub: quarantined message on %s: %s", topic, reason)
        self.store.quarantine(topic, reason, payload)
        self.live.publish({"type": "quarantine", "topic": topic, "reason": reason})
