"""How many 25.6 kHz channels one core keeps up with, and what the agent costs to start.

1. Throughput: 20 s of simulated 25.6 kHz vibration is pushed through one
   declared pipeline (``vibration_full`` features, standard scaler,
   numba Half-Space Trees, quantile threshold, drift monitors on RMS,
   kurtosis and the score) in 0.1 s blocks, as the agent does; the CPU
   time per second of signal gives the channels one core sustains.
2. Start-up: a fresh process imports the agent, builds that pipeline and
   processes its first window (AOT kernels, or the numba cache warm); its peak RSS
   (split into read-only library pages, shared and evictable, and private
   memory) and the wall time are printed, with and without the river-based
   drift monitors (river and scipy are imported only when a pipeline asks).
   Linux only (reads ``/proc/self/smaps_rollup``).

Usage::

    .venv/bin/python benchmarks/bench_agent.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FS = 25600.0
PIPELINE = {
    "name": "bench", "channel": "vibration_de", "window": 4096, "rpm": 1797, "feature_set": "vibration_full",
    "features": None, "scaler": {"name": "standard"},
    "detector": {"name": "hst", "params": {"n_trees": 25, "height": 8, "window_size": 50, "seed": 1}},
    "threshold": {"name": "quantile", "params": {"q": 0.995, "window": 500, "warmup": 20}}, "warmup": 20,
    "drift": [{"target": "rms", "detector": "adwin"}, {"target": "kurtosis", "detector": "page_hinkley"},
              {"target": "score", "detector": "adwin"}],
}

_STARTUP = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
from edge_agent.agent import _warm_up_kernels
from edge_agent.pipeline import AssetPipeline, PipelineConfig
from firmware_adapters.sample import Sample
cfg = json.loads(sys.argv[1])
p = AssetPipeline("m", PipelineConfig(**cfg))
_warm_up_kernels()
x = np.random.default_rng(0).normal(size=cfg["window"])
p.push(Sample("m", "vibration_de", 0, 25600.0, x, "g"))
mem = {}
for line in open("/proc/self/smaps_rollup"):
    k, v = line.split()[:2]
    mem[k.rstrip(":")] = int(v) / 1024 if v.isdigit() else v
print(json.dumps({"start_s": time.perf_counter() - t0,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shared_clean_mb": mem["Shared_Clean"] + mem["Private_Clean"], "anon_mb": mem["Anonymous"],
                  "river": "river" in sys.modules, "scipy_signal": "scipy.signal" in sys.modules}))
"""


def throughput(seconds: float = 20.0) -> dict:
    """CPU seconds per second of one channel, and the channels one core sustains."""
    from edge_agent.pipeline import AssetPipeline, PipelineConfig
    from firmware_adapters.sample import Sample
    from simulators.rotating_machine import RotatingMachine

    machine = RotatingMachine("m", fs=FS, seed=3)
    blocks = [machine.advance(0.1)["vibration_de"] for _ in range(int(seconds * 10))]
    pipe = AssetPipeline("m", PipelineConfig(**PIPELINE))
    pipe.push(Sample("m", "vibration_de", 0, FS, blocks[0], "g"))  # compile / load kernels
    t0 = time.process_time()
    for i, b in enumerate(blocks[1:], 1):
        pipe.push(Sample("m", "vibration_de", int(i * 1e8), FS, b, "g"))
    cpu = time.process_time() - t0
    signal_s = (len(blocks) - 1) * 0.1
    return {"signal_s": signal_s, "cpu_s": round(cpu, 3), "windows": pipe.windows,
            "cpu_per_signal_s": round(cpu / signal_s, 5), "channels_per_core": round(signal_s / cpu, 1)}


def startup(drift: bool) -> dict:
    """Peak RSS and start time of a fresh process running the pipeline's first window."""
    cfg = dict(PIPELINE) if drift else {**PIPELINE, "drift": []}
    out = subprocess.run([sys.executable, "-c", _STARTUP, json.dumps(cfg)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return json.loads(out.stdout)


def main() -> int:
    """Run both measurements and print them."""
    from edge_agent import kernels

    t = throughput()
    kernels.load()
    print(f"one 25.6 kHz channel, vibration_full + HST + 3 drift monitors ({kernels.mode()} kernels): "
          f"{t['cpu_per_signal_s'] * 1e3:.1f} ms CPU per s of signal ({t['windows']} windows) -> "
          f"{t['channels_per_core']} channels per core (goal >= 200)")
    for drift in (False, True):
        startup(drift)  # first run fills the numba cache if needed
        s = startup(drift)
        print(f"warm start {'with' if drift else 'without'} drift monitors: {s['start_s']:.2f} s, "
              f"peak RSS {s['rss_mb']:.0f} MB, of which {s['shared_clean_mb']:.0f} MB read-only library pages and "
              f"{s['anon_mb']:.0f} MB private (river imported: {s['river']}, scipy.signal: {s['scipy_signal']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
