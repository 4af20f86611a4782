"""The MQTT client set-up shared by adapters, simulators, the edge and the hub (paho)."""

from __future__ import annotations

from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Split ``mqtt://host:port`` into host and port (default 1883).

    Examples
    --------
    >>> parse_mqtt_url("mqtt://127.0.0.1:18830")
    ('127.0.0.1', 18830)
    """
    parsed = urlparse(url)
    if parsed.scheme != "mqtt" or not parsed.hostname:
        raise ValueError(f"broker URL must look like mqtt://host:port, got {url!r}")
    return parsed.hostname, parsed.port or 1883


def make_client(client_id: str, protocol: str) -> mqtt.Client:
    """A paho client for MQTT ``"3.1.1"`` or ``"5"`` with the v2 callback API."""
    versions = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}
    if protocol not in versions:
        raise ValueError(f"MQTT protocol must be one of {sorted(versions)}, got {protocol!r}")
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=versions[protocol])
