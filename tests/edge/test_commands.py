"""Signed bundles and hub commands: verification, validation, dispatch over a real Mosquitto."""

from __future__ import annotations

import copy
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.commands import DeployCommand
from contract.signing import (BundleError, generate_keypair, load_private_key, load_public_key, load_public_keys,
                              save_private_key, save_public_key, sign_bundle, verify_bundle)
from contract.topics import birth_topic, command_result_topic, command_topic
from edge_agent.commands import CommandRouter
from edge_agent.publisher import MqttPublisher
from tests.waiting import wait_until

HUB_KEY, HUB_PUB = generate_keypair()
OTHER_KEY, _ = generate_keypair()
KEYS = {"hub-1": HUB_PUB}
NOW = time.time_ns()


def deploy_doc(bundle_id: str = "d-1", created_ns: int = NOW, **extra) -> dict:
    return {"cmd": "deploy", "bundle_id": bundle_id, "site": "lab", "edge": "edge-1", "created_ns": created_ns,
            "asset": "pump-1", "pipeline": {"detector": "zscore", "threshold": 8.0, "lineage": {"parent": None}},
            **extra}


# -- signing ----------------------------------------------------------------------------------------
def test_valid_bundle_verifies_whatever_the_json_spacing_and_key_order():
    bundle = sign_bundle(deploy_doc(), HUB_KEY, "hub-1")
    assert bundle["alg"] == "Ed25519" and bundle["key_id"] == "hub-1"
    resent = json.loads(json.dumps(bundle, indent=3, sort_keys=False))
    resent["payload"] = dict(reversed(list(resent["payload"].items())))
    assert verify_bundle(resent, KEYS) == deploy_doc()


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b["payload"]["pipeline"].update(threshold=80.0), "bad signature: the payload was altered"),
    (lambda b: b["payload"].update(edge="edge-2"), "bad signature"),
    (lambda b: b.update(signature=sign_bundle(deploy_doc(), OTHER_KEY, "hub-1")["signature"]), "bad signature"),
    (lambda b: b.update(key_id="hub-9"), "unknown key_id 'hub-9' (this edge trusts: hub-1)"),
    (lambda b: b.pop("signature"), "unsigned: no signature"),
    (lambda b: b.update(signature="not base64!"), "malformed bundle: signature must be 64 bytes"),
    (lambda b: b.update(alg="HS256"), "malformed bundle: alg must be 'Ed25519'"),
    (lambda b: b.update(payload=[1, 2]), "malformed bundle: payload must be a JSON object"),
    (lambda b: b.update(extra=1), "malformed bundle: unexpected field(s) extra"),
])
def test_tampered_wrong_key_unsigned_and_malformed_bundles_are_refused(mutate, message):
    bundle = copy.deepcopy(sign_bundle(deploy_doc(), HUB_KEY, "hub-1"))
    mutate(bundle)
    with pytest.raises(BundleError) as err:
        verify_bundle(bundle, KEYS)
    assert message in err.value.reason


def test_unsigned_plain_payload_and_expired_bundle_are_refused():
    with pytest.raises(BundleError, match="unsigned"):
        verify_bundle(deploy_doc(), KEYS)
    expired = sign_bundle(deploy_doc(expires_ns=NOW - 5_000_000_000), HUB_KEY, "hub-1")
    with pytest.raises(BundleError, match=r"expired: expires_ns \d+ is 5\.\d s in the past"):
        verify_bundle(expired, KEYS, now_ns=NOW)
    fresh = sign_bundle(deploy_doc(expires_ns=NOW + 60_000_000_000), HUB_KEY, "hub-1")
    assert verify_bundle(fresh, KEYS, now_ns=NOW)["expires_ns"] == NOW + 60_000_000_000


def test_keys_round_trip_through_pem(tmp_path):
    save_private_key(HUB_KEY, tmp_path / "hub.pem", password=b"s3cret")
    save_public_key(HUB_PUB, tmp_path / "hub-1.pub.pem")
    assert (tmp_path / "hub.pem").stat().st_mode & 0o777 == 0o600
    key = load_private_key(tmp_path / "hub.pem", password=b"s3cret")
    bundle = sign_bundle({"x": 1}, key, "hub-1")
    assert verify_bundle(bundle, {"hub-1": load_public_key(tmp_path / "hub-1.pub.pem")}) == {"x": 1}
    assert verify_bundle(bundle, load_public_keys(tmp_path)) == {"x": 1}
    with pytest.raises(ValueError, match="no \\*.pub.pem"):
        load_public_keys(tmp_path / "hub.pem.d")


