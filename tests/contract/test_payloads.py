"""Payload validation against the v1 contract, and quarantine of what fails."""

import json

import pytest

from cloud.ingest.subscriber import MqttIngest
from cloud.telemetry.live import Broadcaster
from cloud.telemetry.store import SQLiteStore
from contract.payloads import InvalidMessage, parse_message

TS = 1_790_000_000_000_000_000
GOOD = {"v": 1, "edge": "e1", "boot": "b1", "seq": 5,
        "records": [{"ts": TS, "features": {"rms": 0.1, "kurtosis": 3.1}, "score": 1.2, "threshold": 8.0}]}
TOPIC = "tf/v1/lab/e1/pump-1/features"


def _bytes(obj) -> bytes:
    return json.dumps(obj).encode()


def test_valid_features_batch():
    msg = parse_message(TOPIC, _bytes(GOOD))
    assert (msg.kind, msg.site, msg.edge, msg.asset) == ("features", "lab", "e1", "pump-1")
    assert msg.body.records[0].features["kurtosis"] == 3.1


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"v": 2}, "v: Input should be 1"),
        ({"seq": -1}, "seq: Input should be greater than or equal to 0"),
        ({"records": []}, "records: List should have at least 1 item"),
        ({"records": [{"ts": TS // 10**6, "features": {}}]}, "records.0.ts: Input should be greater than or equal"),
        ({"records": [{"ts": TS, "features": {"rms": "loud"}}]}, "records.0.features.rms"),
        ({"edge": "e2"}, "does not match topic edge"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_invalid_payloads_name_the_field(change, reason):
    with pytest.raises(InvalidMessage, match=None) as info:
        parse_message(TOPIC, _bytes({**GOOD, **change}))
    assert reason in info.value.reason


def test_non_finite_values_rejected():
    payload = json.dumps({**GOOD, "records": [{"ts": TS, "features": {"rms": float("nan")}}]}).encode()
    with pytest.raises(InvalidMessage, match="records.0.features.rms"):
        parse_message(TOPIC, payload)


@pytest.mark.parametrize("topic", ["tf/v2/lab/e1/pump-1/features", "tf/v1/lab/e1/pump-1/unknown", "tf/v1/lab"])
def test_bad_topics(topic):
    with pytest.raises(InvalidMessage, match="is not tf/v1"):
        parse_message(topic, _bytes(GOOD))


def test_garbage_is_quarantined_and_ingest_goes_on(tmp_path):
    store = SQLiteStore(tmp_path / "hub.sqlite")
    ingest = MqttIngest("mqtt://127.0.0.1:1", store, Broadcaster())
    ingest.handle(TOPIC, b"\xff\xfe not json")
    ingest.handle(TOPIC, b"[1, 2]")
    ingest.handle(TOPIC, _bytes(GOOD))
    ingest.handle(TOPIC, _bytes(GOOD))  # redelivery
    counts = store.counts()
    assert counts["quarantined"] == 2
    assert counts["messages"] == 1 and ingest.duplicates == 1
    reasons = [q["reason"] for q in store.quarantined()]
    assert "features payload must be a JSON object, got list" in reasons
    assert any(r.startswith("features payload is not JSON") for r in reasons)
    assert store.series("lab", "pump-1", "rms") == [(TS, 0.1)]
