"""Fault suite of the hub's ingest: hostile payloads, forged keys and state, outages, crashes, damaged files.

Every test runs against a real Mosquitto (and, where named, a real hub
process, edge publisher or influxd), reproduces one finding of issue 17 and
asserts the outcome: quarantined with a reason while ingest goes on, nothing
lost, nothing counted twice, ``/healthz`` red with the reason meanwhile.
Durations are scaled down; ``benchmarks/bench_faults.py`` runs the full ones.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from cloud.database import DatabaseUnusable, upgrade_database
from cloud.ingest.subscriber import MqttIngest
from cloud.telemetry.answers import genuine_answers
from cloud.telemetry.base import StoreCorrupt
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.store import SQLiteStore
from edge_agent.publisher import MqttPublisher
from tests.hub.test_ingest_scaleout import HubProcess, features_payload, publish_all, stored_keys
from tests.servers import Mosquitto
from tests.waiting import wait_until

TOPIC = "tf/v1/lab/{edge}/pump-1/features"
NOW = time.time_ns()


def status(edge: str, boot: str, state: str, ts: int) -> bytes:
    return json.dumps({"v": 1, "edge": edge, "boot": boot, "seq": 0, "state": state, "ts": ts}).encode()


def valid(n: int, start: int = 1, edge: str = "e1", boot: str = "b1") -> list[tuple[str, bytes]]:
    return [(TOPIC.format(edge=edge), features_payload(edge, boot, s)) for s in range(start, start + n)]


#: One payload of each kind that used to escape the validator or slip through it (issue 17, findings 1 and 3).
POISON = [
    ("deep nesting", TOPIC.format(edge="e1"), b'{"v":1,"edge":"e1","boot":"b1","seq":1,"records":'
     + b"[" * 1100 + b"]" * 1100 + b"}", "is not JSON: recursion limit exceeded"),
    ("5000-digit int", TOPIC.format(edge="e1"), b'{"v":1,"edge":"e1","boot":"b1","seq":' + b"9" * 5000 + b"}",
     "is not JSON: number out of range"),
    ("seq as a string", TOPIC.format(edge="e1"), b'{"v":1,"edge":"e1","boot":"b1","seq":"12","records":'
     b'[{"ts":1700000000000000000,"features":{"rms":1}}]}', "seq: Input should be a valid integer"),
    ("seq as a boolean", TOPIC.format(edge="e1"), b'{"v":1,"edge":"e1","boot":"b1","seq":true,"records":'
     b'[{"ts":1700000000000000000,"features":{"rms":1}}]}', "seq: Input should be a valid integer"),
    ("v as a boolean", "tf/v1/lab/e1/status", b'{"v":true,"edge":"e1","boot":"b1","seq":0,"state":"online",'
     b'"ts":1700000000000000000}', "must be the integer 1"),
    ("NaN in birth", "tf/v1/lab/e1/birth", b'{"v":1,"edge":"e1","boot":"b1","seq":0,"ts":1700000000000000000,'
     b'"pipelines":{"p":{"threshold":NaN}}}', "is not a finite number"),
    ("Infinity in health", "tf/v1/lab/e1/health", b'{"v":1,"edge":"e1","boot":"b1","seq":0,"ts":1700000000000000000,'
     b'"outbox":[1e999]}', "is not a finite number"),
    ("status from 2099", "tf/v1/lab/e1/status", status("e1", "forged", "offline", 4_070_908_800 * 10**9),
     "ahead of the hub's clock"),
    ("not UTF-8", TOPIC.format(edge="e1"), b"\xff\xfe\x00", "is not JSON"),
    ("a JSON list", TOPIC.format(edge="e1"), b"[1,2,3]", "must be a JSON object"),
]


@pytest.fixture
def ingests():
    running: list[MqttIngest] = []

    def start(*args, **kwargs) -> MqttIngest:
        ingest = MqttIngest(*args, **kwargs)
        ingest.start()
        running.append(ingest)
        assert ingest.subscribed.wait(10), "the broker did not acknowledge the hub's subscriptions"
        return ingest

    yield start
    for ingest in running:
        ingest.stop()


def features_count(store: SQLiteStore) -> int:
    return store.counts().get("features", 0)


@pytest.mark.parametrize("label, topic, payload, reason", POISON, ids=[p[0] for p in POISON])
def test_each_poison_payload_is_quarantined_with_its_reason(label, topic, payload, reason):
    store = SQLiteStore(":memory:")
    ingest = MqttIngest("mqtt://127.0.0.1:1", store, Broadcaster())
    ingest.handle(topic, payload)
    [row] = store.quarantined()
    assert reason in row["reason"], row["reason"]
    assert ingest.quarantined == 1


def test_poison_in_a_batch_costs_nothing_else_and_cannot_stall_ingest(mosquitto, ingests, tmp_path):
    """Finding 1: 30 poison messages (more than Mosquitto's in-flight window of 20) among 60 valid, then 50 more."""
    store = SQLiteStore(tmp_path / "hub.sqlite")
    ingest = ingests(mosquitto.url, store, Broadcaster(), protocol="5", batch_size=50, batch_ms=50)
    good = valid(60)
    poison = [(topic, payload) for _, topic, payload, _ in POISON] * 3
    mixed = [m for pair in zip(good[:30], poison) for m in pair] + good[30:]
    publish_all(mosquitto.url, mixed)
    publish_all(mosquitto.url, valid(50, start=61))
    wait_until(lambda: features_count(store) == 110 and ingest.quarantined == 30, 30,
               what="110 valid messages stored and 30 quarantined", show=ingest.stats)
    reasons = [r["reason"] for r in store.quarantined(limit=100)]
    assert all(any(p[3] in r for r in reasons) for p in POISON)
    health = ingest.health()
    assert health["ok"], health["problems"]


def test_a_forged_next_sequence_number_does_not_discard_genuine_windows(mosquitto, ingests):
    """Finding 3: forged seq 1..50 under a real edge's boot first; the genuine 50 are kept as conflicts."""
    store = SQLiteStore(":memory:")
    ingest = ingests(mosquitto.url, store, Broadcaster())
    forged = [(TOPIC.format(edge="e1"), json.dumps(
        {"v": 1, "edge": "e1", "boot": "b1", "seq": s, "records": [{"ts": NOW, "features": {"rms": 999.0}}]}).encode())
        for s in range(1, 51)]
    publish_all(mosquitto.url, forged)
    wait_until(lambda: ingest.stored == 50, 20, what="the forged 50 stored")
    publish_all(mosquitto.url, valid(50) + valid(50))  # the genuine ones, then their redelivery
    wait_until(lambda: ingest.quarantined == 100, 20, what="every genuine window kept as a conflict", show=ingest.stats)
    rows = store.quarantined(limit=200)
    assert all("conflict" in r["reason"] and "seq" in r["reason"] for r in rows)
    assert {json.loads(r["payload"])["seq"] for r in rows} == set(range(1, 51))  # nothing silently dropped
    # a redelivery of what was stored (same bytes) is still just a duplicate
    publish_all(mosquitto.url, forged[:5])
    wait_until(lambda: ingest.duplicates == 5, 20, what="5 duplicates")


def test_the_same_key_at_another_site_is_another_message():
    """Finding 3: the duplicate key includes the site (default edge ids repeat across sites)."""
    store = SQLiteStore(":memory:")
    ingest = MqttIngest("mqtt://127.0.0.1:1", store, Broadcaster())
    ingest.handle("tf/v1/plant-a/edge-1/m1/features", features_payload("edge-1", "b", 1))
    ingest.handle("tf/v1/plant-b/edge-1/m1/features", features_payload("edge-1", "b", 1))
    assert ingest.stored == 2 and ingest.duplicates == 0
    assert store.series("plant-a", "m1", "rms") == store.series("plant-b", "m1", "rms") != []


def test_one_message_cannot_freeze_an_edge_state(mosquitto, ingests):
    """Finding 3: a far-future status/birth is refused; a forged boot is replaced by the edge's next status."""
    store = SQLiteStore(":memory:")
    ingest = ingests(mosquitto.url, store, Broadcaster())
    t = time.time_ns()
    far = 4_070_908_800 * 10**9  # 2099
    publish_all(mosquitto.url, [
        ("tf/v1/lab/e1/status", status("e1", "forged", "offline", far)),
        ("tf/v1/lab/e1/birth", json.dumps({"v": 1, "edge": "e1", "boot": "forged", "seq": 0, "ts": far}).encode()),
        ("tf/v1/lab/e1/status", status("e1", "forged", "offline", t + 10**9)),  # plausible time, forged boot
        ("tf/v1/lab/e1/status", status("e1", "real", "online", t)),  # the genuine edge, a second "older"
        ("tf/v1/lab/e1/birth", json.dumps({"v": 1, "edge": "e1", "boot": "real", "seq": 0, "ts": t}).encode()),
    ])
    wait_until(lambda: ingest.received == 5, 20, what="5 messages")
    assert ingest.quarantined == 2
    assert all("ahead of the hub's clock" in r["reason"] for r in store.quarantined())
    [edge] = store.edges()
    assert (edge["state"], edge["boot"]) == ("online", "real")
    assert store.edge_state("lab", "e1")["birth"]["boot"] == "real"
    # the edge's will (stamped when it connected, so older than its online status) still lands
    publish_all(mosquitto.url, [("tf/v1/lab/e1/status", status("e1", "real", "offline", t - 10**9))])
    wait_until(lambda: store.edges()[0]["state"] == "offline", 20, what="the will applied")


def test_a_forged_older_command_answer_does_not_override_the_edge(mosquitto, ingests):
    """Finding 4: a 'rejected' dated 2000-01-01 must not beat the edge's genuine 'accepted'."""
    store = SQLiteStore(":memory:")
    ingest = ingests(mosquitto.url, store, Broadcaster())
    issued = time.time_ns()

    def answer(boot: str, seq: int, state: str, ts: int) -> tuple[str, bytes]:
        return ("tf/v1/lab/e1/cmd_result", json.dumps({"v": 1, "edge": "e1", "boot": boot, "seq": seq, "cmd": "deploy",
                                                         "bundle_id": "bundle-1", "status": state, "ts": ts}).encode())

    publish_all(mosquitto.url, [("tf/v1/lab/e1/status", status("e1", "real", "online", issued - 10**9)),
                                answer("forged", 1, "rejected", 946_684_800 * 10**9),
                                answer("real", 7, "accepted", issued + 10**8),
                                answer("forged", 2, "rejected", issued + 2 * 10**8)])
    wait_until(lambda: ingest.received == 4, 20, what="4 messages")
    results = store.command_results("lab", "e1")
    assert len(results) == 3  # every answer is kept for the record ...
    boot = store.edges()[0]["boot"]
    assert genuine_answers(results, {"bundle-1": issued}, boot) == {"bundle-1": "accepted"}  # ... one counts
    assert genuine_answers(results, {"bundle-1": issued}, None) == {"bundle-1": "conflict"}


def test_full_disk_holds_the_batch_shows_red_and_recovers_when_space_is_freed(mosquitto, ingests, tmp_path):
    """Finding 1: the store refuses writes (SQLITE_FULL, as on a full disk); nothing is lost once it takes them again."""
    store = SQLiteStore(tmp_path / "hub.sqlite")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the file cannot grow: every write soon fails
    ingest = ingests(mosquitto.url, store, Broadcaster(), batch_size=100)
    publish_all(mosquitto.url, valid(2000))
    wait_until(lambda: ingest.store_error is not None, 20, what="the store to fail", show=ingest.stats)
    health = ingest.health()
    assert not health["ok"] and not health["store_writable"]
    assert any("database or disk is full" in p and str(tmp_path / "hub.sqlite") in p for p in health["problems"])
    store._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
    wait_until(lambda: features_count(store) == 2000, 60, what="all 2000 stored after recovery", show=ingest.stats)
    assert ingest.health()["ok"] and ingest.duplicates == 0 and ingest.quarantined == 0


def test_corrupt_store_files_give_errors_naming_the_file(tmp_path):
    """Finding 11 / fault suite: a damaged or foreign file is refused with its path and what to do."""
    garbage = tmp_path / "hub.sqlite"
    garbage.write_bytes(b"not a database at all " * 200)
    with pytest.raises(StoreCorrupt, match=rf"telemetry store {garbage}: file is not a database.*move it aside"):
        SQLiteStore(garbage)
    damaged = tmp_path / "damaged.sqlite"
    SQLiteStore(damaged).close()
    data = bytearray(damaged.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    damaged.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match=rf"{damaged}: database disk image is malformed"):
        SQLiteStore(damaged)
    newer = tmp_path / "newer.sqlite"
    sqlite3.connect(newer).execute("PRAGMA user_version = 99").connection.close()
    with pytest.raises(StoreCorrupt, match="schema version 99 is newer"):
        SQLiteStore(newer)
    with pytest.raises(DatabaseUnusable, match=rf"database sqlite:///{garbage}: file is not a database"):
        upgrade_database(f"sqlite:///{garbage}")


def test_hub_refuses_to_start_on_a_corrupt_store_naming_it(tmp_path, mosquitto):
    db = tmp_path / "hub.sqlite"
    db.write_bytes(b"\x00garbage" * 500)
    hub = HubProcess(tmp_path, "hub-corrupt", mosquitto.url, "5", None, db=db)
    try:
        assert hub.proc.wait(timeout=60) != 0
    finally:
        hub.stop()
    assert f"telemetry store {db}: file is not a database" in hub.log_tail()


def test_version_1_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the layout before versioning (no site, no digest)
        db.executescript("""
            CREATE TABLE messages (edge TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
                received_ns INTEGER NOT NULL, PRIMARY KEY (edge, boot, seq)) WITHOUT ROWID;
            CREATE TABLE edges (site TEXT NOT NULL, edge TEXT NOT NULL, state TEXT NOT NULL, boot TEXT NOT NULL,
                version TEXT, assets TEXT NOT NULL, status_ts INTEGER NOT NULL, last_seen_ns INTEGER NOT NULL,
                PRIMARY KEY (site, edge));
            CREATE TABLE edge_state (site TEXT NOT NULL, edge TEXT NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,
                body TEXT NOT NULL, PRIMARY KEY (site, edge, kind));
            CREATE TABLE command_results (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, site TEXT NOT NULL,
                edge TEXT NOT NULL, cmd TEXT, bundle_id TEXT, status TEXT NOT NULL, reason TEXT, detail TEXT,
                received_ns INTEGER NOT NULL);
            CREATE TABLE features (ts INTEGER NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL, name TEXT NOT NULL,
                value REAL NOT NULL);
            CREATE INDEX features_series ON features (site, asset, name, ts);
            INSERT INTO features VALUES (1700000001000000, 'lab', 'pump-1', 'rms', 0.5),
                                        (1700000001000000, 'lab', 'pump-1', 'learning', 0.0);
            INSERT INTO edges VALUES ('lab', 'e1', 'online', 'b1', NULL, '[]', 1, 1);
            INSERT INTO messages VALUES ('e1', 'b1', 1, 'features', 1);
        """)
    store = SQLiteStore(path)
    ingest = MqttIngest("mqtt://127.0.0.1:1", store, Broadcaster())
    ingest.handle(TOPIC.format(edge="e1"), features_payload("e1", "b1", 1))  # stored before the upgrade
    ingest.handle(TOPIC.format(edge="e1"), features_payload("e1", "b1", 2))
    assert (ingest.duplicates, ingest.stored) == (1, 1)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert store.series("lab", "pump-1", "rms")[0] == (1700000001000000, 0.5)  # narrow rows became windows
    assert store.telemetry("lab", "pump-1")[0] == {"ts": 1700000001000000, "rms": 0.5, "learning": 0.0}


def _hub_health(hub: HubProcess) -> tuple[int, dict]:
    r = httpx.get(hub.url + "/healthz", timeout=5)
    return r.status_code, r.json()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_hub_kill_9_mid_ingest_loses_nothing(tmp_path, mosquitto, protocol):
    """Finding 2: 1500 messages at ~250/s; the hub is killed (SIGKILL) a third in and restarted 2 s later."""
    n = 1500
    hub = HubProcess(tmp_path, "hub", mosquitto.url, protocol, None)
    try:
        hub.wait_subscribed()
        messages = valid(n)
        sent = threading.Event()

        def publish() -> None:
            for i in range(0, n, 25):
                publish_all(mosquitto.url, messages[i:i + 25],
                            protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311)
                time.sleep(0.1)
            sent.set()

        threading.Thread(target=publish, daemon=True).start()
        wait_until(lambda: len(stored_keys(hub.db)) >= n // 3, 60, what="a third stored before the kill")
        hub.proc.send_signal(signal.SIGKILL)
        hub.proc.wait()
        at_kill = len(stored_keys(hub.db))
        time.sleep(2.0)  # the outage under test: messages published now must wait at the broker
        hub.restart()
        hub.wait_subscribed()
        assert sent.wait(120), "the publisher did not finish"
        wait_until(lambda: len(stored_keys(hub.db)) >= n, 60, what=f"all {n} stored after the restart",
                   show=lambda: len(stored_keys(hub.db)))
        keys = stored_keys(hub.db)
        assert sorted(s for _, _, s in keys) == list(range(1, n + 1))  # every one, exactly once
        assert at_kill < n
    finally:
        hub.stop()  # the restarted process too: it would outlive the test
    print(f"\nhub kill -9 (MQTT {protocol}): {at_kill} stored at the kill, {len(keys)} of {n} after restart, 0 lost")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_the_broker_keeps_the_hub_session_across_its_own_restart(tmp_path, protocol):
    """What edges publish after a broker restart, before the hub is back, waits in the hub's saved session.

    The order that lost data before: the broker restarted without the hub's
    session (it could not save it), an edge came back first, and the broker
    answered its records with "no matching subscribers".
    """
    broker = Mosquitto(tmp_path, persistence=True)
    store = SQLiteStore(tmp_path / "hub.sqlite")
    msgs = [("tf/v1/lab/e1/pump-1/features", features_payload("e1", "b1", seq)) for seq in range(1, 41)]

    def hub() -> MqttIngest:
        ingest = MqttIngest(broker.url, store, Broadcaster(), protocol=protocol, client_id=f"tf-hub-keep-{protocol}")
        ingest.start()
        assert ingest.subscribed.wait(10)
        return ingest
    try:
        ingest = hub()
        publish_all(broker.url, msgs[:10])
        wait_until(lambda: features_count(store) >= 10, 10, what="the first 10 stored", show=ingest.stats)
        ingest.stop()  # a hub going away keeps its session (persistent, one day by default)
        publish_all(broker.url, msgs[10:20])  # queued for the absent hub
        broker.pause()
        broker.resume()
        publish_all(broker.url, msgs[20:])  # after the restart, with the hub still away
        ingest = hub()
        wait_until(lambda: features_count(store) >= 40, 15, what="all 40 stored", show=ingest.stats)
        assert sorted(r[0] for r in store._db.execute("SELECT seq FROM messages")) == list(range(1, 41))
        ingest.stop()
        assert b"Error saving" not in (tmp_path / "mosquitto.log").read_bytes()
    finally:
        broker.stop()


def test_broker_down_mid_ingest_loses_nothing_counts_nothing_twice(tmp_path):
    """Fault suite: an edge publishes at 100 msg/s; the broker stops for 5 s (benchmarks: 10 min) and comes back."""
    broker = Mosquitto(tmp_path, persistence=True)
    store = SQLiteStore(tmp_path / "hub.sqlite")
    ingest = MqttIngest(broker.url, store, Broadcaster(), protocol="5", client_id="tf-hub-broker-down")
    edge = MqttPublisher(broker.url, "lab", "e1", ["pump-1"], "test", protocol="5", outbox=tmp_path / "outbox.sqlite")
    try:
        ingest.start()
        assert ingest.subscribed.wait(10)
        edge.start()
        wait_until(edge.connected.is_set, 10, what="the edge connected")
        n, sent = 1000, 0
        t0 = time.monotonic()
        down_at, up_at = 3.0, 8.0
        paused = resumed = False
        red_seen = None
        while sent < n:
            elapsed = time.monotonic() - t0
            if sent < elapsed * 100:
                sent += 1
                edge.publish("pump-1", "features", {"records": [{"ts": time.time_ns(), "features": {"rms": sent}}]})
            else:
                time.sleep(0.002)
            if not paused and elapsed >= down_at:
                broker.pause()
                paused = True
            if paused and not resumed and red_seen is None and elapsed >= down_at + 2:
                red_seen = ingest.health()
            if paused and not resumed and elapsed >= up_at:
                broker.resume()
                resumed = True
        # once the broker acknowledged everything, what it delivers follows within seconds: a loss fails fast
        assert edge.wait_drained(90), f"the edge's outbox did not drain: {edge.stats()}"
        wait_until(lambda: features_count(store) >= n, 20, what=f"all {n} stored", show=ingest.stats)
        assert red_seen is not None and not red_seen["ok"]
        assert any("not connected" in p for p in red_seen["problems"]), red_seen["problems"]
        seqs = [r[0] for r in store._db.execute("SELECT seq FROM messages WHERE kind = 'features'")]
        assert sorted(seqs) == list(range(1, n + 1))
        assert features_count(store) == n  # 0 double-counted (duplicates recognised: %d)
        print(f"\nbroker down 5 s at 100 msg/s: {n} sent, {features_count(store)} stored once, "
              f"{ingest.duplicates} redeliveries recognised, 0 lost")
    finally:
        edge.stop()
        ingest.stop()
        broker.stop()


class Influxd:
    """An influxd that can be stopped and started again on the same ports and data."""

    def __init__(self, root) -> None:
        from tests.influx_fixture import _config, _free_port, require_influxd
        self.binary, self.root = require_influxd(), root
        self.http, rpc = _free_port(), _free_port()
        self.conf = root / "influxdb.conf"
        self.conf.write_text(_config(root, self.http, rpc))
        self.url = f"http://127.0.0.1:{self.http}"
        self.start()

    def start(self) -> None:
        self.log = open(self.root / "influxd.log", "ab")
        self.proc = subprocess.Popen([self.binary, "run", "-config", str(self.conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)

        def answers() -> bool:
            try:
                return httpx.get(self.url + "/ping", timeout=1).status_code == 204
            except httpx.HTTPError:
                return False
        wait_until(answers, 30, 0.1, what="influxd to answer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.log.close()


@pytest.mark.slow
def test_influxdb_stopped_mid_ingest_is_buffered_and_replayed(tmp_path, mosquitto, ingests):
    from cloud.telemetry.influx import InfluxStore
    influx = Influxd(tmp_path)
    try:
        store = InfluxStore(influx.url, database="faults", side_path=tmp_path / "side.sqlite", timeout=2)
        ingest = ingests(mosquitto.url, store, Broadcaster(), protocol="5", batch_size=100)
        publish_all(mosquitto.url, valid(300))
        wait_until(lambda: ingest.stored == 300, 30, what="300 stored before the outage")
        influx.stop()
        publish_all(mosquitto.url, valid(700, start=301))
        wait_until(lambda: ingest.store_error is not None, 30, what="the store outage seen", show=ingest.stats)
        health = ingest.health()
        assert not health["ok"] and any(influx.url in p for p in health["problems"]), health["problems"]
        influx.start()
        wait_until(lambda: ingest.stored == 1000, 60, what="all 1000 stored after InfluxDB came back",
                   show=ingest.stats)
        wait_until(lambda: ingest.health()["ok"], 10, what="health green again", show=ingest.health)
        assert len(store.series("lab", "pump-1", "rms")) == 1000
        store.close()
    finally:
        influx.stop()


def test_healthz_is_red_with_the_reason_when_the_broker_is_gone(tmp_path, mosquitto):
    hub = HubProcess(tmp_path, "hub-health", mosquitto.url, "5", None)
    try:
        hub.wait_subscribed()
        code, body = _hub_health(hub)
        assert code == 200 and body["ok"] and body["broker_connected"] and body["store_writable"]
        mosquitto.pause()
        wait_until(lambda: _hub_health(hub)[0] == 503, 30, what="/healthz red without a broker")
        code, body = _hub_health(hub)
        assert any(f"broker 127.0.0.1:{mosquitto.port} not connected" in p for p in body["problems"]), body
        mosquitto.resume()
        wait_until(lambda: _hub_health(hub)[0] == 200, 30, what="/healthz green again")
    finally:
        hub.stop()


@pytest.mark.slow
def test_healthz_is_red_while_postgresql_is_down_and_ingest_goes_on(tmp_path, mosquitto):
    """Fault suite: the domain database (a private PostgreSQL) stops; telemetry keeps flowing, health says why."""
    pg = PrivatePostgres(tmp_path / "pg")
    try:
        hub = HubProcess(tmp_path, "hub-pg", mosquitto.url, "5", None, env={"TEACHFAB_HUB_DOMAIN_URL": pg.url})
        try:
            hub.wait_subscribed(timeout=90)
            assert _hub_health(hub)[0] == 200
            pg.stop()
            wait_until(lambda: _hub_health(hub)[0] == 503, 30, what="/healthz red without PostgreSQL")
            assert any("unreachable" in p and f"127.0.0.1:{pg.port}" in p for p in _hub_health(hub)[1]["problems"])
            publish_all(mosquitto.url, valid(200))
            wait_until(lambda: len(stored_keys(hub.db)) == 200, 30, what="ingest going on without PostgreSQL")
            pg.start()
            wait_until(lambda: _hub_health(hub)[0] == 200, 30, what="/healthz green again")
        finally:
            hub.stop()
    finally:
        pg.remove()


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port (never the machine's own on :5432).

    PostgreSQL refuses to run as root; as root the cluster belongs to the ``postgres`` user.
    """

    def __init__(self, root) -> None:
        import pwd
        import shutil
        import tempfile
        from tests.servers import free_port
        def tool(name: str) -> str | None:  # on PATH, else Debian's versioned directory (newest first)
            found = shutil.which(name)
            if found is None:
                versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
                                  if p.parts[-3].isdigit() else 0, reverse=True)
                found = str(versions[0]) if versions else None
            return found

        initdb, self.pg_ctl = tool("initdb"), tool("pg_ctl")
        if not initdb or not self.pg_ctl:
            if os.environ.get("CI"):
                pytest.fail("initdb/pg_ctl not installed: ./run.sh test installs PostgreSQL")
            pytest.skip("initdb/pg_ctl not installed")
        self.as_user: list[str] = []
        self.cleanup = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            root = Path(tempfile.mkdtemp(prefix="tf-pg-"))
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self.as_user, self.cleanup = ["runuser", "-u", "postgres", "--"], root
            root = root / "data"
        self.root, self.port = root, free_port()
        subprocess.run([*self.as_user, initdb, "-D", str(root), "-A", "trust", "-U", "postgres"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def start(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.root), "-l", str(self.root / "log"), "-w", "-o",
                        f"-p {self.port} -k {self.root} -h 127.0.0.1", "start"], check=True,
                       stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.root), "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def remove(self) -> None:
        """Stop the cluster and delete its files."""
        import shutil
        self.stop()
        shutil.rmtree(self.cleanup or self.root, ignore_errors=True)
