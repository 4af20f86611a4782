"""The public verifier takes hostile input: whatever JSON is posted, it answers a verification (not verified,
with the reason), never a server error; an oversized body is refused naming the limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.hub import create_app
from cloud.settings import HubSettings

GARBAGE = ["a string", 42, [], [1, {"proof": 1}], {}, {"issuer": 5}, {"issuer": {"id": 5, "address": "x"}},
           {"issuer": "http://127.0.0.1:8000/issuers/hub", "proof": {"verificationMethod": 7}},
           {"issuer": "http://127.0.0.1:8000/issuers/hub",
            "proof": {"verificationMethod": "http://127.0.0.1:8000/issuers/hub#zNope"}},
           {"credentialStatus": "x"}, {"credentialStatus": [{"statusListCredential": 3, "statusListIndex": "a"}]},
           {"credentialStatus": [{"statusListCredential": "http://127.0.0.1:8000/api/credentials/status/none",
                                  "statusListIndex": "-1"}]},
           {"credentialSubject": {"achievement": {"alignment": [1, {"targetUrl": None}]}}, "evidence": [1, "x"]},
           {"validFrom": "not a date", "validUntil": 3}]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(HubSettings(db_path=str(tmp_path_factory.mktemp("v") / "hub.sqlite")), ingest=False)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_answered_not_verified(client, body):
    r = client.post("/api/credentials/verify", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["verified"] is False and answer["errors"]


def test_no_credential_is_refused(client):
    r = client.post("/api/credentials/verify", json=None)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


def test_oversized_body_is_refused(client):
    r = client.post("/api/credentials/verify", json={"name": "x" * 600_000})
    assert r.status_code == 422 and "KiB" in r.json()["detail"]
    assert client.get("/healthz").status_code == 200
