"""The MQTT client set-up shared by adapters, simulators, the edge and the hub (paho).

A broker URL is ``mqtt://host:port`` (plain, default port 1883) or
``mqtts://host:port`` (TLS, default port 8883). :class:`BrokerAuth` carries
what a client presents and trusts: a username and password (per device,
issued by the hub in a starter kit) and the CA certificate the broker's
certificate must chain to. :func:`secure_client` applies both to a paho
client: with ``mqtts://`` the client verifies the broker's certificate and
its host name, and refuses the connection otherwise.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """Split ``mqtt://host:port`` or ``mqtts://host:port`` into host and port (default 1883 / 8883).

    Examples
    --------
    >>> parse_mqtt_url("mqtt://127.0.0.1:18830")
    ('127.0.0.1', 18830)
    >>> parse_mqtt_url("mqtts://broker.hub.example")
    ('broker.hub.example', 8883)
    """
    parsed = urlparse(url)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.hostname:
        raise ValueError(f"broker URL must look like mqtt://host:port or mqtts://host:port, got {url!r}")
    return parsed.hostname, parsed.port or _DEFAULT_PORTS[parsed.scheme]


def uses_tls(url: str) -> bool:
    """Whether a broker URL asks for TLS (``mqtts://``).

    Examples
    --------
    >>> uses_tls("mqtts://127.0.0.1:8883"), uses_tls("mqtt://127.0.0.1")
    (True, False)
    """
    return urlparse(url).scheme == "mqtts"


@dataclass(frozen=True)
class BrokerAuth:
    """What a client presents to the broker and which CA it trusts.

    Parameters
    ----------
    username, password : str or None
        The client's broker credentials (``None``: connect anonymously,
        which a secured broker refuses).
    ca_file : str or Path or None
        PEM file of the CA the broker's certificate must chain to; ``None``
        with ``mqtts://`` trusts the system's CAs.

    Examples
    --------
    >>> BrokerAuth("edge-a", "s3cret")
    BrokerAuth(username='edge-a', password='***', ca_file=None)
    """

    username: str | None = None
    password: str | None = None
    ca_file: str | Path | None = None

    def __repr__(self) -> str:  # never show the password
        shown = None if self.password is None else "***"
        return f"BrokerAuth(username={self.username!r}, password={shown!r}, ca_file={self.ca_file!r})"


def make_client(client_id: str, protocol: str, persistent: bool = False) -> mqtt.Client:
    """A paho client for MQTT ``"3.1.1"`` or ``"5"`` with the v2 callback API.

    ``persistent`` asks, under 3.1.1, for a session the broker keeps across
    disconnections (``clean_session=False``); under MQTT 5 the session is
    chosen at connect time instead (``clean_start`` and the session-expiry
    property, as :class:`cloud.ingest.subscriber.MqttIngest` does).
    """
    versions = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}
    if protocol not in versions:
        raise ValueError(f"MQTT protocol must be one of {sorted(versions)}, got {protocol!r}")
    clean = None if protocol == "5" else not persistent
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=versions[protocol],
                       clean_session=clean)


def secure_client(client: mqtt.Client, url: str, auth: BrokerAuth | None) -> mqtt.Client:
    """Give ``client`` the credentials of ``auth`` and, for ``mqtts://``, TLS that verifies the broker.

    The broker's certificate must chain to ``auth.ca_file`` (or a system CA)
    and name the URL's host; TLS 1.2 is the oldest version accepted.
    ``ValueError`` names a CA file that does not exist.
    """
    if auth is not None and auth.username is not None:
        client.username_pw_set(auth.username, auth.password)
    if uses_tls(url):
        ca = None if auth is None or auth.ca_file is None else Path(auth.ca_file)
        if ca is not None and not ca.is_file():
            raise ValueError(f"CA certificate {str(ca)!r} does not exist (the kit's ca.pem)")
        context = ssl.create_default_context(cafile=None if ca is None else str(ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        client.tls_set_context(context)  # check_hostname and CERT_REQUIRED are the context's defaults
    return client
