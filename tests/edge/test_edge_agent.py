"""The edge agent as a whole: signed deploys, tampered ones refused, snapshots, drift, health, restart.

Real parts: asyncua simulator → OPC UA adapter → agent → real Mosquitto → hub
ingest → SQLite → HTTP API. The test plays the hub operator who signs and
publishes commands.
"""

import asyncio
import json

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.hub import HubServer
from cloud.settings import HubSettings
from contract.signing import generate_keypair, save_public_key, sign_bundle
from contract.topics import command_topic
from edge_agent.agent import EdgeAgent, load_edge_settings
from simulators.opcua_server import SimulatorServer
from simulators.regimes import RegimeEvent
from simulators.rotating_machine import RotatingMachine
from tests.servers import OPERATOR, free_port, login_operator
from tests.waiting import async_wait_until

SHIFT_S = 14.0
DEPLOYED = {"name": "bearing-quantile", "window": 2048, "warmup": 10, "feature_set": "bearing",
            "features": ["rms", "kurtosis", "crest", "env_bpfo_hsnr"],
            "threshold": {"name": "quantile", "params": {"q": 0.99, "window": 200, "warmup": 10, "margin": 1.5}},
            "drift": [{"target": "rms", "detector": "page_hinkley", "standardise": 20,
                       "params": {"min_instances": 20, "delta": 0.5, "threshold": 25.0}}],
            "lineage": {"author": "test-mentor"}}


def _publish(broker_port: int, topic: str, payload: bytes) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hub-operator")
    c.connect("127.0.0.1", broker_port)
    c.loop_start()
    c.publish(topic, payload, qos=1).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def _bundle(private, cmd: str, bundle_id: str, **body) -> dict:
    import time

    return sign_bundle({"cmd": cmd, "bundle_id": bundle_id, "site": "lab", "edge": "edge-9", "created_ns": time.time_ns(), **body},
                       private, "hub")


async def _session(mosquitto, tmp_path):
    private, public = generate_keypair()
    keys = tmp_path / "keys"
    keys.mkdir()
    save_public_key(public, keys / "hub.pub.pem")
    machine = RotatingMachine("pump-1", regimes=[RegimeEvent(SHIFT_S, {"load": 0.3}, ramp_s=1.0)], seed=4)
    hub = HubServer(HubSettings(broker=mosquitto.url, db_path=str(tmp_path / "hub.sqlite"), http_port=free_port(),
                                **OPERATOR))
    await hub.start()
    sim = SimulatorServer([machine], port=free_port())
    await sim.start()
    settings = load_edge_settings(None, site="lab", edge_id="edge-9", broker=mosquitto.url, health_s=1.0,
                                  state_dir=str(tmp_path / "state"), hub_keys=str(keys),
                                  sources=[sim.source_config("pump-1")],
                                  pipelines={"pump-1": {"window": 4096, "warmup": 10}})
    stop = asyncio.Event()
    agent = EdgeAgent(settings)
    original = agent.pipelines["pump-1"].config.config_hash()
    task = asyncio.create_task(agent.run(stop))
    try:
        async with httpx.AsyncClient(base_url=hub.url) as http:
            await login_operator(http)

            async def answered(bundle_id: str) -> dict | None:
                """The edge's result for ``bundle_id`` once the hub stored it."""
                detail = (await http.get("/api/edges/lab/edge-9")).json()
                return {r["bundle_id"]: r for r in detail.get("command_results", [])}.get(bundle_id)

            # commands reach the edge once it is subscribed; a snapshot of 0.5 s needs that much raw data
            # (two 4096-sample windows at 12 kHz are more)
            await async_wait_until(lambda: agent.publisher.subscribed.is_set() and agent.windows >= 2, 60,
                                   what="the edge subscribed to commands, with 2 windows of data",
                                   show=agent.health)
            good = _bundle(private, "deploy", "deploy-1", asset="pump-1", pipeline=DEPLOYED)
            tampered = json.loads(json.dumps(_bundle(private, "deploy", "deploy-2", asset="pump-1",
                                                     pipeline={**DEPLOYED, "warmup": 500})))
            tampered["payload"]["pipeline"]["threshold"] = 0.001  # changed after signing
            _publish(mosquitto.port, command_topic("lab", "edge-9", "deploy"), json.dumps(tampered).encode())
            await async_wait_until(lambda: answered("deploy-2"), 30, interval=0.2, what="the tampered deploy's result")
            hash_after_tampered = agent.pipelines["pump-1"].config.config_hash()
            _publish(mosquitto.port, command_topic("lab", "edge-9", "deploy"), json.dumps(good).encode())
            await async_wait_until(lambda: answered("deploy-1"), 30, interval=0.2, what="the signed deploy's result")
            snap = _bundle(private, "snapshot", "snap-1", asset="pump-1", channel="vibration_de", duration_s=0.5)
            _publish(mosquitto.port, command_topic("lab", "edge-9", "snapshot"), json.dumps(snap).encode())

            async def all_arrived() -> bool:
                """Everything the test checks is at the hub: the snapshot, the drift after the load shift."""
                waveforms = (await http.get("/api/assets/lab/pump-1/waveforms")).json()
                drift = (await http.get("/api/drift")).json()
                rms_drift = any(d["target"] == "rms" and d["detector"] == "page_hinkley" for d in drift)
                return bool(await answered("snap-1") and waveforms and rms_drift
                            and agent.pipelines["pump-1"].windows > 10)

            # the load drops at SHIFT_S on the simulator's real-time clock: drift follows some seconds later
            await async_wait_until(all_arrived, SHIFT_S + 60, interval=0.5,
                                   what="the snapshot and a drift event at the hub", show=agent.health)
            detail = (await http.get("/api/edges/lab/edge-9")).json()
            waveforms = (await http.get("/api/assets/lab/pump-1/waveforms")).json()
            drift = (await http.get("/api/drift")).json()
            quarantine = (await http.get("/api/quarantine")).json()
    finally:
        stop.set()
        await task
        await sim.stop()
        await hub.stop()
    return original, hash_after_tampered, agent, detail, waveforms, drift, quarantine, settings


