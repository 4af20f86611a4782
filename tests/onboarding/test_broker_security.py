"""Broker security against a real Mosquitto: per-edge users, topic ACLs, TLS, revocation by reload.

Each edge user may publish only the contract's topics under its own
``tf/v1/{site}/{edge}/`` and read only its own commands; the hub user reads
all and writes only commands; anonymous clients, revoked users and a
client that trusts another CA are refused.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading

import pytest

from cloud.onboarding.broker import (BrokerAccount, check_listener, edge_username, hash_password, mosquitto_config,
                                     render_acl)
from cloud.onboarding.pki import create_ca
from contract.mqtt import BrokerAuth, make_client, secure_client
from contract.topics import asset_topic, command_topic, status_topic
from tests.onboarding.broker_fixture import HUB_PASSWORD, HUB_USER, SecureMosquitto
from tests.servers import free_port
from tests.waiting import port_open, wait_until

pytestmark = pytest.mark.slow


class Client:
    """A paho client that records its connection result, subscriptions' grants and messages."""

    def __init__(self, url: str, auth: BrokerAuth | None, name: str) -> None:
        self.url = url
        self.refused: str | None = None
        self.connected = threading.Event()
        self.granted: list[list[bool]] = []
        self.messages: list[tuple[str, bytes]] = []
        self.c = secure_client(make_client(name, "3.1.1"), url, auth)
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.granted.append([not rc.is_failure for rc in rcs])
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.on_disconnect = lambda *a: self.connected.clear()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        else:
            self.connected.set()

    def start(self) -> "Client":
        from contract.mqtt import parse_mqtt_url
        host, port = parse_mqtt_url(self.url)
        self.c.connect_async(host, port, keepalive=10)
        self.c.loop_start()
        return self

    def stop(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def broker(tmp_path):
    b = SecureMosquitto(tmp_path)
    yield b
    b.stop()


def _issue(broker: SecureMosquitto, accounts: dict[str, tuple[BrokerAccount, str]], site: str, edge: str,
           kit: int) -> BrokerAuth:
    user, password = edge_username(site, edge, kit), f"pw-{site}-{edge}-{kit}-long-enough"
    accounts[user] = (BrokerAccount(user, hash_password(user, password), site, edge), password)
    broker.files.write([broker.hub_account] + [a for a, _ in accounts.values()])
    return BrokerAuth(user, password, broker.ca)


def _connected(url, auth, name, timeout=15.0) -> Client:
    c = Client(url, auth, name).start()
    wait_until(lambda: c.connected.is_set() or c.refused, timeout, what=f"{name} connected or refused")
    assert c.refused is None, f"{name} was refused: {c.refused}"
    return c


def test_acl_per_edge_hub_reads_all_anonymous_refused_revocation_by_reload(broker):
    accounts: dict = {}
    auth_a = _issue(broker, accounts, "plant-a", "gw-a", 1)
    auth_b = _issue(broker, accounts, "plant-b", "gw-b", 2)
    hub = _connected(broker.url, BrokerAuth(HUB_USER, HUB_PASSWORD, broker.ca), "hub")
    hub.c.subscribe("tf/v1/#", qos=1)
    wait_until(lambda: hub.granted, 10, what="the hub's subscription answered")
    assert hub.granted[0] == [True]

    a = _connected(broker.url, auth_a, "edge-a")
    b = _connected(broker.url, auth_b, "edge-b")
    # A publishes as itself (reaches the hub) and as B (silently dropped by the broker) - QoS 1, acknowledged
    own = a.c.publish(asset_topic("plant-a", "gw-a", "pump-1", "alert"), b"own", qos=1)
    forged = a.c.publish(asset_topic("plant-b", "gw-b", "press-1", "alert"), b"forged", qos=1)
    forged_status = a.c.publish(status_topic("plant-b", "gw-b"), b"forged-status", qos=1)
    forged_cmd = a.c.publish(command_topic("plant-a", "gw-a", "deploy"), b"self-command", qos=1)
    for info in (own, forged, forged_status, forged_cmd):
        info.wait_for_publish(10)
    wait_until(lambda: any(p == b"own" for _, p in hub.messages), 10, what="A's own alert at the hub")
    # B's own message after A's forgeries: once it arrives, anything of A's would have arrived before it
    b.c.publish(status_topic("plant-b", "gw-b"), b"b-online", qos=1).wait_for_publish(10)
    wait_until(lambda: any(p == b"b-online" for _, p in hub.messages), 10, what="B's status at the hub")
    payloads = [p for _, p in hub.messages]
    assert b"forged" not in payloads and b"forged-status" not in payloads and b"self-command" not in payloads

    # A may subscribe to its own commands only; the hub may write commands, nothing else
    a.c.subscribe(command_topic("plant-a", "gw-a", "deploy").rsplit("/", 1)[0] + "/#", qos=1)
    a.c.subscribe("tf/v1/plant-b/gw-b/cmd/#", qos=1)
    a.c.subscribe("tf/v1/#", qos=1)
    wait_until(lambda: len(a.granted) == 3, 10, what="A's three subscriptions answered")
    hub.c.publish(command_topic("plant-b", "gw-b", "config"), b"cmd-for-b", qos=1).wait_for_publish(10)
    hub.c.publish(command_topic("plant-a", "gw-a", "config"), b"cmd-for-a", qos=1).wait_for_publish(10)
    hub.c.publish(asset_topic("plant-a", "gw-a", "pump-1", "alert"), b"hub-forged-alert", qos=1).wait_for_publish(10)
    wait_until(lambda: any(p == b"cmd-for-a" for _, p in a.messages), 10, what="A's own command")
    assert [p for _, p in a.messages if p == b"cmd-for-b"] == []
    assert b"hub-forged-alert" not in [p for _, p in hub.messages] + [p for _, p in a.messages]
    assert a.granted[0] == [True]  # its own cmd/#; the others are granted or refused, but deliver nothing

    # anonymous and wrong-password clients are refused at CONNECT
    anon = Client(broker.url, BrokerAuth(ca_file=broker.ca), "anon").start()
    wrong = Client(broker.url, BrokerAuth(auth_a.username, "not-the-password", broker.ca), "wrong").start()
    wait_until(lambda: anon.refused and wrong.refused, 15, what="anonymous and wrong password refused")
    assert "authori" in anon.refused.lower() or "password" in anon.refused.lower()
    for c in (anon, wrong):
        c.stop()

    # revoking A (the files rewritten, SIGHUP): A is disconnected at once, cannot come back; B stays
    del accounts[auth_a.username]
    broker.files.write([broker.hub_account] + [acct for acct, _ in accounts.values()])
    assert broker.files.reloads >= 1
    wait_until(lambda: not a.connected.is_set(), 15, what="revoked A disconnected by the reload")
    a.stop()
    again = Client(broker.url, auth_a, "edge-a-again").start()
    wait_until(lambda: again.refused, 15, what="revoked A refused")
    again.stop()
    b.c.publish(status_topic("plant-b", "gw-b"), b"b-still", qos=1).wait_for_publish(10)
    wait_until(lambda: any(p == b"b-still" for _, p in hub.messages), 10, what="B still publishing")
    assert b.connected.is_set()
    for c in (b, hub):
        c.stop()


def test_tls_verifies_the_broker(broker, tmp_path):
    accounts: dict = {}
    auth = _issue(broker, accounts, "plant-a", "gw-a", 1)
    ok = _connected(broker.url, auth, "right-ca")
    ok.stop()
    other_ca, _ = create_ca(tmp_path / "other")
    rogue = secure_client(make_client("wrong-ca", "3.1.1"), broker.url, BrokerAuth(auth.username, auth.password,
                                                                                       other_ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        rogue.connect("127.0.0.1", broker.port, keepalive=10)
    # plain MQTT to the TLS listener does not get in either
    plain = Client(broker.url.replace("mqtts", "mqtt"), BrokerAuth(auth.username, auth.password), "plain")
    plain.start()
    assert not plain.connected.wait(2.0)
    plain.stop()


def test_host_name_is_checked(tmp_path):
    """A broker whose certificate names another host is refused, although its CA is trusted."""
    elsewhere = SecureMosquitto(tmp_path, hosts=["broker.example"])
    try:
        accounts: dict = {}
        auth = _issue(elsewhere, accounts, "plant-a", "gw-a", 1)
        c = secure_client(make_client("name-mismatch", "3.1.1"), elsewhere.url, auth)
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
            c.connect("127.0.0.1", elsewhere.port, keepalive=10)
    finally:
        elsewhere.stop()


def test_refuses_open_listener_beyond_loopback(tmp_path, capsys):
    from teachfab import cli

    assert cli.main(["broker", "init", "--dir", str(tmp_path / "b"), "--listen", "0.0.0.0:1883", "--open"]) == 2
    assert "refusing an open MQTT listener on 0.0.0.0" in capsys.readouterr().err
    assert cli.main(["broker", "init", "--dir", str(tmp_path / "b"), "--listen", "0.0.0.0:8883",
                     "--host", "broker.hub.example"]) == 0
    written = (tmp_path / "b" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in written and "certfile" in written and "listener 8883 0.0.0.0" in written
    with pytest.raises(ValueError, match="beyond loopback every client needs credentials"):
        mosquitto_config([("0.0.0.0", 1883)], None, None)
    with pytest.raises(ValueError, match="refusing an open MQTT listener on 192.168.1.5"):
        check_listener("192.168.1.5", secured=False)
    conf = mosquitto_config([("0.0.0.0", 8883)], tmp_path / "p", tmp_path / "a")
    assert "allow_anonymous false" in conf and f"password_file {tmp_path / 'p'}" in conf
    assert "allow_anonymous true" in mosquitto_config([("127.0.0.1", 1883)], None, None)


def test_acl_text_names_only_own_topics():
    text = render_acl([BrokerAccount("tf-hub", "$7$x"), BrokerAccount("s/e/k1", "$7$y", "s", "e")])
    block = text.split("user s/e/k1\n", 1)[1].splitlines()
    assert "topic read tf/v1/s/e/cmd/#" in block
    assert all(line.startswith("topic write tf/v1/s/e/") or line == "topic read tf/v1/s/e/cmd/#" for line in block)
    assert not any("/cmd/" in line for line in block if line.startswith("topic write"))
    hub = text.split("user tf-hub\n", 1)[1].split("\n\n")[0].splitlines()
    assert hub == ["topic read tf/v1/#", "topic write tf/v1/+/+/cmd/#"]


def test_broker_init_config_saves_sessions_when_the_broker_stops(tmp_path):
    """The written configuration runs Mosquitto as the directory's owner, so it can save its sessions."""
    from teachfab import cli

    port, out = free_port(), tmp_path / "b"
    assert cli.main(["broker", "init", "--dir", str(out), "--listen", f"127.0.0.1:{port}"]) == 0
    assert "persistence true" in (out / "mosquitto.conf").read_text()
    with open(tmp_path / "mosquitto.log", "wb") as log:
        proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(out / "mosquitto.conf")],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: port_open(port), 10, what="the broker listening")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = (tmp_path / "mosquitto.log").read_text()
    assert "Error saving" not in text, text  # as root without ``user``: "unable to remove mosquitto.db.new"
    assert (out / "mosquitto.db").stat().st_size > 0
