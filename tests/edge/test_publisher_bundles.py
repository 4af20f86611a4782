"""MQTT 5 edges drain a backlog in bundles; the hub stores every record once (real Mosquitto and hub ingest)."""

from __future__ import annotations

import getpass

import pytest

from cloud.ingest.subscriber import MqttIngest
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.store import SQLiteStore
from contract.bundle import MAGIC, MAX_MESSAGES, expand, pack, unpack
from contract.payloads import MAX_PAYLOAD_BYTES
from edge_agent.publisher import BUNDLE_BACKLOG, BUNDLE_MESSAGES, MqttPublisher
from tests.waiting import wait_until

T0 = 1_700_000_000_000_000_000
N = 3 * BUNDLE_BACKLOG


def features(i: int) -> dict:
    return {"records": [{"ts": T0 + i * 1000, "features": {"rms": float(i)}}]}


@pytest.fixture
def hub(mosquitto):
    """A real hub ingest (MQTT 5, persistent session) on the test's broker, into SQLite."""
    store = SQLiteStore(":memory:")
    ingest = MqttIngest(mosquitto.url, store, Broadcaster(), protocol="5", client_id="bundle-hub")
    ingest.start()
    assert ingest.subscribed.wait(10), "the hub did not subscribe"
    yield ingest, store
    ingest.stop()


def backlog(url: str, protocol: str, n: int = N, edge: str = "edge-1") -> MqttPublisher:
    """A publisher with ``n`` records (two assets and a few alerts) stored before it ever connects."""
    pub = MqttPublisher(url, "lab", edge, ["pump-1", "pump-2"], "test", protocol)
    for i in range(n):
        if i % 100 == 99:
            pub.publish("pump-2", "alert", {"ts": T0 + i * 1000, "message": f"alert {i}", "score": 0.9,
                                             "threshold": 0.5})
        else:
            pub.publish(f"pump-{1 + i % 2}", "features", features(i))
    return pub


def stored_keys(store: SQLiteStore, edge: str = "edge-1") -> list[tuple[str, int]]:
    return [tuple(r) for r in store._db.execute("SELECT boot, seq FROM messages WHERE edge = ? AND seq > 0 "
                                                 "ORDER BY seq", (edge,))]


def drain(pub: MqttPublisher, ingest: MqttIngest, n: int) -> dict:
    pub.start()
    try:
        assert pub.wait_drained(60), pub.stats()
        wait_until(lambda: ingest.stored >= n, 30, what=f"{n} records stored", show=ingest.stats)
        return pub.stats()
    finally:
        pub.stop()


def test_an_mqtt5_backlog_goes_in_bundles_and_every_record_is_stored_once(mosquitto, hub):
    ingest, store = hub
    pub = backlog(mosquitto.url, "5")
    boot = pub.envelope.boot
    stats = drain(pub, ingest, N)
    assert stats["bundling"] == "on" and stats["bundles_refused"] == 0, stats
    # everything above the backlog threshold went in bundles, the tail singly
    assert stats["bundled_records"] >= N - BUNDLE_BACKLOG - BUNDLE_MESSAGES, stats
    assert stats["bundles_sent"] <= stats["bundled_records"] / 2, stats
    assert stats["acked"] == N and stats["queued"] == 0, stats
    assert stored_keys(store) == [(boot, s) for s in range(1, N + 1)]
    assert ingest.bundles == stats["bundles_sent"] and ingest.duplicates == 0 and ingest.quarantined == 0
    counts = store.counts()
    assert counts["alert"] == N // 100 and counts["alerts"] == N // 100
    series = {r["ts"]: r["rms"] for r in store.telemetry("lab", "pump-1", limit=N)}
    assert series[T0 + 2 * 1000] == 2.0 and len(series) == N // 2  # each window with its own value


def test_mqtt311_never_bundles(mosquitto, hub):
    ingest, store = hub
    stats = drain(backlog(mosquitto.url, "3.1.1", BUNDLE_BACKLOG + 200), ingest, BUNDLE_BACKLOG + 200)
    assert stats["bundling"] == "off" and stats["bundles_sent"] == 0, stats
    assert len(stored_keys(store)) == BUNDLE_BACKLOG + 200 and ingest.bundles == 0


