"""One storage suite, run against every telemetry backend: SQLite and a real InfluxDB 1.x.

The InfluxDB backend is skipped only when ``influxd`` is missing and ``CI``
is unset (see tests/influx_fixture.py).
"""

from __future__ import annotations

import json
import uuid

import pytest

from cloud.telemetry.base import TelemetryStore
from cloud.telemetry.influx import InfluxStore
from cloud.telemetry.influx_http import InfluxError
from cloud.telemetry.store import SQLiteStore
from contract.payloads import InvalidMessage, parse_message
from tests.influx_fixture import influxd  # noqa: F401  (fixture)

S = 10**9
T0 = 1_700_000_000 * S          # 2023-11-14T22:13:20Z, a multiple of every bucket width used below
ODD_TS = 1_700_000_000_123_456_789  # every digit matters: catches s/ms/us truncation and float rounding


@pytest.fixture(params=["sqlite", "influx"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "telemetry.sqlite")
    else:
        url = request.getfixturevalue("influxd")
        s = InfluxStore(url, database=f"tf_{uuid.uuid4().hex[:12]}", side_path=tmp_path / "side.sqlite")
    yield s
    s.close()


def features(seq: int, ts: int, asset: str = "m1", edge: str = "e1", boot: str = "b", **values: float):
    rec = {"ts": ts, "features": values or {"rms": float(seq)}, "score": 0.25, "threshold": 1.0}
    payload = {"v": 1, "edge": edge, "boot": boot, "seq": seq, "records": [rec]}
    return parse_message(f"tf/v1/lab/{edge}/{asset}/features", json.dumps(payload).encode())


def ramp(store, n: int, step_ns: int = S, start: int = T0) -> None:
    """n windows, rms = 0..n-1, one second apart, in one batch."""
    assert all(store.write_many([features(i, start + i * step_ns) for i in range(n)]))


def test_backends_implement_the_interface(store):
    assert isinstance(store, TelemetryStore)


def test_write_and_dedup(store):
    msg = features(1, T0)
    assert store.write(msg) is True
    assert store.write(msg) is False  # redelivery
    assert store.write(features(1, T0 + S, boot="b2")) is True  # new boot, same seq: a new message
    assert store.series("lab", "m1", "rms") == [(T0, 1.0), (T0 + S, 1.0)]
    assert store.counts()["features"] == 2


def test_batch_write_flags_duplicates_inside_and_across_batches(store):
    batch = [features(1, T0), features(2, T0 + S), features(1, T0)]
    assert store.write_many(batch) == [True, True, False]
    assert store.write_many([features(2, T0 + S), features(3, T0 + 2 * S)]) == [False, True]
    assert [v for _, v in store.series("lab", "m1", "rms")] == [1.0, 2.0, 3.0]
    assert store.counts()["messages"] == 3


def test_series_is_ordered_by_time_whatever_the_arrival_order(store):
    store.write_many([features(i, T0 + t * S) for i, t in enumerate([5, 1, 4, 2, 3])])
    got = store.series("lab", "m1", "rms")
    assert [ts for ts, _ in got] == [T0 + t * S for t in (1, 2, 3, 4, 5)]
    assert [v for _, v in got] == [1.0, 3.0, 4.0, 2.0, 0.0]


def test_time_range_is_half_open(store):
    ramp(store, 10)
    got = store.series("lab", "m1", "rms", start_ns=T0 + 2 * S, end_ns=T0 + 5 * S)
    assert got == [(T0 + 2 * S, 2.0), (T0 + 3 * S, 3.0), (T0 + 4 * S, 4.0)]
    assert store.series("lab", "m1", "rms", start_ns=T0 + 8 * S) == [(T0 + 8 * S, 8.0), (T0 + 9 * S, 9.0)]
    assert store.series("lab", "m1", "rms", end_ns=T0) == []
    assert store.series("lab", "other", "rms") == []


@pytest.mark.parametrize("agg, expected", [
    ("mean", [1.5, 5.5, 8.5]), ("min", [0.0, 4.0, 8.0]), ("max", [3.0, 7.0, 9.0]),
    ("count", [4.0, 4.0, 2.0]), ("sum", [6.0, 22.0, 17.0])])
def test_resolution_downsamples_into_aligned_buckets(store, agg, expected):
    ramp(store, 10)
    got = store.series("lab", "m1", "rms", every_ns=4 * S, agg=agg)
    assert [ts for ts, _ in got] == [T0, T0 + 4 * S, T0 + 8 * S]
    assert [v for _, v in got] == pytest.approx(expected)


def test_resolution_within_a_range_and_bad_arguments(store):
    ramp(store, 10)
    got = store.series("lab", "m1", "rms", start_ns=T0 + 2 * S, end_ns=T0 + 6 * S, every_ns=4 * S)
    assert got == [(T0, 2.5), (T0 + 4 * S, 4.5)]  # buckets stay aligned; only points in range count
    with pytest.raises(ValueError, match="every_ns"):
        store.series("lab", "m1", "rms", every_ns=0)
    with pytest.raises(ValueError, match="agg"):
        store.series("lab", "m1", "rms", every_ns=S, agg="median")


def test_retention_rolls_up_then_deletes(store):
    ramp(store, 10)  # T0 .. T0+9s
    now = T0 + 11 * S
    # raw older than now-5s (=T0+6s, aligned to 2 s buckets) is rolled up
    result = store.apply_retention(raw_keep_ns=5 * S, rollup_every_ns=2 * S, rollup_keep_ns=3600 * S, now_ns=now)
    # 6 windows x 4 fields (rms, score, threshold, learning) -> 3 buckets x 4 fields
    assert result == {"raw_deleted": 24, "buckets_written": 12, "rollups_deleted": 0}
    assert store.series("lab", "m1", "rms") == [
        (T0, 0.5), (T0 + 2 * S, 2.5), (T0 + 4 * S, 4.5),
        (T0 + 6 * S, 6.0), (T0 + 7 * S, 7.0), (T0 + 8 * S, 8.0), (T0 + 9 * S, 9.0)]
    assert store.series("lab", "m1", "rms", agg="max", end_ns=T0 + 6 * S) == [
        (T0, 1.0), (T0 + 2 * S, 3.0), (T0 + 4 * S, 5.0)]
    # a downsampled query across rollups and raw points is exact (count-weighted)
    assert store.series("lab", "m1", "rms", every_ns=4 * S) == [(T0, 1.5), (T0 + 4 * S, 5.5), (T0 + 8 * S, 8.5)]
    assert store.series("lab", "m1", "rms", every_ns=4 * S, agg="count") == [
        (T0, 4.0), (T0 + 4 * S, 4.0), (T0 + 8 * S, 2.0)]
    # later: rollups older than rollup_keep go too
    later = T0 + 3 * S + 3600 * S
    result = store.apply_retention(raw_keep_ns=5 * S, rollup_every_ns=2 * S, rollup_keep_ns=3600 * S, now_ns=later)
    assert result["raw_deleted"] == 16  # the 4 remaining raw windows
    assert result["rollups_deleted"] == 8  # buckets T0 and T0+2s, 4 fields each
    assert [ts for ts, _ in store.series("lab", "m1", "rms")] == [T0 + k * S for k in (4, 6, 8)]
    with pytest.raises(ValueError, match="rollup_keep_ns"):
        store.apply_retention(raw_keep_ns=10 * S, rollup_every_ns=S, rollup_keep_ns=S)


def test_telemetry_windows(store):
    ramp(store, 5)
    rows = store.telemetry("lab", "m1", since_ns=T0 + S, limit=2)
    assert [r["ts"] for r in rows] == [T0 + 3 * S, T0 + 4 * S]
    assert rows[-1] == {"ts": T0 + 4 * S, "rms": 4.0, "score": 0.25, "threshold": 1.0, "learning": 0.0}


def _msg(kind: str, seq: int, **fields):
    body = {"v": 1, "edge": "e1", "boot": "b", "seq": seq, **fields}
    return parse_message(f"tf/v1/lab/e1/m1/{kind}", json.dumps(body).encode())


def test_alerts(store):
    store.write_many([
        _msg("alert", 1, ts=T0 + S, score=2.0, threshold=1.0, message="bearing"),
        _msg("alert", 2, ts=ODD_TS + 5 * S, score=3.5, threshold=1.0, severity="critical", message="worse"),
        _msg("alert", 2, ts=ODD_TS + 5 * S, score=3.5, threshold=1.0, severity="critical", message="worse"),
    ])
    got = store.alerts()
    assert [a["ts"] for a in got] == [ODD_TS + 5 * S, T0 + S]  # newest first, exact ns
    first = {k: v for k, v in got[0].items() if k != "id"}
    assert {k: first[k] for k in ("site", "edge", "asset", "score", "threshold", "severity", "message")} == {
        "site": "lab", "edge": "e1", "asset": "m1", "score": 3.5, "threshold": 1.0, "severity": "critical",
        "message": "worse"}
    assert isinstance(first["received_ns"], int)
    assert store.alerts("lab", "m1", limit=1)[0]["message"] == "worse"
    assert store.alerts("lab", "nope") == []
    assert store.counts()["alerts"] == 2
    store.write(features(10, T0))
    assert [a["alerts"] for a in store.assets()] == [2]


def test_drift(store):
    store.write(_msg("drift", 1, ts=ODD_TS, target="rms", detector="adwin", message="level shift",
                     detail={"mean_before": 0.1, "n": 400, "note": "x"}))
    got = store.drift("lab", "m1")
    assert len(got) == 1
    d = got[0]
    assert (d["ts"], d["target"], d["detector"], d["message"]) == (ODD_TS, "rms", "adwin", "level shift")
    assert d["detail"] == {"mean_before": 0.1, "n": 400, "note": "x"}
    assert store.counts()["drift_events"] == 1


def _at(site: str, kind: str, seq: int, **fields):
    body = {"v": 1, "edge": "e1", "boot": "b", "seq": seq, **fields}
    return parse_message(f"tf/v1/{site}/e1/m1/{kind}", json.dumps(body).encode())


def test_purge_deletes_one_sites_telemetry_before_the_cut_and_nothing_else(store):
    """What retention and the data-sharing agreement call: per site, per kind, strictly before the cut."""
    cut = T0 + 10 * S
    for site in ("lab", "plant"):
        store.write_many([
            *(_at(site, "features", i + 1, records=[{"ts": T0 + i * 4 * S, "features": {"rms": float(i)}}])
              for i in range(5)),  # at 0, 4, 8 | 12, 16 s
            _at(site, "alert", 10, ts=T0 + 2 * S, score=9.0, threshold=8.0, message="old"),
            _at(site, "alert", 11, ts=cut, score=9.0, threshold=8.0, message="at the cut"),
            _at(site, "drift", 12, ts=T0 + 3 * S, target="score", detector="adwin", message="old", detail={}),
        ])
    assert store.purge("telemetry", "lab", cut) == 3 + 1 + 1  # three windows, one alert, one drift event
    assert [t for t, _ in store.series("lab", "m1", "rms")] == [T0 + 12 * S, T0 + 16 * S]
    assert [a["message"] for a in store.alerts("lab", "m1")] == ["at the cut"]  # the cut itself stays
    assert store.drift("lab", "m1") == []
    assert len(store.series("plant", "m1", "rms")) == 5 and len(store.alerts("plant", "m1")) == 2
    assert len(store.drift("plant", "m1")) == 1
    assert store.purge("telemetry", "lab", cut) == 0  # nothing left to purge
    # every site at once
    assert store.purge("telemetry", None, T0 + 100 * S) == 2 + 1 + 5 + 2 + 1
    assert store.series("plant", "m1", "rms") == [] and store.alerts() == [] and store.drift() == []
    with pytest.raises(ValueError, match="kind must be one of"):
        store.purge("everything", None, cut)


def test_precision_round_trip_is_exact_to_the_nanosecond(store):
    store.write(features(1, ODD_TS, rms=0.5))
    assert store.series("lab", "m1", "rms") == [(ODD_TS, 0.5)]
    # the point is where it belongs in time, not in 1970 (or 2^30 years ahead): a range around it finds it
    assert store.series("lab", "m1", "rms", start_ns=ODD_TS, end_ns=ODD_TS + 1) == [(ODD_TS, 0.5)]
    assert store.series("lab", "m1", "rms", end_ns=1_000_000_000 * S) == []  # nothing before 2001
    assert store.telemetry("lab", "m1")[0]["ts"] == ODD_TS


def test_seconds_for_nanoseconds_is_refused_before_storage(store):
    with pytest.raises(InvalidMessage, match="ts"):
        features(1, 1_700_000_000)  # seconds sent where nanoseconds are expected
    assert store.series("lab", "m1", "rms") == []


def test_quarantine_and_relational_state(store):
    store.quarantine("tf/v1/lab/e1/m1/features", "records: Field required", b'{"v":1}')
    assert store.counts()["quarantined"] == 1
    assert store.quarantined()[0]["reason"] == "records: Field required"
    status = parse_message("tf/v1/lab/e1/status", json.dumps(
        {"v": 1, "edge": "e1", "boot": "b", "seq": 0, "state": "online", "ts": T0, "assets": ["m1"]}).encode())
    assert store.write(status) and store.write(status)  # retained state: last value wins, never a duplicate
    assert [(e["edge"], e["state"]) for e in store.edges()] == [("e1", "online")]
    wave = _msg("waveform", 5, ts=T0, channel="acc", rate=1000.0, units="g", values=[0.0, 1.0])
    assert store.write(wave) and not store.write(wave)
    assert store.waveforms("lab", "m1")[0]["values"] == [0.0, 1.0]


def test_influx_precision_on_the_wire(influxd, tmp_path):  # noqa: F811
    """Read the stored time straight from InfluxDB: written with precision=ns, it is exactly ODD_TS."""
    from cloud.telemetry.influx_http import V1Transport
    db = f"tf_{uuid.uuid4().hex[:12]}"
    store = InfluxStore(influxd, database=db, side_path=tmp_path / "side.sqlite")
    try:
        store.write(features(1, ODD_TS, rms=0.5))
        raw = V1Transport(influxd, db)
        by_ns = raw.query('SELECT "rms" FROM features')[0]["series"][0]["values"]
        assert by_ns == [[ODD_TS, 0.5]]
        # and read as RFC 3339 (no epoch): 2023, not 1970
        import urllib.parse
        import urllib.request
        q = urllib.parse.urlencode({"db": db, "q": 'SELECT "rms" FROM features'})
        with urllib.request.urlopen(f"{influxd}/query?{q}") as resp:
            when = json.loads(resp.read())["results"][0]["series"][0]["values"][0][0]
        assert when == "2023-11-14T22:13:20.123456789Z"
    finally:
        store.close()


def test_influx_unreachable_fails_early_with_the_url(tmp_path):
    with pytest.raises(InfluxError, match="127.0.0.1:9"):
        InfluxStore("http://127.0.0.1:9", database="x", side_path=tmp_path / "s.sqlite", timeout=1)
    with pytest.raises(ValueError, match="database="):
        InfluxStore("http://127.0.0.1:9")


def test_missing_influxd_skips_locally_but_fails_in_ci(monkeypatch):
    import tests.influx_fixture as fx
    monkeypatch.setattr(fx, "influxd_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        fx.require_influxd()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        fx.require_influxd()


def test_open_store_from_a_url(influxd, tmp_path):  # noqa: F811
    from cloud.telemetry.factory import open_store
    s = open_store(f"sqlite://{tmp_path}/a.sqlite")
    assert isinstance(s, SQLiteStore)
    s.close()
    host_port = influxd.split("//")[1]
    s = open_store(f"influx://{host_port}/tf_url?side={tmp_path}/side.sqlite")
    assert isinstance(s, InfluxStore) and s.database == "tf_url"
    assert s.write(features(1, ODD_TS))
    assert s.series("lab", "m1", "rms") == [(ODD_TS, 1.0)]
    s.close()
