"""The spine end to end over real protocols.

Simulator (asyncua OPC UA server) → OPC UA adapter → edge agent (numba
features, detector) → real Mosquitto → hub ingest → SQLite → HTTP API.
"""

import asyncio

import httpx
import pytest

from cloud.hub import HubServer
from cloud.settings import HubSettings
from edge_agent.agent import EdgeAgent, load_edge_settings
from simulators.opcua_server import SimulatorServer
from simulators.rotating_machine import FaultEvent, RotatingMachine
from tests.servers import OPERATOR, free_port, login_operator
from tests.waiting import async_wait_until

ONSET_S = 10.0


async def _scenario(broker_url: str, db_path: str):
    machine = RotatingMachine("pump-1", faults=[FaultEvent("outer_race", start_s=ONSET_S)], seed=21)
    hub = HubServer(HubSettings(broker=broker_url, db_path=db_path, http_port=free_port(), **OPERATOR))
    await hub.start()
    sim = SimulatorServer([machine], port=free_port())
    await sim.start()
    settings = load_edge_settings(
        None, site="lab", edge_id="edge-7", broker=broker_url,
        sources=[sim.source_config("pump-1")],
        pipelines={"pump-1": {"window": 4096, "warmup": 20}},
    )
    stop = asyncio.Event()
    edge_task = asyncio.create_task(EdgeAgent(settings).run(stop))
    try:
        async with httpx.AsyncClient(base_url=hub.url) as http:
            await login_operator(http)

            async def detected() -> bool:
                """An alert and at least 30 feature windows are at the hub (the fault starts at ONSET_S)."""
                telemetry = (await http.get("/api/assets/lab/pump-1/telemetry")).json()
                alerts = (await http.get("/api/alerts")).json()
                return bool(alerts) and isinstance(telemetry, list) and len(telemetry) >= 30

            await async_wait_until(detected, ONSET_S + 60, interval=0.5, what="an alert after the fault onset")
            online = (await http.get("/api/edges")).json()
            telemetry = (await http.get("/api/assets/lab/pump-1/telemetry")).json()
            alerts = (await http.get("/api/alerts")).json()
            stop.set()
            await edge_task

            async def edges_offline():
                edges = (await http.get("/api/edges")).json()
                return edges if edges and all(e["state"] == "offline" for e in edges) else None

            offline = await async_wait_until(edges_offline, 10, what="the edge's retained offline status")
            page = (await http.get("/")).text
            plotly = await http.get("/vendor/plotly.min.js")
    finally:
        stop.set()
        await sim.stop()
        await hub.stop()
    return sim.ground_truth(), online, telemetry, alerts, offline, page, plotly


@pytest.mark.slow
def test_fault_is_detected_after_onset_and_not_before(mosquitto, tmp_path):
    truth, online, telemetry, alerts, offline, page, plotly = asyncio.run(
        _scenario(mosquitto.url, str(tmp_path / "hub.sqlite")))
    onset_ns = truth[0].start_ns
    # telemetry arrived, in order, with features, score and the temperature channel
    assert len(telemetry) >= 30
    ts = [r["ts"] for r in telemetry]
    assert ts == sorted(ts)
    assert {"rms", "kurtosis", "crest", "env_bpfo", "env_bpfi", "score", "temperature"} <= set(telemetry[-1])
    # the fault was detected after its onset, and nothing before it
    assert alerts, "no alert after the fault onset"
    assert all(a["ts"] >= onset_ns for a in alerts)
    first = min(a["ts"] for a in alerts)
    assert (first - onset_ns) / 1e9 < 4.0
    assert all(r["score"] <= r["threshold"] for r in telemetry if r["ts"] < onset_ns)
    # status: retained online while running, clean offline after stop
    assert [(e["edge"], e["state"]) for e in online] == [("edge-7", "online")]
    assert [(e["edge"], e["state"]) for e in offline] == [("edge-7", "offline")]
    # the mentor page and its charting library are served
    assert "/vendor/plotly.min.js" in page and plotly.status_code == 200 and len(plotly.content) > 1_000_000