# -- router -----------------------------------------------------------------------------------------
def signed(doc: dict) -> bytes:
    return json.dumps(sign_bundle(doc, HUB_KEY, "hub-1")).encode()


TOPIC = "tf/v1/lab/edge-1/cmd/"


@pytest.mark.parametrize("topic, payload, category, reason", [
    (TOPIC + "reboot", b"{}", "topic", "unknown command 'reboot'"),
    ("tf/v1/lab/edge-2/cmd/deploy", b"{}", "topic", "is not tf/v1/lab/edge-1/cmd/<name>"),
    (TOPIC + "deploy", b"\xff\xfe garbage", "not_json", "payload is not JSON"),
    (TOPIC + "deploy", b"[1, 2, 3]", "signature", "malformed bundle: expected a JSON object, got list"),
    (TOPIC + "deploy", json.dumps(deploy_doc()).encode(), "signature", "unsigned: no signature"),
    (TOPIC + "deploy", b"x" * (2 << 20), "too_large", "exceeds"),
    (TOPIC + "deploy", signed({**deploy_doc(), "pipeline": "nope"}), "schema",
     "deploy payload: deploy.pipeline: Input should be a valid dictionary (got 'nope')"),
    (TOPIC + "deploy", signed({**deploy_doc(), "created_ns": 1_700_000_000}), "schema", "created_ns"),
    (TOPIC + "config", signed(deploy_doc()), "schema", "payload is a 'deploy' command but arrived on cmd/config"),
    (TOPIC + "deploy", signed({**deploy_doc(), "edge": "edge-2"}), "edge", "command is for edge 'lab'/'edge-2'"),
    (TOPIC + "snapshot", signed({**deploy_doc(), "cmd": "snapshot", "duration_s": 1e6, "pipeline": None}),
     "schema", "snapshot"),
])
def test_garbage_and_invalid_commands_are_rejected_with_a_reason(topic, payload, category, reason):
    calls = []
    router = CommandRouter("lab", "edge-1", KEYS, on_deploy=calls.append, on_config=calls.append,
                           on_snapshot=calls.append)
    result = router.handle(topic, payload)
    assert result["status"] == "rejected" and reason in result["reason"], result["reason"]
    assert router.stats()["rejected_by"] == {category: 1} and not calls


def test_replays_and_stale_deploys_are_rejected_across_restarts(tmp_path):
    state = tmp_path / "commands.json"
    calls = []
    router = CommandRouter("lab", "edge-1", KEYS, on_deploy=calls.append, state_path=state)
    assert router.handle(TOPIC + "deploy", signed(deploy_doc("d-2", NOW)))["status"] == "accepted"
    again = CommandRouter("lab", "edge-1", KEYS, on_deploy=calls.append, state_path=state)  # agent restarted
    replay = again.handle(TOPIC + "deploy", signed(deploy_doc("d-2", NOW)))
    assert replay["reason"] == "replay: bundle_id 'd-2' was already handled"
    stale = again.handle(TOPIC + "deploy", signed(deploy_doc("d-1", NOW - 10**9)))
    assert stale["status"] == "rejected" and stale["reason"].startswith("stale: deploy created_ns")
    other_asset = again.handle(TOPIC + "deploy", signed({**deploy_doc("d-0", NOW - 10**9), "asset": "fan-1"}))
    assert other_asset["status"] == "accepted"
    assert [c.bundle_id for c in calls] == ["d-2", "d-0"]


def test_handler_refusals_and_failures_become_rejected_results():
    def refuse(cmd):
        raise ValueError(f"unknown detector {cmd.pipeline['detector']!r}")

    def crash(cmd):
        raise RuntimeError("boom")

    r1 = CommandRouter("lab", "edge-1", KEYS, on_deploy=refuse).handle(TOPIC + "deploy", signed(deploy_doc()))
    assert r1["reason"] == "deploy refused by the agent: unknown detector 'zscore'"
    r2 = CommandRouter("lab", "edge-1", KEYS, on_deploy=crash).handle(TOPIC + "deploy", signed(deploy_doc()))
    assert r2["reason"] == "deploy handler failed: RuntimeError: boom"
    r3 = CommandRouter("lab", "edge-1", KEYS).handle(TOPIC + "deploy", signed(deploy_doc()))
    assert r3["reason"] == "this edge does not handle 'deploy' commands (it handles: none)"
    assert r1["bundle_id"] == r2["bundle_id"] == "d-1" and r1["cmd"] == "deploy"


