"""The hub applies the telemetry retention policy on its own."""

import json
import time

from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.settings import HubSettings
from contract.payloads import parse_message
from tests.waiting import wait_until


def test_old_windows_are_rolled_up_by_the_hub(tmp_path):
    settings = HubSettings(db_path=str(tmp_path / "hub.sqlite"), mode="dev", retention_raw_s=60,
                           retention_rollup_every_s=10, retention_check_s=0.1)
    app = create_app(settings, ingest=False)
    old = (time.time_ns() - 3600 * 10**9) // (10 * 10**9) * (10 * 10**9)  # both old windows in one 10 s bucket
    store = app.state.store
    for seq in (1, 2):
        payload = {"v": 1, "edge": "e1", "boot": "b", "seq": seq,
                   "records": [{"ts": old + seq * 10**9, "features": {"rms": float(seq)}}]}
        store.write(parse_message("tf/v1/lab/e1/pump-1/features", json.dumps(payload).encode()))
    fresh = {"v": 1, "edge": "e1", "boot": "b", "seq": 3, "records": [{"ts": time.time_ns(), "features": {"rms": 9.0}}]}
    store.write(parse_message("tf/v1/lab/e1/pump-1/features", json.dumps(fresh).encode()))
    with TestClient(app):
        wait_until(lambda: len(store.telemetry("lab", "pump-1")) <= 1, 10, what="the hub's retention pass",
                   show=lambda: store.telemetry("lab", "pump-1"))
        raw = store.telemetry("lab", "pump-1")
        rolled = store.series("lab", "pump-1", "rms", end_ns=old + 3600 * 10**9 // 2, every_ns=10 * 10**9)
    assert [r["rms"] for r in raw] == [9.0]  # only the recent window is still raw
    assert [v for _, v in rolled] == [1.5]  # the two old ones live on as a 10 s rollup (mean)


def test_series_api_gives_a_time_range_at_a_resolution(tmp_path):
    from tests.servers import OPERATOR

    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), **OPERATOR), ingest=False)
    t0 = 1_800_000_000 * 10**9
    records = [{"ts": t0 + k * 10**9, "features": {"rms": float(k)}} for k in range(60)]  # one window a second
    payload = {"v": 1, "edge": "e1", "boot": "b", "seq": 1, "records": records}
    app.state.store.write(parse_message("tf/v1/lab/e1/pump-1/features", json.dumps(payload).encode()))
    with TestClient(app) as http:
        form = {"username": OPERATOR["admin_email"], "password": OPERATOR["admin_password"]}
        http.headers["Authorization"] = "Bearer " + http.post("/api/auth/token", data=form).json()["access_token"]
        url = "/api/assets/lab/pump-1/series/rms"
        raw = http.get(url, params={"start_ns": t0 + 10 * 10**9, "end_ns": t0 + 20 * 10**9}).json()
        coarse = http.get(url, params={"every_ns": 20 * 10**9, "agg": "max"}).json()
        bad = http.get(url, params={"agg": "median"})
    assert [v for _, v in raw] == [float(k) for k in range(10, 20)]  # [start, end)
    assert coarse == [[t0, 19.0], [t0 + 20 * 10**9, 39.0], [t0 + 40 * 10**9, 59.0]]
    assert bad.status_code == 422
