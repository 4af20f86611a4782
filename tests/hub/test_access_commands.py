"""Commands to edges: signed with the hub key, published through a real Mosquitto, verifiable by the edge."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from cloud.hub import create_app
from cloud.settings import HubSettings
from contract.signing import generate_keypair, save_private_key, verify_bundle

OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}


def test_operator_command_is_signed_and_published(mosquitto, tmp_path):
    private, public = generate_keypair()
    save_private_key(private, tmp_path / "hub.pem")
    settings = HubSettings(db_path=str(tmp_path / "hub.sqlite"), broker=mosquitto.url,
                           command_key=str(tmp_path / "hub.pem"), command_key_id="hub-2026", **OPS)
    got: queue.Queue = queue.Queue()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edge-listener")
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("tf/v1/lab/edge-1/cmd/#", qos=1)
    sub.loop_start()
    try:
        with TestClient(create_app(settings, ingest=False)) as client:
            token = client.post("/api/auth/token", data={"username": OPS["admin_email"],
                                                         "password": OPS["admin_password"]}).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            assert client.post("/api/sites", headers=auth, json={"slug": "lab", "name": "Lab", "kind": "lab"}).status_code == 201
            assert client.post("/api/sites/lab/edges", headers=auth, json={"edge_id": "edge-1"}).status_code == 201
            r = client.post("/api/edges/lab/edge-1/commands", headers=auth,
                            json={"cmd": "snapshot", "asset": "pump-1", "duration_s": 0.5})
            assert r.status_code == 202, r.text
            sent = r.json()
            # refused here what the edge would refuse; unknown edges are 404
            bad = client.post("/api/edges/lab/edge-1/commands", headers=auth, json={"cmd": "deploy", "asset": "p"})
            assert bad.status_code == 422 and "pipeline" in json.dumps(bad.json())
            assert client.post("/api/edges/lab/ghost/commands", headers=auth,
                               json={"cmd": "snapshot", "asset": "p"}).status_code == 404
        topic, payload = got.get(timeout=5)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert topic == sent["topic"]
    doc = verify_bundle(json.loads(payload), {"hub-2026": public})
    assert doc["bundle_id"] == sent["bundle_id"] and doc["edge"] == "edge-1" and doc["duration_s"] == 0.5
