"""``teachfab demo``: the whole chain on one machine with no external service.

Starts an in-process MQTT broker (amqtt, MQTT 3.1.1) unless ``--broker`` is
given, the hub, the simulator's OPC UA server with one machine whose
outer-race fault begins after the detector's learning period, and one
edge agent. At the end it compares the alerts the hub received with the
simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cloud.hub import HubServer
from cloud.settings import HubSettings
from edge_agent.agent import EdgeAgent, load_edge_settings
from simulators.opcua_server import SimulatorServer
from simulators.rotating_machine import FaultEvent, RotatingMachine

log = logging.getLogger(__name__)
SITE, EDGE, ASSET = "demo-lab", "edge-1", "pump-1"


@dataclass
class DemoOptions:
    """Options of one demo run (see ``teachfab demo --help``)."""

    duration: float | None = None
    broker: str | None = None
    http_port: int = 8000
    fault_at: float | None = None
    db_path: str | None = None
    warmup: int = 30

    def onset_s(self) -> float:
        """Fault onset in seconds: after the learning period, inside the run."""
        if self.fault_at is not None:
            return self.fault_at
        if self.duration is None:
            return 60.0
        return max(self.warmup * 8192 / 12000 + 5, min(60.0, self.duration / 2))


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


async def start_embedded_broker(port: int):
    """Start amqtt on 127.0.0.1:``port``; return the broker (call ``shutdown()``)."""
    from amqtt.broker import Broker

    logging.getLogger("amqtt").setLevel(logging.WARNING)
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    return broker


async def broker_or_embedded(broker: str | None):
    """``(url, embedded)``: ``broker`` as given, or an embedded amqtt on a free port (``embedded.shutdown()``)."""
    if broker is not None:
        return broker, None
    port = free_port()
    return f"mqtt://127.0.0.1:{port}", await start_embedded_broker(port)


async def run_demo(opts: DemoOptions, announce=print) -> dict:
    """Run the demo until ``opts.duration`` elapses (or forever); return the summary."""
    broker, embedded = await broker_or_embedded(opts.broker)
    tmp = tempfile.TemporaryDirectory(prefix="teachfab-demo-")
    db_path = opts.db_path or str(Path(tmp.name) / "hub.sqlite")
    onset = opts.onset_s()
    machine = RotatingMachine(ASSET, faults=[FaultEvent("outer_race", start_s=onset)], seed=7)
    # demo mode: the page logs in as an auto-created demo mentor of a challenge at SITE
    hub = HubServer(HubSettings(broker=broker, db_path=db_path, http_port=free_port(opts.http_port),
                                mode="demo", demo_sites=[SITE]))
    sim = SimulatorServer([machine], port=free_port(4840))
    stop = asyncio.Event()
    try:
        await hub.start()
        await sim.start()
        edge = EdgeAgent(load_edge_settings(
            None, site=SITE, edge_id=EDGE, broker=broker,
            sources=[sim.source_config(ASSET)],
            pipelines={ASSET: {"rpm": machine.rpm, "bearing": "6205", "warmup": opts.warmup}},
        ))
        edge_task = asyncio.create_task(edge.run(stop), name="edge-agent")
        announce(f"TeachFab demo: mentor dashboard at {hub.url}")
        announce(f"  broker {broker}{' (embedded amqtt)' if embedded else ''}, OPC UA simulator {sim.endpoint}")
        announce(f"  the detector learns for ~{opts.warmup * 8192 / 12000:.0f} s; "
                 f"outer-race fault starts {onset:.0f} s after start")
        announce("  a learner's view of a lab session: teachfab lab up outer-race-early (docs/learners.md)")
        finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, finished.set)  # Ctrl-C ends the demo with its summary
        try:
            await asyncio.wait_for(finished.wait(), opts.duration)
        except asyncio.TimeoutError:
            pass
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            stop.set()
            await edge_task
            await asyncio.sleep(1.0)  # let the last messages reach the hub
            summary = build_summary(hub, sim)
    finally:
        await sim.stop()
        await hub.stop()
        if embedded is not None:
            await embedded.shutdown()
        tmp.cleanup()
    return summary


def build_summary(hub: HubServer, sim: SimulatorServer) -> dict:
    """Compare the hub's alerts with the simulator's ground truth."""
    counts = hub.store.counts()
    alerts = sorted(hub.store.alerts(), key=lambda a: a["ts"])
    truth = [e.as_dict() for e in sim.ground_truth()]
    onset_ns = min((e["start_ns"] for e in truth), default=None)
    after = [a for a in alerts if onset_ns is not None and a["ts"] >= onset_ns]
    return {
        "messages_ingested": counts["messages"],
        "feature_batches": counts.get("features", 0),
        "quarantined": counts["quarantined"],
        "alerts": [{"time": _iso(a["ts"]), "ts_ns": a["ts"], "asset": a["asset"], "score": round(a["score"], 2)}
                   for a in alerts],
        "alerts_before_onset": len(alerts) - len(after),
        "ground_truth": truth,
        "fault_onset": _iso(onset_ns) if onset_ns is not None else None,
        "fault_onset_ns": onset_ns,
        "detection_delay_s": round((after[0]["ts"] - onset_ns) / 1e9, 3) if after else None,
    }


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def main(opts: DemoOptions, as_json: bool) -> int:
    """Entry point of ``teachfab demo``; prints the summary, returns the exit code."""
    import json

    announce = (lambda s: print(s, file=sys.stderr, flush=True)) if as_json else (lambda s: print(s, flush=True))
    summary = asyncio.run(run_demo(opts, announce))
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"\n{summary['messages_ingested']} messages ingested, {len(summary['alerts'])} alert(s); "
              f"fault onset {summary['fault_onset']}, detection delay {summary['detection_delay_s']} s")
    return 0