def test_unsigned_snapshots_only_when_allowed():
    snap = {"cmd": "snapshot", "bundle_id": "s-1", "site": "lab", "edge": "edge-1", "created_ns": NOW, "asset": "pump-1"}
    got = []
    strict = CommandRouter("lab", "edge-1", KEYS, on_snapshot=got.append)
    assert "unsigned" in strict.handle(TOPIC + "snapshot", json.dumps(snap).encode())["reason"]
    lax = CommandRouter("lab", "edge-1", KEYS, on_snapshot=lambda c: {"samples": 12000},
                        allow_unsigned=("snapshot",))
    result = lax.handle(TOPIC + "snapshot", json.dumps(snap).encode())
    assert result["status"] == "accepted" and result["detail"] == {"samples": 12000}
    assert "unsigned" in lax.handle(TOPIC + "deploy", json.dumps(deploy_doc()).encode())["reason"]


# -- over MQTT --------------------------------------------------------------------------------------
class Hub:
    """A hub stand-in that sends commands and collects results and births."""

    def __init__(self, port: int) -> None:
        self.results: list[dict] = []
        self.births: list[dict] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-hub-cmd", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(command_result_topic("lab", "edge-1"), 1), (birth_topic("lab", "edge-1"), 1)])
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "no SUBACK within 10 s"

    def _on_message(self, client, userdata, msg) -> None:
        (self.births if msg.topic.endswith("/birth") else self.results).append(json.loads(msg.payload))

    def send(self, name: str, payload: bytes) -> None:
        self.client.publish(command_topic("lab", "edge-1", name), payload, qos=1).wait_for_publish(5)

    def wait(self, predicate, what: str, timeout: float = 10) -> None:
        wait_until(predicate, timeout, what=what, show=lambda: f"results {self.results}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_deploy_over_mqtt_tampered_rejected_valid_applied(mosquitto, protocol):
    deployed: list[DeployCommand] = []
    router = CommandRouter("lab", "edge-1", KEYS, on_deploy=deployed.append)
    pub = MqttPublisher(mosquitto.url, "lab", "edge-1", ["pump-1"], "0.2.0", protocol, commands=router,
                        birth_info={"pipelines": {"pump-1": {"config_hash": "abc", "parent": None}}})
    pub.start()
    assert pub.subscribed.wait(10), "the edge's command subscription was not acknowledged"
    hub = Hub(mosquitto.port)
    try:
        hub.wait(lambda: hub.births, "the retained birth")
        birth = hub.births[0]
        assert birth["version"] == "0.2.0" and birth["commands"] == ["deploy"]
        assert birth["pipelines"]["pump-1"]["config_hash"] == "abc" and birth["boot"] == pub.envelope.boot

        tampered = sign_bundle(deploy_doc("d-7"), HUB_KEY, "hub-1")
        tampered["payload"]["pipeline"]["threshold"] = 1e9
        hub.send("deploy", json.dumps(tampered).encode())
        hub.send("deploy", b"\x00\x01 not json at all")
        hub.send("deploy", signed(deploy_doc("d-8")))
        hub.wait(lambda: len(hub.results) >= 3, "three results")
        bad, garbage, good = hub.results[:3]
        assert bad["status"] == "rejected" and bad["bundle_id"] == "d-7"
        assert bad["reason"].startswith("bad signature: the payload was altered")
        assert garbage["status"] == "rejected" and garbage["reason"].startswith("payload is not JSON")
        assert good["status"] == "accepted" and good["bundle_id"] == "d-8" and good["cmd"] == "deploy"
        assert [c.bundle_id for c in deployed] == ["d-8"], "the tampered deploy never reached the agent"
        assert good["edge"] == "edge-1" and good["seq"] > bad["seq"], "results carry the envelope"

        pub.update_birth({"pipelines": {"pump-1": {"config_hash": "def", "parent": "abc"}}})
        hub.wait(lambda: len(hub.births) >= 2, "the updated birth")
        assert hub.births[-1]["pipelines"]["pump-1"]["parent"] == "abc"
        assert router.stats() == {"received": 3, "accepted": 1, "rejected": 2,
                                  "rejected_by": {"signature": 1, "not_json": 1}}
    finally:
        hub.close()
        pub.stop()
    with pytest.raises(ValueError, match="birth_info may not set"):
        pub.update_birth({"version": "x"})
