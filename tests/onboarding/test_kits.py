"""Starter kits through the API against a real, secured Mosquitto: issue, connect, revoke, re-issue.

Also: the hub quarantines telemetry of an edge not registered at its site,
and stamps the site's first data from what it stores.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import yaml
from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.settings import HubSettings
from contract.kit import read_archive
from contract.mqtt import BrokerAuth, make_client, parse_mqtt_url, secure_client
from contract.signing import generate_keypair, load_public_keys, save_private_key
from contract.topics import asset_topic
from tests.onboarding.broker_fixture import HUB_PASSWORD, HUB_USER, SecureMosquitto
from tests.servers import OPERATOR
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
TS = 1_790_000_000_000_000_000
SOURCES = [{"adapter": "opcua", "asset": "press-1",
            "options": {"url": "opc.tcp://127.0.0.1:4840/teachfab/", "namespace": "urn:teachfab:simulator",
                        "browse_path": "Assets/press-1"}},
           {"adapter": "serial_frame", "asset": "fan-1", "options": {"port": "/dev/ttyUSB0"}}]


def hub_settings(broker: SecureMosquitto, tmp) -> dict:
    key = tmp / "hub-command.pem"
    save_private_key(generate_keypair()[0], key)
    return dict(db_path=str(tmp / "hub.sqlite"), broker=broker.url, broker_username=HUB_USER,
                broker_password=HUB_PASSWORD, broker_ca=str(broker.ca), broker_passwd_file=str(broker.files.passwd_file),
                broker_acl_file=str(broker.files.acl_file), broker_pid_file=str(broker.files.pid_file),
                command_key=str(key), lab_sessions=False, **OPERATOR)


@pytest.fixture
def stack(tmp_path):
    broker = SecureMosquitto(tmp_path / "broker")
    app = create_app(HubSettings(**hub_settings(broker, tmp_path)))
    with TestClient(app) as client:
        form = {"username": OPERATOR["admin_email"], "password": OPERATOR["admin_password"]}
        token = client.post("/api/auth/token", data=form).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        for path, body in (("/api/sites", {"slug": "plant-a", "name": "Plant A", "kind": "sme"}),
                           ("/api/sites", {"slug": "plant-b", "name": "Plant B", "kind": "sme"}),
                           ("/api/sites/plant-a/assets", {"name": "press-1"}),
                           ("/api/sites/plant-a/assets", {"name": "fan-1"}),
                           ("/api/sites/plant-b/assets", {"name": "pump-9"})):
            assert client.post(path, json=body).status_code == 201
        wait_until(app.state.ingest.subscribed.is_set, 20, what="the hub subscribed with its broker user over TLS")
        yield app, client, broker
    broker.stop()


def _unpack(issued: dict, where) -> tuple[dict, dict]:
    path = where / issued["filename"]
    path.write_bytes(base64.b64decode(issued["archive_b64"]))
    manifest, files = read_archive(path)
    return manifest, files


class Edge:
    """A client with a kit's credentials (what the edge agent's publisher does)."""

    def __init__(self, cfg: dict, ca) -> None:
        self.refused = None
        self.connected = False
        self.c = secure_client(make_client(f"kit-{cfg['edge_id']}", "3.1.1"), cfg["broker"],
                               BrokerAuth(cfg["broker_username"], cfg["broker_password"], ca))
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: setattr(self, "connected", False)
        host, port = parse_mqtt_url(cfg["broker"])
        self.c.connect_async(host, port, keepalive=10)
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props):
        self.refused, self.connected = (str(rc), False) if rc.is_failure else (None, True)

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_kit_issue_connect_revoke_reissue(stack, tmp_path):
    app, client, broker = stack
    r = client.post("/api/kits", json={"site": "plant-a", "edge": "gw-a", "sources": SOURCES,
                                       "pipelines": {"press-1": {"rpm": 1480, "bearing": "6205"}}})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["kit"]["username"] == f"plant-a/gw-a/k{issued['kit']['id']}"
    manifest, files = _unpack(issued, tmp_path)
    assert manifest["site"] == "plant-a" and manifest["short_code"] == issued["short_code"]
    assert set(files) == {"edge.yaml", "ca.pem", "hub-keys/hub.pub.pem"}
    cfg = yaml.safe_load(files["edge.yaml"])
    assert cfg["broker"] == broker.url and cfg["broker_ca"] == "ca.pem" and cfg["hub_keys"] == "hub-keys"
    assert [s["asset"] for s in cfg["sources"]] == ["press-1", "fan-1"]
    assert cfg["sources"][0]["browse_path"] == "Assets/press-1" and cfg["pipelines"]["press-1"]["rpm"] == 1480
    assert files["ca.pem"] == broker.ca.read_bytes()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub.pub.pem").write_bytes(files["hub-keys/hub.pub.pem"])
    assert load_public_keys(tmp_path / "keys")["hub"] == app.state.command_signer.public_key()
    assert cfg["broker_password"] not in json.dumps(client.get("/api/kits").json())
    # the edge is registered with its kit; the onboarding record says so
    assert [e["edge_id"] for e in client.get("/api/sites/plant-a/edges").json()] == ["gw-a"]
    steps = {s["step"]: s["at"] for s in client.get("/api/onboarding/plant-a").json()["steps"]}
    assert steps["registered"] and steps["kit_issued"] and steps["first_data"] is None

    # a second kit for the same edge is refused; an unregistered asset is refused with its name
    assert client.post("/api/kits", json={"site": "plant-a", "edge": "gw-a", "sources": SOURCES}).status_code == 409
    bad = client.post("/api/kits", json={"site": "plant-a", "edge": "gw-x", "sources": [
        {"adapter": "opcua", "asset": "pump-9", "options": {}}]})
    assert bad.status_code == 422 and "'pump-9' is not registered at site 'plant-a'" in bad.json()["detail"]

    ca = tmp_path / "ca.pem"
    ca.write_bytes(files["ca.pem"])
    edge = Edge(cfg, ca)
    wait_until(lambda: edge.connected or edge.refused, 15, what="the kit's edge connected")
    assert edge.connected, edge.refused
    edge.c.publish(asset_topic("plant-a", "gw-a", "press-1", "features"), json.dumps(
        {"v": 1, "edge": "gw-a", "boot": "b1", "seq": 1, "records": [{"ts": TS, "features": {"rms": 0.2}}]}),
        qos=1).wait_for_publish(10)
    wait_until(lambda: app.state.ingest.stored >= 1, 15, what="the kit edge's features stored")
    wait_until(lambda: client.get("/api/onboarding/plant-a").json()["steps"][2]["at"], 15, what="first data stamped")
    record = client.get("/api/onboarding/plant-a").json()
    assert record["steps"][2]["detail"] == "from edge gw-a" and record["next_step"] == "first_challenge_signed"

    # re-issue: new user and password; the old ones are dropped by the broker at once and refused after
    r2 = client.post(f"/api/kits/{issued['kit']['id']}/reissue")
    assert r2.status_code == 201, r2.text
    cfg2 = yaml.safe_load(_unpack(r2.json(), tmp_path)[1]["edge.yaml"])
    assert cfg2["broker_username"] != cfg["broker_username"] and cfg2["broker_password"] != cfg["broker_password"]
    wait_until(lambda: not edge.connected, 15, what="the old kit's connection dropped by the reload")
    edge.stop()
    old = Edge(cfg, ca)
    wait_until(lambda: old.refused, 15, what="the old kit refused")
    old.stop()
    new = Edge(cfg2, ca)
    wait_until(lambda: new.connected, 15, what="the re-issued kit connected")

    # revoke: the gateway is disconnected at once and cannot come back
    kit2 = r2.json()["kit"]["id"]
    revoked = client.post(f"/api/kits/{kit2}/revoke").json()
    # both stamps carry their UTC offset (created_at came back from SQLite naive, which broke the schema's date-time)
    assert revoked["revoked_at"].endswith(("Z", "+00:00")) and revoked["created_at"].endswith(("Z", "+00:00"))
    wait_until(lambda: not new.connected, 15, what="the revoked kit's connection dropped")
    new.stop()
    again = Edge(cfg2, ca)
    wait_until(lambda: again.refused, 15, what="the revoked kit refused")
    again.stop()
    states = {k["id"]: k["revoked_at"] is not None for k in client.get("/api/kits").json()}
    assert states == {issued["kit"]["id"]: True, kit2: True}


def test_unregistered_edge_is_quarantined(stack):
    app, client, broker = stack
    # the hub's own user cannot publish telemetry at all (ACL); use ingest's own entry to show the second line
    app.state.ingest.handle(asset_topic("plant-b", "ghost", "pump-9", "features"), json.dumps(
        {"v": 1, "edge": "ghost", "boot": "b", "seq": 1, "records": [{"ts": TS, "features": {"rms": 1.0}}]}).encode())
    assert app.state.ingest.stored == 0 and app.state.ingest.quarantined == 1
    reason = client.get("/api/quarantine").json()
    assert "edge 'ghost' is not registered at site 'plant-b'" in json.dumps(reason)
    # registered now: admitted once the registry is read again for this pair (at most 2 s after its last read)
    assert client.post("/api/sites/plant-b/edges", json={"edge_id": "ghost"}).status_code == 201
    wait_until(lambda: (app.state.ingest.handle(asset_topic("plant-b", "ghost", "pump-9", "features"), json.dumps(
        {"v": 1, "edge": "ghost", "boot": "b", "seq": 2, "records": [{"ts": TS + 1, "features": {"rms": 1.0}}]}
    ).encode()), app.state.ingest.stored)[1] >= 1, 10, interval=0.5, what="the registered edge admitted")
    # a pair never seen before is admitted from its first message, however recently the registry was read
    assert client.post("/api/sites/plant-b/edges", json={"edge_id": "new-gw"}).status_code == 201
    app.state.ingest.handle(asset_topic("plant-b", "new-gw", "pump-9", "features"), json.dumps(
        {"v": 1, "edge": "new-gw", "boot": "b", "seq": 1, "records": [{"ts": TS + 2, "features": {"rms": 1.0}}]}
    ).encode())
    assert app.state.ingest.stored == 2


def test_made_up_edges_cost_few_registry_reads(stack):
    """A flood of messages from unknown edges is quarantined without reading the registry for each one."""
    app, client, broker = stack
    admit = app.state.ingest.admit.__self__
    before, t0 = admit.reads, time.monotonic()
    for i in range(200):
        app.state.ingest.handle(asset_topic("plant-b", f"ghost-{i % 3}", "pump-9", "features"), json.dumps(
            {"v": 1, "edge": f"ghost-{i % 3}", "boot": "b", "seq": i + 1,
             "records": [{"ts": TS + i, "features": {"rms": 1.0}}]}).encode())
    assert app.state.ingest.quarantined == 200 and app.state.ingest.stored == 0
    # each of the three made-up pairs reads at most once per refresh_s (2 s), however many messages it sends
    assert 1 <= admit.reads - before <= 3 * (1 + (time.monotonic() - t0) // admit.refresh_s), admit.reads - before
    # many made-up pairs: no more reads than the budget (20, refilled at 20/s) allows
    before, t0 = admit.reads, time.monotonic()
    for i in range(300):
        assert admit.refusal("plant-b", f"made-up-{i}")
    assert admit.reads - before <= 20 + 20 * (time.monotonic() - t0) + 1


def test_fixed_lab_edges_are_registered_and_log_in_with_their_own_topics_only(tmp_path):
    """``TEACHFAB_HUB_BROKER_LAB_EDGES`` (what compose gives hub-1): users in the broker's files, edges registered."""
    broker = SecureMosquitto(tmp_path / "broker")
    lab = {"lab/edge-1": "edge-one-long-passphrase", "lab/edge-2": "edge-two-long-passphrase"}
    try:
        app = create_app(HubSettings(**hub_settings(broker, tmp_path), broker_lab_edges=lab))
        with TestClient(app):
            wait_until(app.state.ingest.subscribed.is_set, 20, what="the hub subscribed")
            acl = broker.files.acl_file.read_text()
            assert "user lab/edge-1\ntopic write tf/v1/lab/edge-1/+/features" in acl
            cfg = {"edge_id": "edge-1", "broker": broker.url, "broker_username": "lab/edge-1",
                   "broker_password": lab["lab/edge-1"]}
            edge = Edge(cfg, broker.ca)
            wrong = Edge({**cfg, "edge_id": "edge-x", "broker_password": lab["lab/edge-2"]}, broker.ca)
            wait_until(lambda: edge.connected and wrong.refused, 15, what="edge-1 in, a wrong password refused")
            rec = {"v": 1, "edge": "edge-1", "boot": "b1", "seq": 1,
                   "records": [{"ts": TS, "features": {"rms": 1.0}, "score": 0.5, "threshold": 8.0}]}
            edge.c.publish(asset_topic("lab", "edge-1", "pump-1", "features"), json.dumps(rec), qos=1)
            forged = {**rec, "edge": "edge-2"}
            edge.c.publish(asset_topic("lab", "edge-2", "pump-1", "features"), json.dumps(forged), qos=1)
            # its own window after the forgery: once that is stored, a forged one would have been before it
            later = {**rec, "seq": 2, "records": [{**rec["records"][0], "ts": TS + 10**9}]}
            edge.c.publish(asset_topic("lab", "edge-1", "pump-1", "features"), json.dumps(later), qos=1)
            store = app.state.store
            wait_until(lambda: len(store.telemetry("lab", "pump-1")) >= 2, 20,
                       what="edge-1's two windows stored (a registered edge)")
            assert [r["ts"] for r in store.telemetry("lab", "pump-1")] == [TS, TS + 10**9]
            edge.stop()
            wrong.stop()
    finally:
        broker.stop()


def test_lab_edges_need_the_managed_files_and_strong_passwords():
    with pytest.raises(ValueError, match="BROKER_PASSWD_FILE"):
        HubSettings(db_path=":memory:", mode="dev", broker_lab_edges={"lab/e1": "x"})
    with pytest.raises(ValueError, match="edge"):
        HubSettings(db_path=":memory:", mode="dev", broker_passwd_file="p", broker_acl_file="a", broker_username="h",
                    broker_password="p", broker_lab_edges={"lab/e/1": "x"})
    with pytest.raises(ValueError, match="lab/e1"):
        HubSettings(db_path=":memory:", broker_passwd_file="p", broker_acl_file="a", broker_username="h",
                    broker_password="p", broker_lab_edges={"lab/e1": "short"})