def test_a_broker_that_refuses_bundles_gets_the_records_singly(mosquitto, tmp_path):
    """An ACL written before bundles existed: the probe is refused, nothing is lost, no bundle is tried again."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite tf/v1/lab/edge-1/+/+\ntopic readwrite tf/v1/lab/edge-1/status\n"
                   "topic readwrite tf/v1/lab/edge-1/birth\ntopic read tf/v1/#\n")
    with open(mosquitto.conf, "a") as f:
        f.write(f"acl_file {acl}\nuser {getpass.getuser()}\n")  # stay the user who can read the file
    mosquitto.pause()
    mosquitto.resume()
    store = SQLiteStore(":memory:")
    ingest = MqttIngest(mosquitto.url, store, Broadcaster(), protocol="5", client_id="acl-hub")
    ingest.start()
    try:
        assert ingest.subscribed.wait(10)
        pub = backlog(mosquitto.url, "5")
        boot = pub.envelope.boot
        stats = drain(pub, ingest, N)
    finally:
        ingest.stop()
    assert stats["bundling"] == "off" and stats["bundles_refused"] == 1 and stats["bundles_sent"] == 1, stats
    assert stats["acked"] == N and stats["refused"] == 0, stats
    assert stored_keys(store) == [(boot, s) for s in range(1, N + 1)]
    assert ingest.bundles == 0 and ingest.duplicates == 0


def test_a_malformed_bundle_is_quarantined_whole_and_ingest_goes_on(mosquitto, hub):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    ingest, store = hub
    good = pack([("pump-1", "features", b'{"v":1,"edge":"edge-9","boot":"b9","seq":1,"records":[{"ts":'
                 + str(T0).encode() + b',"features":{"rms":1.0}}]}')])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="forger", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        for raw in (b"TFB1\x05pump", b"junk", good[:-3], b"TFB1"):
            client.publish("tf/v1/lab/edge-9/bundle", raw, qos=1).wait_for_publish(5)
        client.publish("tf/v1/lab/edge-9/bundle", good, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    wait_until(lambda: ingest.stored >= 1 and ingest.quarantined >= 4, 10, what="4 quarantined, 1 stored",
               show=ingest.stats)
    reasons = [q["reason"] for q in store.quarantined()]
    assert any("truncated header" in r for r in reasons), reasons
    assert any("does not start with b'TFB1'" in r for r in reasons), reasons
    assert any("runs past the bundle" in r for r in reasons), reasons
    assert any("holds no message" in r for r in reasons), reasons
    assert stored_keys(store, "edge-9") == [("b9", 1)]


def test_bundle_format_round_trips_and_names_what_is_wrong():
    msgs = [(f"asset-{i % 3}", ("features", "alert", "drift", "waveform")[i % 4], b'{"i":%d}' % i)
            for i in range(50)]
    assert unpack(pack(msgs)) == msgs
    assert expand("tf/v1/s/e/bundle", pack(msgs))[3] == ("tf/v1/s/e/asset-0/waveform", b'{"i":3}')
    with pytest.raises(ValueError, match="not a bundle topic"):
        expand("tf/v1/s/e/status", pack(msgs))
    with pytest.raises(ValueError, match="kind 'status'"):
        pack([("a", "status", b"{}")])
    with pytest.raises(ValueError, match="1..1000 messages"):
        pack(msgs * (MAX_MESSAGES // 50 + 1))
    with pytest.raises(ValueError, match=r"asset '\.\./x'|asset must|must be 1-64"):
        unpack(b"TFB1\x04../x\x00\x00\x00\x00\x00")
    with pytest.raises(ValueError, match="exceeds"):
        unpack(MAGIC + bytes(MAX_PAYLOAD_BYTES))
    with pytest.raises(ValueError, match="not UTF-8"):
        unpack(b"TFB1\x01\xff\x00\x00\x00\x00\x00")
