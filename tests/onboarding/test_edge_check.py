"""``teachfab edge check``: each failure says what to do (real secured Mosquitto, real serial pty)."""

from __future__ import annotations

import asyncio
import os
import pty

import pytest
import yaml

from cloud.onboarding.broker import BrokerAccount, edge_username, hash_password
from cloud.onboarding.pki import create_ca
from edge_agent.agent import load_edge_settings
from teachfab import cli
from teachfab.edge_check import check_broker, check_clock, check_disk, check_source, run_checks
from tests.onboarding.broker_fixture import SecureMosquitto
from tests.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = SecureMosquitto(tmp_path_factory.mktemp("check-broker"))
    user = edge_username("plant-a", "gw-a", 1)
    b.files.write([b.hub_account, BrokerAccount(user, hash_password(user, "kit-password-long"), "plant-a", "gw-a")])
    yield b
    b.stop()


def _settings(tmp_path, mosquitto, **over):
    cfg = {"site": "plant-a", "edge_id": "gw-a", "broker": mosquitto.url, "broker_username": "plant-a/gw-a/k1",
           "broker_password": "kit-password-long", "broker_ca": str(mosquitto.ca), "state_dir": str(tmp_path / "state"),
           **over}
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, load_edge_settings(path)


def test_broker_check_messages(broker, tmp_path):
    _, good = _settings(tmp_path, broker)
    ok = check_broker(good)
    assert ok.ok and "accepted plant-a/gw-a/k1 (TLS, broker certificate verified)" in ok.message
    _, revoked = _settings(tmp_path, broker, broker_password="an-old-password")
    bad = check_broker(revoked)
    assert not bad.ok and "the kit was revoked or re-issued" in bad.message
    other_ca, _ = create_ca(tmp_path / "other")
    _, rogue = _settings(tmp_path, broker, broker_ca=str(other_ca))
    untrusted = check_broker(rogue)
    assert not untrusted.ok and "certificate this kit does not trust" in untrusted.message
    _, closed = _settings(tmp_path, broker, broker=f"mqtts://127.0.0.1:{free_port()}")
    unreachable = check_broker(closed, timeout=5)
    assert not unreachable.ok and "cannot reach 127.0.0.1" in unreachable.message and "firewall" in unreachable.message
    assert ok.line().startswith("ok   broker: ")
    assert bad.line().startswith("FAIL broker: ")


def test_disk_clock_and_config_messages(broker, tmp_path):
    _, settings = _settings(tmp_path, broker)
    assert check_disk(settings).ok
    _, huge = _settings(tmp_path, broker, outbox_max_rows=10**15)
    assert "a full outbox needs about" in check_disk(huge).message
    _, memory = _settings(tmp_path, broker, state_dir=None)
    assert "outbox would live in memory" in check_disk(memory).message
    assert check_clock(None).ok and "skipped" in check_clock(None).message
    far = check_clock(f"http://127.0.0.1:{free_port()}", timeout=3)
    assert not far.ok and "cannot reach the hub" in far.message
    broken = tmp_path / "broken.yaml"
    broken.write_text("site: [unclosed\n")
    (first,) = run_checks(broken)
    assert first.name == "config" and not first.ok and "does not load" in first.message


def test_serial_source_without_frames_says_check_framing(broker, tmp_path):
    controller, device = pty.openpty()
    os.write(controller, b"\x00garbage that is no frame\x00" * 50)
    src = load_edge_settings(_settings(tmp_path, broker, sources=[{
        "adapter": "serial_frame", "port": os.ttyname(device), "asset": "fan-1",
        "channels": [{"name": "vibration_de", "index": 0, "units": "g"}]}])[0]).sources[0]
    result = asyncio.run(check_source(src, timeout=3))
    assert not result.ok and "no samples within 3 s" in result.message and "check baud rate and framing" in result.message
    missing = load_edge_settings(_settings(tmp_path, broker, sources=[{
        "adapter": "serial_frame", "port": "/dev/ttyNOPE9", "asset": "fan-1",
        "channels": [{"name": "vibration_de", "index": 0, "units": "g"}]}])[0]).sources[0]
    assert "does not exist: plug the board in" in asyncio.run(check_source(missing)).message
    os.close(controller)
    os.close(device)


def test_cli_prints_one_line_per_check(broker, tmp_path, capsys):
    path, _ = _settings(tmp_path, broker)
    assert cli.main(["edge", "check", str(path), "--timeout", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["ok   config", "ok   broker", "ok   clock", "ok   disk",
                                                      "ready"]
