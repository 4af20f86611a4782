"""Ingest through a real Mosquitto: batching, backpressure, sequence gaps, metrics, 3.1.1 fallback."""

from __future__ import annotations

import logging
import random
import threading
import time

import pytest
from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.ingest.gaps import SequenceTracker
from cloud.ingest.subscriber import MqttIngest, write_messages
from cloud.settings import HubSettings
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.store import SQLiteStore
from tests.hub.test_ingest_scaleout import features_payload, numbered_messages, publish_all
from tests.waiting import wait_until

TOPIC = "tf/v1/lab/{edge}/pump-1/features"


class SlowStore:
    """The real SQLite store behind a deliberate per-message delay (a store that cannot keep up)."""

    def __init__(self, delay: float) -> None:
        self.inner = SQLiteStore(":memory:")
        self.delay = delay
        self.calls = 0

    def write(self, msg) -> bool:
        self.calls += 1
        time.sleep(self.delay)
        return self.inner.write(msg)

    def quarantine(self, topic, reason, payload) -> None:
        self.inner.quarantine(topic, reason, payload)


class BatchingStore(SQLiteStore):
    """The SQLite store, recording the size of every ``write_many`` batch."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.batches: list[int] = []

    def write_many(self, messages) -> list[bool]:
        self.batches.append(len(messages))
        return super().write_many(messages)


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


def test_full_queue_blocks_the_network_thread_and_loses_nothing(mosquitto, ingests):
    store = SlowStore(delay=0.002)
    ingest = ingests(mosquitto.url, store, Broadcaster(), "5", client_id="slow", queue_size=20, batch_size=10)
    depth = []
    sampler_stop = threading.Event()

    def sample():
        while not sampler_stop.is_set():
            depth.append(ingest.stats()["queue_depth"])
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    publish_all(mosquitto.url, numbered_messages(400))
    wait_until(lambda: ingest.stored == 400, 30, 0.02, what="400 stored messages", show=ingest.stats)
    sampler_stop.set()
    sampler.join()
    assert max(depth) <= 20
    assert ingest.metrics.blocked._value.get() > 0  # the network thread did wait
    assert ingest.duplicates == 0 and store.inner.counts()["messages"] == 400


def test_writes_go_through_write_many_in_batches(mosquitto, ingests):
    store = BatchingStore()
    ingest = ingests(mosquitto.url, store, Broadcaster(), "5", client_id="batch", batch_size=100, batch_ms=20)
    publish_all(mosquitto.url, numbered_messages(1000))
    wait_until(lambda: ingest.stored == 1000, 30, 0.02, what="1000 stored messages", show=ingest.stats)
    assert sum(store.batches) == 1000 and max(store.batches) <= 100
    assert len(store.batches) < 1000 / 5  # batched, not one by one


def test_a_gap_across_a_hub_restart_is_counted(mosquitto, ingests, tmp_path):
    """The restarted hub resumes gap tracking from the store: what was lost while it was down is a gap."""
    db = tmp_path / "hub.sqlite"
    topic = TOPIC.format(edge="e1")
    first = ingests(mosquitto.url, SQLiteStore(db), Broadcaster(), "5", client_id="before")
    publish_all(mosquitto.url, [(topic, features_payload("e1", "b1", s)) for s in (1, 2, 3)])
    wait_until(lambda: first.stored == 3, 30, 0.02, what="3 stored before the restart", show=first.stats)
    first.stop()
    # 4..9 were sent while no hub session existed (a clean session, as the broker forgot it): lost
    again = ingests(mosquitto.url, SQLiteStore(db), Broadcaster(), "5", client_id="after")
    publish_all(mosquitto.url, [(topic, features_payload("e1", "b1", s)) for s in (10, 11)])
    wait_until(lambda: again.stored == 2, 30, 0.02, what="2 stored after the restart", show=again.stats)
    gaps = again.stats()["gaps"]
    assert gaps["gaps_total"] == 1 and gaps["missing"] == 6
    assert gaps["last_gap"] == {"edge": "e1", "boot": "b1", "from": 4, "to": 9}
    assert again.metrics.gap_missing._value.get() == 6


def test_write_helper_falls_back_to_write_per_message():
    class WriteOnly:  # a store without write_many (the interface before the telemetry refactor)
        def __init__(self):
            self.inner = SQLiteStore(":memory:")

        def write(self, msg):
            return self.inner.write(msg)

    from contract.payloads import parse_message

    msgs = [parse_message(TOPIC.format(edge="e1"), features_payload("e1", "b", s)) for s in (1, 2, 1)]
    assert write_messages(WriteOnly(), msgs) == [True, True, False]


def test_sequence_gaps_open_and_late_arrivals_close_them(mosquitto, ingests):
    ingest = ingests(mosquitto.url, SQLiteStore(":memory:"), Broadcaster(), "5", client_id="gaps")
    topic = TOPIC.format(edge="e1")
    publish_all(mosquitto.url, [(topic, features_payload("e1", "b1", s)) for s in (1, 2, 3, 7, 8, 12)])
    wait_until(lambda: ingest.stored == 6, 30, 0.02, what="6 stored messages", show=ingest.stats)
    gaps = ingest.stats()["gaps"]
    assert gaps["gaps_total"] == 2 and gaps["open_gaps"] == 2 and gaps["missing"] == 6
    assert gaps["last_gap"] == {"edge": "e1", "boot": "b1", "from": 9, "to": 11}
    # late (e.g. redelivered after a reconnect): fill the first gap and part of the second
    publish_all(mosquitto.url, [(topic, features_payload("e1", "b1", s)) for s in (4, 5, 6, 10, 3)])
    wait_until(lambda: ingest.received == 11, 30, 0.02, what="11 received messages", show=ingest.stats)
    gaps = ingest.stats()["gaps"]
    assert gaps["open_gaps"] == 2 and gaps["missing"] == 2  # 9 and 11 still missing
    assert ingest.duplicates == 1  # seq 3 again
    assert [(g.first, g.last) for g in ingest.gaps.open("e1", "b1")] == [(9, 9), (11, 11)]
    # a new boot starts a new stream: its first seq is the baseline, not a gap
    publish_all(mosquitto.url, [(topic, features_payload("e1", "b2", s)) for s in (40, 41)])
    wait_until(lambda: ingest.received == 13, 30, 0.02, what="13 received messages", show=ingest.stats)
    assert ingest.stats()["gaps"]["gaps_total"] == 2
    assert ingest.metrics.gaps._value.get() == 2 and ingest.metrics.gap_filled._value.get() == 4


def test_gap_tracking_is_off_for_round_robin_sharing(mosquitto):
    shared = MqttIngest(mosquitto.url, SQLiteStore(":memory:"), Broadcaster(), "5", "grp")
    assert shared.gaps is None and shared.stats()["gaps"] is None
    forced = MqttIngest(mosquitto.url, SQLiteStore(":memory:"), Broadcaster(), "5", "grp", track_gaps=True)
    assert forced.gaps is not None  # for brokers that share by client (EMQX hash_clientid)


def test_mqtt311_fallback_is_explicit_and_receives_all(mosquitto, ingests, caplog):
    with caplog.at_level(logging.WARNING, logger="cloud.ingest.subscriber"):
        ingest = ingests(mosquitto.url, SQLiteStore(":memory:"), Broadcaster(), "3.1.1", "grp", client_id="v3")
    assert ingest.mode == "mqtt 3.1.1" and ingest.shared_group is None
    assert "has no shared subscriptions" in caplog.text
    publish_all(mosquitto.url, numbered_messages(300))
    wait_until(lambda: ingest.stored == 300, 30, 0.02, what="300 stored messages", show=ingest.stats)


@pytest.mark.parametrize("seed", range(5))
def test_tracker_matches_brute_force_under_reordering(seed):
    rng = random.Random(seed)
    seqs = [s for s in range(1, 400) if rng.random() > 0.1]
    arrivals = seqs[:]
    for i in range(len(arrivals) - 1):  # local reordering and redelivery
        if rng.random() < 0.2:
            j = min(len(arrivals) - 1, i + rng.randint(1, 30))
            arrivals[i], arrivals[j] = arrivals[j], arrivals[i]
    arrivals += rng.sample(seqs, 20)
    t = SequenceTracker()
    seen: set[int] = set()
    for s in arrivals:
        t.observe("e", "b", s)
        seen.add(s)
        base, high = arrivals[0], max(seen)
        missing = [x for x in range(base, high + 1) if x not in seen]
        runs = sum(1 for k, x in enumerate(missing) if k == 0 or missing[k - 1] != x - 1)
        assert (t.missing, t.open_gaps) == (len(missing), runs)


def test_tracker_memory_is_bounded():
    t = SequenceTracker(max_streams=3, max_ranges=4)
    for s in range(1, 40, 2):  # every other seq missing: 19 gaps
        t.observe("e", "b", s)
    assert t.open_gaps == 4 and t.abandoned == 15
    for boot in "wxyz":
        t.observe("e", boot, 1)
    assert t.stats()["streams"] == 3 and t.open_gaps == 0  # the oldest stream was forgotten


def test_metrics_endpoint_per_app_without_clashes():
    apps = [create_app(HubSettings(db_path=":memory:"), ingest=False) for _ in range(2)]
    with TestClient(apps[0]) as c0, TestClient(apps[1]) as c1:
        ingest = apps[0].state.ingest
        ingest.handle(TOPIC.format(edge="e1"), features_payload("e1", "b", 1))
        ingest.handle(TOPIC.format(edge="e1"), features_payload("e1", "b", 1))
        ingest.handle(TOPIC.format(edge="e1"), b"{not json")
        ingest.handle("tf/v1/lab/e1/bogus", b"{}")
        text0, text1 = c0.get("/metrics").text, c1.get("/metrics").text
    for line in ('tf_ingest_stored_total{kind="features"} 1.0', 'tf_ingest_duplicates_total{kind="features"} 1.0',
                 'tf_ingest_quarantined_total{reason="not_json"} 1.0', 'tf_ingest_quarantined_total{reason="topic"} 1.0',
                 'tf_ingest_received_total{kind="unknown"} 1.0', "tf_ingest_queue_capacity 10000.0",
                 "tf_ingest_queue_depth 0.0", "tf_ingest_seq_gaps_open 0.0", "tf_store_write_seconds_count 4.0",
                 "tf_ingest_batch_size_bucket", 'tf_ingest_lag_seconds_count{kind="features"} 1.0'):
        assert line in text0, line
    assert "tf_ingest_stored_total{" not in text1  # the second hub counted nothing
    assert "/metrics" not in apps[0].openapi()["paths"]
