"""The issue's "Must show", end to end, with real servers and a real install.

The operator registers an SME site with two assets and creates a kit; the
kit is installed with ``teachfab edge install --root`` into a temporary
directory (a fresh venv with ``teachfab[edge]``, the systemd unit checked
by ``systemd-analyze verify``); ``teachfab edge check`` from that venv
passes against the OPC UA and serial simulators, the secured Mosquitto
(TLS, the kit's own user) and the hub; the installed agent, run from that
venv, delivers both assets' data to the hub, and the site's onboarding
record shows "first data" with its time. A second site's kit cannot
publish into the first site.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from cloud.hub import HubServer
from cloud.settings import HubSettings
from contract.mqtt import BrokerAuth, make_client, parse_mqtt_url, secure_client
from contract.topics import asset_topic
from tests.onboarding.broker_fixture import SecureMosquitto
from tests.onboarding.test_kits import hub_settings
from tests.servers import OPERATOR, free_port
from tests.system.test_install_edge import _adapter_configs, _clean_env, _lines, _process, _source_copy
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
ROOT = Path(__file__).resolve().parents[2]
SCENARIO = {
    "name": "sme-two-machines", "description": "an SME's press and fan for the onboarding test", "seed": 7,
    "duration_s": 3600,
    "assets": [{"type": "rotating_machine", "id": a, "rpm": rpm, "bearing": "6205",
                "sensors": {"vibration": {"rate_hz": 12000, "axes": 1}}} for a, rpm in (("press-1", 1480),
                                                                                        ("fan-1", 1797))],
}


class HubThread:
    """The hub under uvicorn in a thread of its own (real HTTP, for the clock check and the API)."""

    def __init__(self, settings: HubSettings) -> None:
        self.server = HubServer(settings)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(60), "the hub did not start"

    async def _main(self) -> None:
        await self.server.start()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        await self.server.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def _ok(r: httpx.Response, status: int = 201) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def test_sme_onboarding_end_to_end(tmp_path):
    broker = SecureMosquitto(tmp_path / "broker")
    port = free_port()
    settings = HubSettings(**hub_settings(broker, tmp_path), http_port=port, public_url=f"http://127.0.0.1:{port}")
    hub = HubThread(settings)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    sim_cmd = [sys.executable, "-m", "teachfab.cli", "sim", "run", str(scenario), "--opcua", "0", "--serial", "frame",
               "--duration", "3600"]
    try:
        with httpx.Client(base_url=hub.server.url, timeout=60) as api, \
                _process(sim_cmd, cwd=ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True) as sim:
            sources = _adapter_configs(_lines(sim.stdout), timeout=120)
            form = {"username": OPERATOR["admin_email"], "password": OPERATOR["admin_password"]}
            api.headers["Authorization"] = f"Bearer {_ok(api.post('/api/auth/token', data=form), 200)['access_token']}"
            # the operator registers the SME site and its two assets, then issues the kit
            _ok(api.post("/api/sites", json={"slug": "plant-a", "name": "Plant A", "kind": "sme"}))
            _ok(api.post("/api/sites", json={"slug": "plant-b", "name": "Plant B", "kind": "sme"}))
            for site, asset in (("plant-a", "press-1"), ("plant-a", "fan-1"), ("plant-b", "pump-9")):
                _ok(api.post(f"/api/sites/{site}/assets", json={"name": asset}))
            opcua = next(s for s in sources["opcua"] if s["asset"] == "press-1")
            serial = next(s for s in sources["serial_frame"] if s["asset"] == "fan-1")
            kit_sources = [{"adapter": s["adapter"], "asset": s["asset"],
                            "options": {k: v for k, v in s.items() if k not in ("adapter", "asset")}}
                           for s in (opcua, serial)]
            warm = {"window": 4096, "warmup": 5}
            issued = _ok(api.post("/api/kits", json={"site": "plant-a", "edge": "gw-a", "sources": kit_sources,
                                                     "pipelines": {"press-1": {"rpm": 1480, **warm},
                                                                   "fan-1": {"rpm": 1797, **warm}}}))
            kit = tmp_path / issued["filename"]
            kit.write_bytes(base64.b64decode(issued["archive_b64"]))
            registered = _ok(api.get("/api/onboarding/plant-a"), 200)
            assert [s["at"] is not None for s in registered["steps"]] == [True, True, False, False, False]

            # the technician's afternoon: install into a throw-away root, check, run
            root = tmp_path / "root"
            source = _source_copy(tmp_path / "src")
            started = time.monotonic()
            install = subprocess.run([sys.executable, "-m", "teachfab.cli", "edge", "install", str(kit), "--root",
                                      str(root), "--package", f"{source}[edge]"], cwd=tmp_path, env=_clean_env(),
                                     capture_output=True, text=True, timeout=1800)
            assert install.returncode == 0, install.stderr[-4000:] + install.stdout[-2000:]
            print(f"edge install (venv with .[edge]) took {time.monotonic() - started:.0f} s", file=sys.stderr)
            config = root / "etc/teachfab/gw-a/edge.yaml"
            unit = (root / "etc/systemd/system/teachfab-edge-gw-a.service").read_text()
            venv_teachfab = root / "opt/teachfab/gw-a/venv/bin/teachfab"
            assert f"ExecStart={venv_teachfab} edge run {config}" in unit
            for line in ("Restart=on-failure", "WantedBy=multi-user.target", "User=teachfab",
                         "SupplementaryGroups=dialout", "StateDirectory=teachfab/gw-a", "StandardOutput=journal"):
                assert line in unit
            assert oct(config.stat().st_mode & 0o777) == "0o640"
            installed = yaml.safe_load(config.read_text())
            assert installed["state_dir"] == str(root / "var/lib/teachfab/gw-a")
            assert installed["broker_ca"] == str(root / "etc/teachfab/gw-a/ca.pem")

            env = {**_clean_env(), "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
            check = subprocess.run([str(venv_teachfab), "edge", "check", str(config), "--timeout", "60"],
                                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
            lines = check.stdout.splitlines()
            assert check.returncode == 0, check.stdout + check.stderr[-3000:]
            names = [line.split(":", 1)[0] for line in lines[:-1]]
            assert names == ["ok   config", "ok   sensor press-1", "ok   sensor fan-1", "ok   broker", "ok   clock",
                             "ok   disk"], lines
            assert "TLS, broker certificate verified" in check.stdout and lines[-1] == "ready: start the service"

            edge_log = tmp_path / "edge.log"
            with open(edge_log, "wb") as log, \
                    _process([str(venv_teachfab), "edge", "run", str(config)], cwd=tmp_path, env=env, stdout=log,
                             stderr=subprocess.STDOUT) as edge:
                store = hub.server.store

                def both_assets():
                    assert edge.poll() is None, edge_log.read_text()[-3000:]
                    assets = {(a["site"], a["asset"]) for a in store.assets()}
                    return {("plant-a", "press-1"), ("plant-a", "fan-1")} <= assets

                wait_until(both_assets, 600, interval=0.5, what="features of both assets on the hub",
                           show=lambda: edge_log.read_text()[-2000:])
                wait_until(lambda: _ok(api.get("/api/onboarding/plant-a"), 200)["steps"][2]["at"], 30,
                           what="first data on the onboarding record")
                record = _ok(api.get("/api/onboarding/plant-a"), 200)
                first = record["steps"][2]
                arrived = min(a["first_seen_ns"] for a in store.assets() if a["site"] == "plant-a")
                assert abs(datetime.fromisoformat(first["at"]).timestamp() - arrived / 1e9) < 0.01
                assert first["step"] == "first_data" and first["at"] and first["detail"] == "from edge gw-a"
                assert record["next_step"] == "first_challenge_signed" and not record["overdue"]
                assert any(p.name == "outbox.sqlite" for p in (root / "var/lib/teachfab/gw-a").iterdir())

                # a second site's kit cannot publish into the first site (nothing of it reaches the store)
                other = _ok(api.post("/api/kits", json={"site": "plant-b", "edge": "gw-b", "sources": [
                    {"adapter": "opcua", "asset": "pump-9", "options": {"url": opcua["url"]}}]}))
                other_kit = tmp_path / other["filename"]
                other_kit.write_bytes(base64.b64decode(other["archive_b64"]))
                from contract.kit import read_archive
                other_cfg = yaml.safe_load(read_archive(other_kit)[1]["edge.yaml"])
                forged = _forge(other_cfg, broker.ca)
                assert forged["connected"], "the second kit's own credentials should connect"
                # the broker refuses the alert it sent as the first site's edge and takes its own (MQTT 5 PUBACKs)
                assert forged["acks"] == {"forged": "Not authorized", "own": "Success"}, forged
                ingest = hub.server.app.state.ingest
                wait_until(lambda: any(a.get("message") == "own" for a in store.alerts()), 60,
                           what="the second kit's own alert stored",
                           show=lambda: f"ingest {ingest.stats()} {ingest.health()}; broker log: {broker.log_text()[-1500:]}")
                messages = [(a["site"], a.get("message")) for a in store.alerts()]
                assert ("plant-b", "own") in messages and not any(m == "forged" for _, m in messages)
    finally:
        hub.stop()
        broker.stop()


def _forge(cfg: dict, ca: Path) -> dict:
    """Connect with a kit's credentials (MQTT 5), publish one alert as the first site's edge and one as itself.

    Returns ``connected`` and, per alert, the reason code of the broker's PUBACK.
    """
    out: dict = {"connected": False, "acks": {}}
    done, acked = threading.Event(), threading.Event()
    client = secure_client(make_client("forger", "5"), cfg["broker"],
                           BrokerAuth(cfg["broker_username"], cfg["broker_password"], ca))
    sent: dict[int, str] = {}

    def on_publish(c, u, mid, rc, p):
        out["acks"][sent.get(mid, f"mid {mid}")] = str(rc)
        if len(out["acks"]) == 2:
            acked.set()

    client.on_connect = lambda c, u, f, rc, p: (out.update(connected=not rc.is_failure), done.set())
    client.on_publish = on_publish
    host, port = parse_mqtt_url(cfg["broker"])
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        assert done.wait(15)
        body = {"v": 1, "boot": "forged-boot", "seq": 1, "ts": time.time_ns(), "score": 9.0, "threshold": 8.0}
        for site, edge, asset, message in (("plant-a", "gw-a", "press-1", "forged"),
                                           ("plant-b", "gw-b", "pump-9", "own")):
            info = client.publish(asset_topic(site, edge, asset, "alert"),
                                  json.dumps({**body, "edge": edge, "message": message}), qos=1)
            sent[info.mid] = message
        assert acked.wait(30), f"the broker acknowledged {out['acks']} of 2 alerts"
    finally:
        client.disconnect()
        client.loop_stop()
    return out
