"""Interop: TeachFab's OPC UA adapter reads and subscribes to a node-opcua server.

node-opcua is an implementation independent of asyncua; ``./run.sh test``
installs it (``tests/interop/package.json``) with npm.
"""

import asyncio
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware_adapters.opcua import OpcUaConfig, OpcUaSource
from tests.servers import collect_samples, free_port

INTEROP = Path(__file__).parents[1] / "interop"


@pytest.fixture
def node_opcua_server():
    if not (INTEROP / "node_modules" / "node-opcua").is_dir() or not shutil.which("node"):
        pytest.fail("node-opcua is not installed; ./run.sh test installs it with npm")
    port = free_port()
    proc = subprocess.Popen(["node", str(INTEROP / "opcua_server.js"), str(port)], cwd=INTEROP,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = ""
    for _ in range(200):
        line = proc.stdout.readline()
        if line.startswith("READY") or proc.poll() is not None:
            break
    if not line.startswith("READY"):
        proc.kill()
        pytest.fail(f"node-opcua server did not start: {line}{proc.stdout.read()}")
    _, endpoint, t0_ms = line.split()
    yield f"opc.tcp://127.0.0.1:{port}/interop", int(t0_ms)
    proc.terminate()
    proc.wait(10)



@pytest.mark.parametrize("mode", ["configured", "browsed"])
def test_adapter_reads_and_subscribes_to_node_opcua(node_opcua_server, mode):
    url, t0_ms = node_opcua_server
    if mode == "configured":
        cfg = OpcUaConfig(url=url, asset="pump", namespace="urn:teachfab:interop",
                          waveforms={"vibration": "Pump.Vibration"}, scalars={"temperature": "Pump.Temperature"},
                          rate_node="Pump.SampleRate", units={"vibration": "g", "temperature": "degC"})
    else:
        cfg = OpcUaConfig(url=url, asset="pump", namespace="urn:teachfab:interop", browse_path="Pump")
    def enough(got):
        return sum(s.channel == "vibration" for s in got) >= 15 and any(s.channel == "temperature" for s in got)

    samples = asyncio.run(collect_samples(OpcUaSource(cfg), enough, what="15 vibration blocks and a temperature"))
    vib = [s for s in samples if s.channel == "vibration"]
    temp = [s for s in samples if s.channel == "temperature"]
    assert len(vib) >= 15 and temp
    assert all(s.rate == 1000.0 and s.values.size == 100 for s in vib)
    # the first notification may be the value current at subscription time;
    # after it, blocks are consecutive and hold exactly the server's sine
    for prev, nxt in zip(vib[1:], vib[2:]):
        assert nxt.start_ns == prev.end_ns
    for s in vib[1:]:
        k0 = round((s.start_ns / 1e6 - t0_ms) * 1000 / 1e3)
        expect = np.sin(2 * math.pi * 50 * (k0 + np.arange(100)) / 1000)
        np.testing.assert_allclose(s.values, expect, atol=1e-12)
