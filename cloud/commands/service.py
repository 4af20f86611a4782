"""The hub's command signer: complete a command, check it against the contract, sign it, publish it.

The edge agent verifies the signature, the expiry and the bundle id before it
applies a command (:mod:`edge_agent.commands`); its answer comes back on
``cmd_result`` and shows in ``GET /api/edges/{site}/{edge}``. The private key
is read once, when the hub starts, from the PEM file the settings name; it is
never logged and no route returns it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from cloud.commands.schemas import CommandSent
from cloud.errors import Invalid, Unavailable
from contract.commands import parse_command
from contract.mqtt import BrokerAuth, make_client, parse_mqtt_url, secure_client
from contract.payloads import describe_errors
from contract.signing import load_private_key, sign_bundle
from contract.topics import command_topic


class CommandSigner:
    """Signs commands with the hub key and publishes them at QoS 1.

    Parameters
    ----------
    broker : str
        ``mqtt://host:port`` the edges listen on.
    key : Ed25519PrivateKey
        The hub's command key.
    key_id : str
        The name edges know its public half by.
    ttl_s : int
        How long a signed command stays valid.
    auth : BrokerAuth, optional
        The hub's broker user (its ACL lets it write commands only).

    Examples
    --------
    >>> from contract.signing import generate_keypair
    >>> signer = CommandSigner("mqtt://127.0.0.1:1", generate_keypair()[0], "hub", 300)
    >>> signer.send("lab", "edge-1", {"cmd": "snapshot"})
    Traceback (most recent call last):
    ...
    cloud.errors.Invalid: snapshot command: snapshot.asset: Field required (got nothing)
    """

    def __init__(self, broker: str, key: Ed25519PrivateKey, key_id: str, ttl_s: int,
                 auth: BrokerAuth | None = None) -> None:
        self.broker, self.key_id, self.ttl_s, self.auth = broker, key_id, ttl_s, auth
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return f"CommandSigner(broker={self.broker!r}, key_id={self.key_id!r})"

    @classmethod
    def from_settings(cls, settings) -> CommandSigner | None:
        """The signer of a hub's settings (``command_key`` PEM file), or ``None`` when it has no key."""
        if not settings.command_key:
            return None
        key = load_private_key(Path(settings.command_key))
        return cls(settings.broker, key, settings.command_key_id, settings.command_ttl_s, settings.broker_auth())

    def public_key(self):
        """The public half of the hub key (what edges trust)."""
        return self._key.public_key()

    def send(self, site: str, edge: str, command: dict) -> CommandSent:
        """Complete ``command`` (bundle id, site and edge, creation and expiry), check it, sign it and publish it.

        Raises :class:`~cloud.errors.Invalid` when the edge would refuse the
        command's shape, :class:`~cloud.errors.Unavailable` when the broker
        does not take it.
        """
        now = time.time_ns()
        doc = {**command, "bundle_id": uuid.uuid4().hex, "site": site, "edge": edge,
               "created_ns": now, "expires_ns": now + self.ttl_s * 10**9}
        try:
            parse_command(doc)  # the edge's own contract: refuse here what the edge would refuse
        except ValidationError as exc:
            raise Invalid(f"{command.get('cmd')} command: {describe_errors(exc)}") from None
        topic = command_topic(site, edge, doc["cmd"])
        try:
            publish_once(self.broker, topic, json.dumps(sign_bundle(doc, self._key, self.key_id)).encode(),
                         auth=self.auth)
        except OSError as exc:
            raise Unavailable(f"could not publish the command: {exc}") from None
        return CommandSent(bundle_id=doc["bundle_id"], topic=topic, key_id=self.key_id, expires_ns=doc["expires_ns"])


def publish_once(broker: str, topic: str, payload: bytes, timeout: float = 5.0, auth: BrokerAuth | None = None) -> None:
    """Publish ``payload`` to ``topic`` at QoS 1 on a short-lived connection; raise ``OSError`` on failure."""
    host, port = parse_mqtt_url(broker)
    client = secure_client(make_client(f"tf-hub-cmd-{uuid.uuid4().hex[:8]}", "3.1.1"), broker, auth)
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise OSError(f"broker {broker} did not acknowledge the command within {timeout} s")
    finally:
        client.disconnect()
        client.loop_stop()
