"""A live outer-race fault is explained at the edge and the explanation reaches the hub.

Simulator (asyncua OPC UA server) → OPC UA adapter → edge agent (features,
detector, diagnosis of the alerting windows) → real Mosquitto → hub ingest
→ SQLite → ``GET /api/alerts``.
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

#: Late enough that a slow start of the edge on a loaded machine still learns healthy windows first.
ONSET_S = 30.0


async def _scenario(broker_url: str, db_path: str):
    machine = RotatingMachine("pump-1", faults=[FaultEvent("outer_race", start_s=ONSET_S)], seed=21)
    hub = HubServer(HubSettings(broker=broker_url, db_path=db_path, http_port=free_port(), **OPERATOR))
    await hub.start()
    sim = SimulatorServer([machine], port=free_port())
    await sim.start()
    settings = load_edge_settings(
        None, site="lab", edge_id="edge-7", broker=broker_url, sources=[sim.source_config("pump-1")],
        pipelines={"pump-1": {"window": 4096, "warmup": 20, "iso_class": {"group": 2, "foundation": "rigid"}}},
    )
    stop = asyncio.Event()
    agent = EdgeAgent(settings)
    edge_task = asyncio.create_task(agent.run(stop))
    try:
        async with httpx.AsyncClient(base_url=hub.url) as http:
            await login_operator(http)

            async def explained():
                alerts = (await http.get("/api/alerts")).json()
                return alerts if alerts and alerts[0].get("explanation") else None

            seen: dict = {}

            async def explained_or_note():
                seen["alerts"] = (await http.get("/api/alerts")).json()
                seen["quarantine"] = [q.get("reason") for q in (await http.get("/api/quarantine")).json()][:3]
                p = agent.pipelines["pump-1"]
                seen["edge"] = {"alerts": len(agent.alerts), "windows": p.windows, "gaps": p.gaps}
                return await explained()

            alerts = await async_wait_until(explained_or_note, ONSET_S + 90, interval=0.5, what="an explained alert",
                                            show=lambda: seen)
            stop.set()
            await edge_task
    finally:
        stop.set()
        await sim.stop()
        await hub.stop()
    return machine, alerts


@pytest.mark.slow
def test_live_outer_race_alert_carries_its_diagnosis(mosquitto, tmp_path):
    machine, alerts = asyncio.run(_scenario(mosquitto.url, str(tmp_path / "hub.sqlite")))
    e = alerts[0]["explanation"]
    bpfo = machine.bearing.bpfo * machine.rpm / 60.0
    assert e["kind"] == "bearing" and e["fault"] == "outer_race" and e["confidence"] > 0.9
    assert e["defect_hz"] == pytest.approx(bpfo, rel=1e-3) and e["measured_hz"] == pytest.approx(bpfo, rel=0.03)
    assert e["prominence"] > 10 and e["harmonics_found"] >= 2
    assert [ln["label"] for ln in e["lines"]][:2] == ["1×bpfo", "2×bpfo"]
    assert e["severity"]["zone"] in "ABCD" and e["severity"]["assumed"] is False
    assert e["moved"] and e["spectrum"]["marks"][0]["label"] == "1×bpfo"
    assert 2 <= len(e["spectrum"]["values"]) <= 512
