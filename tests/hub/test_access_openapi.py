"""OpenAPI document, settings that refuse weak secrets, demo log-in, the hub on PostgreSQL, CLI create-user."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cloud.hub import create_app
from cloud.settings import HubSettings

PUBLIC_OPS = {("post", "/api/auth/token"), ("get", "/api/auth/config"), ("post", "/api/auth/demo-token"),
              ("get", "/healthz"),
              ("get", "/api/invitations/{token}"), ("post", "/api/invitations/{token}/accept"),  # the token is the secret
              ("get", "/issuers/{slug}"), ("get", "/api/credentials/status/{list_id}"),  # for any verifier
              ("get", "/api/credentials/shared/{token}"), ("post", "/api/credentials/verify")}


def _named_shape(schema: dict, doc: dict) -> bool:
    """Whether a response schema is a declared model (a $ref), a list or union of them, or a scalar series."""
    if "$ref" in schema or "prefixItems" in schema:
        return True
    if schema.get("type") == "array" and schema.get("minItems") is not None \
            and schema.get("minItems") == schema.get("maxItems"):
        return True  # a fixed-length point, e.g. [ts_ns, value] of a series
    if "anyOf" in schema:
        return all(_named_shape(s, doc) for s in schema["anyOf"])
    if schema.get("type") == "array":
        item = schema.get("items") or {"prefixItems": schema.get("prefixItems")}
        return "prefixItems" in item or _named_shape(item, doc)
    return schema.get("type") == "object" and schema.get("additionalProperties", {}).get("type") == "integer"


def test_every_route_declares_its_answer():
    app = create_app(HubSettings(db_path=":memory:"), ingest=False)
    from cloud.access import api_routes

    def binary(route) -> bool:  # a download (e.g. the handover ZIP) declares its media type, not a model
        content = route.responses.get(200, {}).get("content", {})
        return bool(content) and "application/json" not in content

    undeclared = [f"{m} {p}" for m, p, route in api_routes(app)
                  if route.include_in_schema and route.response_model is None and route.status_code != 204
                  and p != "/api/stream" and not binary(route)]
    assert undeclared == []


def test_openapi_is_complete():
    app = create_app(HubSettings(db_path=":memory:"), ingest=False)
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "oauth2" and scheme["flows"]["password"]["tokenUrl"] == "/api/auth/token"
    ops = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(ops) >= 23
    for method, path, op in ops:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where}: no summary"
        assert "description" in op or not path.startswith("/api"), f"{where}: no description (roles)"
        ok = [c for c in op["responses"] if c.startswith("2")]
        assert ok, f"{where}: no success response"
        body = op["responses"][ok[0]]
        assert ok[0] == "204" or body.get("content"), f"{where}: success response without a documented shape"
        if ok[0] != "204" and "application/json" in body.get("content", {}):
            schema = body["content"]["application/json"].get("schema")
            assert schema, f"{where}: no response schema"
            assert _named_shape(schema, doc), f"{where}: the answer is a bare object ({schema}), not a declared model"
        if (method, path) in PUBLIC_OPS:
            assert "security" not in op and op.get("x-roles", []) == [], where
        else:
            assert op["security"] == [{"bearer": []}], f"{where}: no security requirement"
            assert op["x-roles"] and "Roles:" in op["description"], where
            assert {"401", "403"} <= set(op["responses"]), f"{where}: 401/403 not documented"
    assert "/api/stream" in doc["paths"]
    assert "text/event-stream" in doc["paths"]["/api/stream"]["get"]["responses"]["200"]["content"]


def test_settings_refuse_weak_or_half_secrets():
    with pytest.raises(ValidationError, match="is a well-known default"):
        HubSettings(admin_email="ops@x.org", admin_password="changeme")
    with pytest.raises(ValidationError, match="expected at least 12"):
        HubSettings(admin_email="ops@x.org", admin_password="short-pw")
    with pytest.raises(ValidationError, match="go together"):
        HubSettings(admin_email="ops@x.org")
    assert HubSettings(mode="dev", admin_email="ops@x.org", admin_password="admin").mode == "dev"


def test_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEACHFAB_HUB_ADMIN_EMAIL", "ops@x.org")
    monkeypatch.setenv("TEACHFAB_HUB_ADMIN_PASSWORD", "password")
    with pytest.raises(ValidationError, match="TEACHFAB_HUB_ADMIN_PASSWORD is a well-known default"):
        HubSettings()
    monkeypatch.setenv("TEACHFAB_HUB_ADMIN_PASSWORD", "an-env-given-passphrase")
    s = HubSettings(db_path=str(tmp_path / "hub.sqlite"))
    assert s.resolved_domain_url() == f"sqlite:///{tmp_path / 'teachfab-domain.sqlite'}"
    app = create_app(s, ingest=False)
    with TestClient(app) as client:
        r = client.post("/api/auth/token", data={"username": "ops@x.org", "password": "an-env-given-passphrase"})
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"


def test_demo_mode_hands_out_a_scoped_demo_mentor_token():
    app = create_app(HubSettings(db_path=":memory:", mode="demo", demo_sites=["lab"]), ingest=False)
    with TestClient(app) as client:
        assert client.get("/api/auth/config").json() == {"mode": "demo", "demo_login": True}
        token = client.post("/api/auth/demo-token").json()["access_token"]
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["mentor"] and me["sites"] == ["lab"] and not me["all_sites"]


def test_hub_runs_its_domain_on_postgresql(pg_database):  # noqa: F811
    from sqlalchemy import text

    from cloud.database import make_engine

    engine = make_engine(pg_database)
    with engine.begin() as conn:  # the domain suite downgrades to base; start from an empty schema
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    settings = HubSettings(db_path=":memory:", domain_url=pg_database,
                           admin_email="ops@x.org", admin_password="postgres-test-passphrase")
    with TestClient(create_app(settings, ingest=False)) as client:
        token = client.post("/api/auth/token", data={"username": "ops@x.org",
                                                     "password": "postgres-test-passphrase"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/sites", headers=auth, json={"slug": "pg-lab", "name": "PG", "kind": "lab"}).status_code == 201
        assert [s["slug"] for s in client.get("/api/sites", headers=auth).json()] == ["pg-lab"]
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def test_cli_create_user(tmp_path, monkeypatch, capsys):
    from teachfab.cli import main

    db = str(tmp_path / "hub.sqlite")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-cli-given-passphrase\n"))
    assert main(["hub", "create-user", "mentor@x.org", "--role", "mentor", "--role", "assessor", "--db", db]) == 0
    assert "created user 1 mentor@x.org with roles assessor, mentor" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hub", "create-user", "x@x.org", "--role", "learner", "--db", db]) == 2
    assert "the password has 5 characters, expected at least 12" in capsys.readouterr().err
    with TestClient(create_app(HubSettings(db_path=db), ingest=False)) as client:
        r = client.post("/api/auth/token", data={"username": "mentor@x.org", "password": "a-cli-given-passphrase"})
        assert r.status_code == 200