@pytest.mark.slow
@pytest.mark.timeout(300)  # its deadlines add up to ~200 s
def test_signed_deploy_snapshot_drift_and_restart(mosquitto, tmp_path):
    original, after_tampered, agent, detail, waveforms, drift, quarantine, settings = asyncio.run(
        _session(mosquitto, tmp_path))
    # the tampered bundle was refused with a clear reason and the running pipeline kept
    assert after_tampered == original
    results = {r["bundle_id"]: r for r in detail["command_results"]}
    assert results["deploy-2"]["status"] == "rejected" and "signature" in results["deploy-2"]["reason"]
    # the signed one replaced it, with lineage pointing at the pipeline it replaced
    assert results["deploy-1"]["status"] == "accepted"
    deployed = agent.pipelines["pump-1"].config
    assert deployed.name == "bearing-quantile" and deployed.lineage.parent == original
    assert deployed.lineage.author == "test-mentor"
    birth = detail["birth"]["pipelines"]["pump-1"]
    assert birth["hash"] == deployed.config_hash() and birth["parent"] == original
    # the waveform snapshot arrived with 0.5 s of raw samples at the channel's rate
    assert results["snap-1"]["status"] == "accepted"
    assert waveforms and waveforms[0]["rate"] == 12000.0 and waveforms[0]["n"] == 6000
    # the load drop was reported as drift of rms, after the shift
    assert any(d["target"] == "rms" and d["detector"] == "page_hinkley" for d in drift), drift
    # health is retained with outbox and source figures
    health = detail["health"]
    assert health["outbox"]["acked"] > 0 and health["sources"][0]["name"] == "opcua"
    assert quarantine == []

    # a restart keeps the deployed pipeline and its learnt state
    again = EdgeAgent(load_edge_settings(None, **settings.model_dump(mode="json")))
    restored = again.pipelines["pump-1"]
    assert restored.config.config_hash() == deployed.config_hash()
    assert restored.windows == agent.pipelines["pump-1"].windows > 10
