"""Smaller findings of issue 17 (11): huge integers in paths and queries, scalar sensors without a rate.

Found: huge integer query/path parameters gave 500 instead of 422/404;
``GET /api/sites/session-N/assets`` gave 500 for every role because the
scalar channels a lab session registers have rate 0.0, which the response
model refused. Through the HTTP API with real tokens.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.settings import HubSettings
from cloud.sites import service as reg
from simulators.rotating_machine import RotatingMachine

OPS = {"admin_email": "ops@hub.example", "admin_password": "operator-test-passphrase"}
BIG = "9" * 40


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(HubSettings(db_path=str(tmp_path_factory.mktemp("bounds") / "hub.sqlite"), **OPS), ingest=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/auth/token", data={"username": OPS["admin_email"], "password": OPS["admin_password"]})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        with app.state.sessions() as db:  # what starting a lab session registers: waveform and scalar channels
            reg.create_site(db, "session-1", "Lab session 1", "lab")
            reg.create_asset(db, "session-1", "pump-1", "RotatingMachine")
            for ch in RotatingMachine("pump-1").channels():
                reg.create_sensor(db, "session-1", "pump-1", ch.name, ch.units, ch.rate)
        yield c


@pytest.mark.parametrize("path", [
    f"/api/challenges/{BIG}", f"/api/sessions/{BIG}", f"/api/sessions/{BIG}/evidence", f"/api/sessions?challenge={BIG}",
    f"/api/sessions/-{BIG}/ledger", f"/api/skills/learners/{BIG}/profile", f"/api/alerts?since={BIG}",
    f"/api/assets/session-1/pump-1/telemetry?since_ns={BIG}",
    f"/api/assets/session-1/pump-1/series/rms?start_ns={BIG}&end_ns={BIG}", f"/api/quarantine?limit={BIG}",
])
def test_huge_integers_are_refused_naming_the_parameter(client, path):
    r = client.get(path)
    assert r.status_code == 422, (path, r.status_code, r.text)
    [err] = [e for e in r.json()["detail"] if e["input"].lstrip("-") == BIG][:1]
    where, name = err["loc"]
    assert (where == "query" and f"{name}=" in path) or (where == "path" and name.endswith("_id")), err


def test_largest_64_bit_ids_are_just_not_found(client):
    assert client.get(f"/api/challenges/{(1 << 63) - 1}").status_code == 404
    assert client.get(f"/api/sessions/{(1 << 63) - 1}").status_code == 404


def test_scalar_sensors_without_a_rate_are_listed(client):
    r = client.get("/api/sites/session-1/assets")
    assert r.status_code == 200, r.text
    [asset] = r.json()
    rates = {s["channel"]: s["rate_hz"] for s in asset["sensors"]}
    assert rates["temperature"] == 0.0 and rates["vibration_de"] > 0
    made = client.post("/api/sites/session-1/assets/pump-1/sensors",
                       json={"channel": "oil_level", "units": "%", "rate_hz": 0})
    assert made.status_code == 201 and made.json()["rate_hz"] == 0.0
    assert client.post("/api/sites/session-1/assets/pump-1/sensors",
                       json={"channel": "bad", "units": "%", "rate_hz": -1}).status_code == 422


def test_huge_ids_in_a_body_and_impossible_periods_are_refused(client):
    """Found by the long API fuzzing run: 500 for an id past 64 bits in a JSON body and for a KPI period in year 0."""
    r = client.post("/api/challenges", json={"name": "Pump study", "site": "session-1", "mentors": [-int(BIG)]})
    assert r.status_code == 422 and "out of range" in r.json()["detail"], r.text
    for period in ("0000-01", "0001-01", "9999-12"):
        r = client.post("/api/kpis/closes", json={"period": period, "scope": "hub"})
        assert r.status_code == 422 and "1970..9998" in r.json()["detail"], (period, r.text)


def test_series_points_are_documented_as_two_numbers(client):
    schema = client.get("/openapi.json").json()["paths"]["/api/assets/{site}/{asset}/series/{name}"]["get"]
    item = schema["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert item["type"] == "array" and item["minItems"] == item["maxItems"] == 2 and "prefixItems" not in item


@pytest.mark.parametrize("pack", ["", "no-such-pack", "/etc", "../labs", "tests"])
def test_a_challenge_names_a_shipped_pack_not_a_folder(client, pack):
    """Found by the long API fuzzing run: ``"pack": ""`` gave 500; the id also reached a loader that opens paths."""
    r = client.post("/api/challenges", json={"name": "Pump study", "site": "session-1", "pack": pack})
    assert r.status_code == 422 and "shipped packs" in r.json()["detail"], r.text
