"""Peak memory of a real edge agent process: ahead-of-time kernels against numba's JIT.

Starts a Mosquitto on a free port and the OPC UA simulator (one pump,
the install test's scenario), then runs ``teachfab edge run`` in a
fresh process three times with the same config: kernels from the AOT
module, numba JIT with an empty cache (a first start), and numba JIT with
the cache that run left (a restart). Each run gets its own simulator
(the scenario's outer-race fault moved to ``FAULT_AT_S``, so the agent
learns healthy windows first) and lasts until the agent has published
``--messages`` features messages (its pipeline has learnt and scored
windows) and then an alert carrying its diagnosis (the bearing diagnosis
kernels loaded and run); peak RSS (``VmHWM`` from ``/proc/<pid>/status``)
is read at both points, with whether llvmlite (numba) was mapped into the
process, and it is stopped.
Two pipelines are measured: the bearing pipeline of the install test and a
full one (HST detector, quantile threshold, river drift monitors). A floor
is printed beside them: a process importing numpy, paho, pyserial and
asyncua only. Goal (issue 17): peak RSS ≤ 150 MB.

Usage::

    .venv/bin/python benchmarks/bench_memory.py [--messages 3]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.mqtt import make_client  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402

SCENARIO = ROOT / "simulators" / "scenarios" / "outer_race_early_detection.yaml"
#: Where the fault starts in each run's simulator (after the pipeline's warm-up and learning).
FAULT_AT_S = 25.0
SITE, EDGE = "bench", "edge-mem"
PIPELINES = {
    "bearing": {"rpm": 1797, "bearing": "6205", "window": 4096, "warmup": 10},
    "full (hst + drift)": {
        "rpm": 1797, "bearing": "6205", "window": 4096, "warmup": 10, "feature_set": "vibration_full",
        "scaler": {"name": "standard"},
        "detector": {"name": "hst", "params": {"n_trees": 25, "height": 8, "window_size": 50, "seed": 1}},
        "threshold": {"name": "quantile", "params": {"q": 0.995, "window": 500, "warmup": 10}},
        "drift": [{"target": "rms", "detector": "adwin"}, {"target": "score", "detector": "page_hinkley"}]},
}
FLOOR = "import numpy, paho.mqtt.client, serial, asyncua; print(open('/proc/self/status').read())"


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) // 1024
    return out


def _numba_mapped(pid: int) -> bool:
    return "llvmlite" in Path(f"/proc/{pid}/maps").read_text()


def _scenario(work: Path) -> Path:
    """The shipped scenario with its fault at :data:`FAULT_AT_S`, full size at once."""
    import yaml

    doc = yaml.safe_load(SCENARIO.read_text())
    doc["faults"][0].update(start_s=FAULT_AT_S, ramp_s=0.0)
    doc["regimes"] = []
    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _sim_sources(env: dict, scenario: Path) -> tuple[subprocess.Popen, list]:
    cmd = [sys.executable, "-m", "teachfab.cli", "sim", "run", str(scenario), "--opcua", "0", "--duration", "3600"]
    sim = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    body = None
    for line in sim.stdout:
        if body is None:
            if line.startswith("adapter configs for an edge agent"):
                body = ""
            continue
        body += line
        try:
            return sim, json.loads(body)["opcua"]
        except json.JSONDecodeError:
            continue
    raise RuntimeError("the simulator exited before printing its adapter configs")


def run_agent(work: Path, broker: Mosquitto, pipeline: dict, env: dict, messages: int) -> dict:
    """A fresh simulator and agent process until ``messages`` features messages, then an explained alert.

    Returns peak RSS at both points, whether numba was mapped, the seconds taken and the alert's call.
    """
    sim, sources = _sim_sources(env, _scenario(work))
    received: queue.Queue = queue.Queue()
    sub = make_client(f"bench-mem-{time.monotonic_ns()}", "3.1.1")
    sub.on_connect = lambda c, *a: c.subscribe([(f"tf/v1/{SITE}/{EDGE}/+/features", 1),
                                                (f"tf/v1/{SITE}/{EDGE}/+/alert", 1)])
    sub.on_message = lambda c, u, m: received.put((m.topic.rsplit("/", 1)[-1], m.payload))
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    state = work / f"state-{time.monotonic_ns()}"
    config = work / "edge.json"
    config.write_text(json.dumps({"site": SITE, "edge_id": EDGE, "broker": broker.url, "batch_s": 0.5,
                                  "state_dir": str(state), "sources": sources,
                                  "pipelines": {sources[0]["asset"]: pipeline}}))
    started = time.monotonic()
    log = open(work / "edge.log", "ab")
    agent = subprocess.Popen([sys.executable, "-m", "teachfab.cli", "edge", "run", str(config)], cwd=work,
                             env=env, stdout=log, stderr=subprocess.STDOUT)
    got, peak, numba, at_features, call = 0, 0, False, None, None
    try:
        while call is None:
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited ({agent.returncode}); see {work / 'edge.log'}")
            if time.monotonic() - started > 600:
                raise RuntimeError(f"{got} features messages and no explained alert in 600 s")
            try:
                kind, payload = received.get(timeout=0.2)
            except queue.Empty:
                kind, payload = None, b""
            peak = max(peak, _status(agent.pid)["VmHWM"])
            numba = numba or _numba_mapped(agent.pid)
            if kind == "features":
                got += 1
                if got == messages:
                    at_features = peak
            elif kind == "alert" and at_features is not None:
                explanation = json.loads(payload).get("explanation") or {}
                if explanation.get("kind") == "bearing":
                    call = explanation.get("fault")
        peak = max(peak, _status(agent.pid)["VmHWM"])
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        log.close()
        sub.loop_stop()
        sub.disconnect()
        sim.terminate()
        sim.wait(timeout=30)
    return {"features_mb": at_features, "peak_mb": peak, "numba": numba, "seconds": time.monotonic() - started,
            "call": call}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3, help="features messages each agent publishes first")
    args = ap.parse_args(argv)
    from edge_agent import kernels

    if kernels._compiled()[0] is None:
        print("no current AOT build: run python -m edge_agent.kernels.build first", file=sys.stderr)
        return 1
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEACHFAB_KERNELS")}
    base["PYTHONPATH"] = str(ROOT)
    floor = subprocess.run([sys.executable, "-c", FLOOR], env=base, capture_output=True, text=True, check=True)
    floor_mb = int(next(ln for ln in floor.stdout.splitlines() if ln.startswith("VmHWM")).split()[1]) // 1024
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work)
        try:
            print(f"floor: numpy + paho + pyserial + asyncua imported: peak {floor_mb} MB")
            print(f"{'pipeline':20s} {'kernels':18s} {'scoring':>9s} {'+ alert diagnosed':>18s} "
                  f"{'numba loaded':>13s} {'to the alert':>13s}")
            for name, pipeline in PIPELINES.items():
                cache = work / f"numba-cache-{len(name)}"
                runs = (("AOT module", {"TEACHFAB_KERNELS": "aot"}),
                        ("JIT, empty cache", {"TEACHFAB_KERNELS": "jit", "NUMBA_CACHE_DIR": str(cache)}),
                        ("JIT, warm cache", {"TEACHFAB_KERNELS": "jit", "NUMBA_CACHE_DIR": str(cache)}))
                for label, extra in runs:
                    r = run_agent(work, broker, pipeline, {**base, **extra}, args.messages)
                    goal = "  (goal <= 150 MB: " + ("met" if r["peak_mb"] <= 150 else "NOT met") + \
                        f"; the alert said {r['call']})"
                    print(f"{name:20s} {label:18s} {r['features_mb']:6d} MB {r['peak_mb']:15d} MB "
                          f"{str(r['numba']):>13s} {r['seconds']:11.1f} s{goal}", flush=True)
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
