"""docker-compose.yml is valid and has the scale-out stack with health checks.

Validated by ``docker compose config`` (the v2 plugin) or, if only that is
installed, the standalone ``docker-compose``. Without either the test skips
on a workstation and fails in CI (``CI`` set). No engine is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cloud.settings import HubSettings
from edge_agent.agent import load_edge_settings

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "INFLUX_PASSWORD": "influx-secret", "INFLUX_TOKEN": "influx-token",
           "TEACHFAB_ADMIN_EMAIL": "ops@example.org", "TEACHFAB_ADMIN_PASSWORD": "a-long-admin-passphrase",
           "MQTT_HUB_PASSWORD": "hub-broker-passphrase", "MQTT_EDGE_1_PASSWORD": "edge-one-passphrase",
           "MQTT_EDGE_2_PASSWORD": "edge-two-passphrase"}


def compose_command() -> list[str] | None:
    """``docker compose`` if the plugin answers, else ``docker-compose``, else ``None``."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_config(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = compose_command()
    if cmd is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but neither `docker compose` nor `docker-compose` is installed")
        pytest.skip("no docker compose here (set CI to make this a failure)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS} | env_extra
    return subprocess.run([*cmd, "-f", str(ROOT / "docker-compose.yml"), "config"], cwd=ROOT, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def config() -> dict:
    result = run_config(SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_stack_has_every_service_with_a_healthcheck(config):
    services = config["services"]
    assert set(services) == {"mosquitto", "influxdb", "postgres", "hub-1", "hub-2", "simulator", "edge-1", "edge-2"}
    for name, svc in services.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["influxdb"]["image"].startswith("influxdb:2")
    assert "--opcua" in services["simulator"]["command"]


def test_hub_replicas_share_ingest_over_mqtt5(config):
    hubs = [config["services"][h]["environment"] for h in ("hub-1", "hub-2")]
    for env in hubs:
        assert env["TEACHFAB_HUB_MQTT_PROTOCOL"] == "5"
        assert env["TEACHFAB_HUB_SHARED_GROUP"] == "tf-hubs"
        assert env["TEACHFAB_HUB_BROKER"] == "mqtt://mosquitto:1883"
        assert env["TEACHFAB_HUB_DOMAIN_URL"].startswith("postgresql+psycopg://teachfab:pg-secret@postgres")
        assert env["TEACHFAB_HUB_DB_PATH"].startswith("influx2://influxdb:8086/")
    assert hubs[0]["TEACHFAB_HUB_CLIENT_ID"] != hubs[1]["TEACHFAB_HUB_CLIENT_ID"]
    for edge in ("edge-1", "edge-2"):
        env = config["services"][edge]["environment"]
        assert env["TEACHFAB_EDGE_BROKER"] == "mqtt://mosquitto:1883"
    assert {config["services"][e]["environment"]["TEACHFAB_EDGE_EDGE_ID"] for e in ("edge-1", "edge-2")} == {
        "edge-1", "edge-2"}


def test_every_client_logs_in_to_the_broker_and_hub_1_manages_its_users(config):
    services = config["services"]
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "allow_anonymous true" not in conf
    assert "password_file /mosquitto/auth/passwd" in conf and "acl_file /mosquitto/auth/acl" in conf
    assert all(_host_ip(p) == "127.0.0.1" for p in services["mosquitto"]["ports"])  # not on the host's LAN
    hub1 = services["hub-1"]
    env1 = hub1["environment"]
    assert env1["TEACHFAB_HUB_BROKER_PASSWD_FILE"] == "/var/lib/teachfab/broker/passwd"
    assert hub1["pid"] == "service:mosquitto"  # it signals the broker to reload
    mounts, broker_mounts = _mounts(hub1), _mounts(services["mosquitto"])
    assert mounts["/var/lib/teachfab/broker"] == broker_mounts["/mosquitto/auth"] == "broker-auth"
    assert json.loads(env1["TEACHFAB_HUB_BROKER_LAB_EDGES"]) == {"lab/edge-1": "edge-one-passphrase",
                                                                 "lab/edge-2": "edge-two-passphrase"}
    for hub in ("hub-1", "hub-2"):
        env = services[hub]["environment"]
        assert (env["TEACHFAB_HUB_BROKER_USERNAME"], env["TEACHFAB_HUB_BROKER_PASSWORD"]) == (
            "tf-hub", "hub-broker-passphrase")
    assert "TEACHFAB_HUB_BROKER_PASSWD_FILE" not in services["hub-2"]["environment"]
    for n, edge in ((1, "edge-1"), (2, "edge-2")):
        env = services[edge]["environment"]
        assert env["TEACHFAB_EDGE_BROKER_USERNAME"] == f"lab/{edge}"
        assert env["TEACHFAB_EDGE_BROKER_PASSWORD"] == SECRETS[f"MQTT_EDGE_{n}_PASSWORD"]
        assert services[edge]["depends_on"]["hub-1"]["condition"] == "service_healthy"
    # the hub settings compose gives hub-1 are accepted as they are
    HubSettings(**{k.removeprefix("TEACHFAB_HUB_").lower(): v for k, v in env1.items()
                   if k != "TEACHFAB_HUB_BROKER_LAB_EDGES"},
                broker_lab_edges=json.loads(env1["TEACHFAB_HUB_BROKER_LAB_EDGES"]))


def test_the_image_builds_from_every_file_the_package_needs():
    needed = {"setup.py", "pyproject.toml", "README.md"} | {
        p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert needed <= _copied((ROOT / "Dockerfile").read_text())


def _host_ip(port) -> str:
    """The host address of a published port (compose v2 prints a mapping, v1 may keep the short string)."""
    return port.get("host_ip", "") if isinstance(port, dict) else (str(port).split(":")[0] if str(port).count(":") == 2 else "")


def _mounts(service: dict) -> dict[str, str]:
    """Target -> source of a service's volumes, in either form compose prints."""
    out = {}
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = v["source"]
        else:
            source, target = str(v).split(":")[:2]
            out[target] = source
    return out


def _copied(dockerfile: str) -> set[str]:
    """The sources the Dockerfile's build stage copies (``COPY a b ./dest``: a and b)."""
    out = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            out.update(p.removeprefix("./").rstrip("/") for p in line.split()[1:-1])
    return out


def test_secrets_have_no_defaults():
    result = run_config({})
    assert result.returncode != 0
    assert "set " in result.stderr  # the ${VAR:?set VAR} message names what is missing


def test_mounted_configs_are_valid():
    settings = load_edge_settings(ROOT / "deploy" / "edge-agent.yaml", broker="mqtt://mosquitto:1883")
    assert settings.sources[0].asset == "pump-1" and "pump-1" in settings.pipelines
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    assert "persistence true" in conf and "max_queued_messages" in conf
