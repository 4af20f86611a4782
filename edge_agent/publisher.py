"""MQTT publisher of the edge: envelope, QoS 1, retained status, last will."""

from __future__ import annotations

import json
import logging
import threading

from edge_agent.contract import Envelope, asset_topic, now_ns, status_topic
from firmware_adapters.mqtt_client import make_client, parse_mqtt_url

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publish an edge's records under the v1 contract.

    The status topic is retained: ``online`` on every (re)connection and a
    last will of ``offline`` that the broker publishes if the edge vanishes.

    Parameters
    ----------
    broker : str
        ``mqtt://host:port``.
    site, edge : str
        Topic segments identifying the edge.
    assets : list of str
        Assets this edge reports, announced in the status.
    version : str
        Agent version announced in the status.
    protocol : str
        ``"3.1.1"`` or ``"5"``.
    max_inflight : int
        Un-acknowledged QoS 1 messages allowed at once (paho's message ids
        wrap past 65535, so this must stay well below that).
    """

    def __init__(self, broker: str, site: str, edge: str, assets: list[str], version: str,
                 protocol: str = "3.1.1", max_inflight: int = 100) -> None:
        self.host, self.port = parse_mqtt_url(broker)
        self.site, self.edge = site, edge
        self.assets = list(assets)
        self.version = version
        self.envelope = Envelope(edge)
        self.connected = threading.Event()
        self.published = 0
        self._client = make_client(f"tf-edge-{site}-{edge}-{self.envelope.boot[:8]}", protocol)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.will_set(status_topic(site, edge), json.dumps(self._status("offline")), qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(0.5, 5)

    def _status(self, state: str) -> dict:
        # the will is fixed at connect time, so status messages carry seq 0:
        # status is last-value-wins by (boot, ts), not part of the record stream
        return {"v": 1, "edge": self.edge, "boot": self.envelope.boot, "seq": 0, "state": state,
                "ts": now_ns(), "version": self.version, "assets": self.assets}

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.host, self.port, reason_code)
            return
        client.publish(status_topic(self.site, self.edge), json.dumps(self._status("online")), qos=1, retain=True)
        self.connected.set()
        log.info("edge %s connected to %s:%d", self.edge, self.host, self.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code != 0:
            log.warning("edge %s lost the broker (%s); paho reconnects", self.edge, reason_code)

    def start(self) -> None:
        """Connect in the background; messages queue until the broker answers."""
        self._client.connect_async(self.host, self.port, keepalive=15)
        self._client.loop_start()

    def publish(self, asset: str, kind: str, body: dict) -> dict:
        """Wrap ``body`` in the envelope and publish it with QoS 1; return the payload."""
        payload = self.envelope.wrap(body)
        self._client.publish(asset_topic(self.site, self.edge, asset, kind), json.dumps(payload), qos=1)
        self.published += 1
        return payload

    def stop(self) -> None:
        """Publish a clean ``offline`` status and disconnect."""
        if self.connected.is_set():
            info = self._client.publish(status_topic(self.site, self.edge),
                                        json.dumps(self._status("offline")), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except RuntimeError:
                pass
        self._client.disconnect()
        self._client.loop_stop()
