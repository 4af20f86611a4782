"""Asset Administration Shell export and AASX import, checked by the BaSyx SDK's strict readers."""

from __future__ import annotations

import base64
import io
import json

import pytest
from basyx.aas import model
from basyx.aas.adapter import json as aas_json
from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.onboarding import aas
from cloud.settings import HubSettings
from contract.payloads import parse_message
from tests.servers import OPERATOR

TS = 1_790_000_000_000_000_000
PLATE = {"manufacturer": "ACME Pumps", "product_type": "CP-40", "serial_number": "SN-0042", "rated_power_kw": 7.5,
         "rated_speed_rpm": 1480, "bearing": {"designation": "6205", "n_balls": 9, "ball_d_mm": 7.94,
                                               "pitch_d_mm": 39.04, "contact_angle_deg": 0.0}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("aas")
    app = create_app(HubSettings(db_path=str(tmp_path / "hub.sqlite"), public_url="http://hub.example:8000",
                                 **OPERATOR), ingest=False)
    with TestClient(app) as c:
        form = {"username": OPERATOR["admin_email"], "password": OPERATOR["admin_password"]}
        c.headers["Authorization"] = f"Bearer {c.post('/api/auth/token', data=form).json()['access_token']}"
        for path, body in (("/api/sites", {"slug": "plant-a", "name": "Plant A", "kind": "sme"}),
                           ("/api/sites", {"slug": "plant-b", "name": "Plant B", "kind": "sme"}),
                           ("/api/sites/plant-a/assets", {"name": "pump-1", "kind": "centrifugal pump"})):
            assert c.post(path, json=body).status_code == 201
        yield app, c


def _write(app, topic: str, body: dict) -> None:
    app.state.store.write(parse_message(topic, json.dumps(body).encode()))


def test_export_is_strict_aas_with_nameplate_condition_and_references(client):
    app, c = client
    assert c.put("/api/sites/plant-a/assets/pump-1/nameplate", json=PLATE).status_code == 200
    env = {"v": 1, "edge": "gw-a", "boot": "b1"}
    _write(app, "tf/v1/plant-a/gw-a/pump-1/features", {**env, "seq": 1, "records": [
        {"ts": TS, "features": {"rms": 0.21, "kurtosis": 3.2, "vel_rms": 3.1}, "score": 9.5, "threshold": 8.0}]})
    _write(app, "tf/v1/plant-a/gw-a/pump-1/alert", {**env, "seq": 2, "ts": TS, "score": 9.5, "threshold": 8.0,
                                                   "message": "score above threshold"})
    r = c.get("/api/assets/plant-a/pump-1/aas")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["global_asset_id"] == "urn:teachfab:asset:plant-a:pump-1"
    # the SDK's strict reader (failsafe=False) raises on anything not valid AAS v3
    objects = aas_json.read_aas_json_file(io.StringIO(json.dumps(doc["environment"])), failsafe=False)
    shell = objects.get_item(doc["shell_id"])
    assert isinstance(shell, model.AssetAdministrationShell)
    assert shell.asset_information.asset_kind is model.AssetKind.INSTANCE
    submodels = {ref.resolve(objects).id_short: ref.resolve(objects) for ref in shell.submodel}
    assert set(submodels) == {"Nameplate", "ConditionMonitoring", "TelemetryReferences"}
    plate = {e.id_short: e for e in submodels["Nameplate"].submodel_element}
    assert plate["ManufacturerName"].value == "ACME Pumps" and plate["RatedSpeed"].value == 1480.0
    assert {e.id_short: e.value for e in plate["BearingGeometry"].value}["n_balls"] == 9
    cm = {e.id_short: e for e in submodels["ConditionMonitoring"].submodel_element}
    assert cm["Health"].value == "alarm" and cm["ISO20816Zone"].value == "C"
    assert {e.id_short: e.value for e in cm["LatestFeatures"].value}["kurtosis"] == 3.2
    assert len(cm["ActiveAlerts"].value) == 1
    refs = {e.id_short: e.value for e in submodels["TelemetryReferences"].submodel_element}
    assert refs["TelemetryApi"] == "http://hub.example:8000/api/assets/plant-a/pump-1/telemetry"
    # the AASX package reads back strictly, and importing it registers the asset with its nameplate elsewhere
    package = base64.b64decode(doc["aasx_b64"])
    assert aas.read_aasx(package).get_item(doc["shell_id"]) is not None
    imported = c.post("/api/sites/plant-b/aas", json={"aasx_b64": doc["aasx_b64"]})
    assert imported.status_code == 201, imported.text
    assert imported.json()["name"] == "pump-1" and imported.json()["kind"] == "CP-40"
    again = c.get("/api/assets/plant-b/pump-1/aas").json()
    again_objects = aas_json.read_aas_json_file(io.StringIO(json.dumps(again["environment"])), failsafe=False)
    nameplate = again_objects.get_item("urn:teachfab:aas:plant-b:pump-1:nameplate")
    assert {e.id_short: e.value for e in nameplate.submodel_element}["SerialNumber"] == "SN-0042"
    assert c.post("/api/sites/plant-b/aas", json={"aasx_b64": doc["aasx_b64"]}).status_code == 409


def test_import_refuses_garbage_with_a_reason(client):
    _, c = client
    r = c.post("/api/sites/plant-a/aas", json={"aasx_b64": base64.b64encode(b"PK not a package").decode()})
    assert r.status_code == 422 and "not a valid AASX package" in r.json()["detail"]
    assert c.post("/api/sites/plant-a/aas", json={"aasx_b64": "%%%"}).status_code == 422
    assert c.get("/api/assets/plant-a/nope/aas").status_code == 404


def test_export_without_data_says_unknown(client):
    _, c = client
    assert c.post("/api/sites/plant-a/assets", json={"name": "fan-2"}).status_code == 201
    doc = c.get("/api/assets/plant-a/fan-2/aas").json()
    cm = next(s for s in doc["environment"]["submodels"] if s["idShort"] == "ConditionMonitoring")
    values = {e["idShort"]: e.get("value") for e in cm["submodelElements"]}
    assert values["Health"] == "unknown" and values["ISO20816Zone"] == "unknown"
