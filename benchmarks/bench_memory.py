"""Peak memory of a real edge agent process: ahead-of-time kernels against numba's JIT.

Starts a Mosquitto on a free port and the OPC UA simulator (one pump,
the install test's scenario), then runs ``teachfab edge run`` in a
fresh process three times with the same config: kernels from the AOT
module, numba JIT with an empty cache (a first start), and numba JIT with
the cache that run left (a restart). Each run lasts until the agent has
published ``--messages`` features messages (its pipeline has learnt and
scored windows); then its peak RSS (``VmHWM`` from ``/proc/<pid>/status``)
and whether llvmlite (numba) was mapped into it are read, and it is stopped.
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contract.mqtt import make_client  # noqa: E402
from tests.servers import Mosquitto  # noqa: E402

SCENARIO = "outer_race_early_detection"
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


def _sim_sources(env: dict) -> tuple[subprocess.Popen, list]:
    cmd = [sys.executable, "-m", "teachfab.cli", "sim", "run", SCENARIO, "--opcua", "0", "--duration", "3600"]
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


def run_agent(work: Path, broker: Mosquitto, sources: list, pipeline: dict, env: dict, messages: int) -> dict:
    """One fresh agent process until ``messages`` features messages: peak RSS, numba mapped, seconds."""
    received: queue.Queue = queue.Queue()
    sub = make_client(f"bench-mem-{time.monotonic_ns()}", "3.1.1")
    sub.on_connect = lambda c, *a: c.subscribe(f"tf/v1/{SITE}/{EDGE}/+/features", qos=1)
    sub.on_message = lambda c, u, m: received.put(m.topic)
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
    got, peak, numba = 0, 0, False
    try:
        while got < messages:
            if agent.poll() is not None:
                raise RuntimeError(f"the agent exited ({agent.returncode}); see {work / 'edge.log'}")
            if time.monotonic() - started > 600:
                raise RuntimeError(f"{got} features messages in 600 s")
            try:
                received.get(timeout=0.2)
                got += 1
            except queue.Empty:
                pass
            peak = max(peak, _status(agent.pid)["VmHWM"])
            numba = numba or _numba_mapped(agent.pid)
        peak = max(peak, _status(agent.pid)["VmHWM"])
    finally:
        agent.terminate()
        agent.wait(timeout=30)
        log.close()
        sub.loop_stop()
        sub.disconnect()
    return {"peak_mb": peak, "numba": numba, "seconds": time.monotonic() - started}


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
        sim, sources = _sim_sources(base)
        try:
            print(f"floor: numpy + paho + pyserial + asyncua imported: peak {floor_mb} MB")
            print(f"{'pipeline':20s} {'kernels':24s} {'peak RSS':>9s} {'numba loaded':>13s} {'to messages':>12s}")
            for name, pipeline in PIPELINES.items():
                cache = work / f"numba-cache-{len(name)}"
                runs = (("AOT module", {"TEACHFAB_KERNELS": "aot"}),
                        ("JIT, empty cache", {"TEACHFAB_KERNELS": "jit", "NUMBA_CACHE_DIR": str(cache)}),
                        ("JIT, warm cache", {"TEACHFAB_KERNELS": "jit", "NUMBA_CACHE_DIR": str(cache)}))
                for label, extra in runs:
                    r = run_agent(work, broker, sources, pipeline, {**base, **extra}, args.messages)
                    goal = "  (goal <= 150 MB: " + ("met)" if r["peak_mb"] <= 150 else "NOT met)")
                    print(f"{name:20s} {label:24s} {r['peak_mb']:6d} MB {str(r['numba']):>13s} "
                          f"{r['seconds']:10.1f} s{goal}", flush=True)
        finally:
            sim.terminate()
            sim.wait(timeout=30)
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
