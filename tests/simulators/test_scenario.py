"""Scenario files: validation with clear errors, determinism, ground truth, `teachfab sim run`."""

import asyncio
import contextlib
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from firmware_adapters.registry import build_source
from simulators.runner import ServeOptions, serving
from simulators.scenario import EXAMPLES_DIR, ScenarioError, list_examples, load_scenario

SMALL = {
    "name": "small", "seed": 11, "duration_s": 30,
    "assets": [{"type": "rotating_machine", "id": "pump-1", "rpm": 1500,
                "sensors": {"vibration": {"rate_hz": 12000}}}],
    "faults": [{"asset": "pump-1", "type": "outer_race", "start_s": 2, "ramp_s": 1, "severity": 0.4}],
}


@pytest.mark.parametrize("name", list_examples())
def test_every_shipped_example_loads_and_exports_its_events(name):
    doc = yaml.safe_load((EXAMPLES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    sc = load_scenario(name)
    truth = sc.ground_truth()
    faults = [e for e in truth if e["category"] == "fault"]
    assert sorted((e["asset"], e["event"], e["start_s"]) for e in faults) == sorted(
        (f["asset"], f["type"], float(f["start_s"])) for f in doc.get("faults", []))
    regimes = {(e["asset"], e["start_s"]) for e in truth if e["category"] == "regime"}
    assert {(r["asset"], float(r["start_s"])) for r in doc.get("regimes", [])} <= regimes  # speed profiles add more
    assert [e["start_s"] for e in truth] == sorted(e["start_s"] for e in truth)
    for e in truth:
        assert {"event", "category", "asset", "start_s", "end_s", "severity"} <= set(e)
    # one step of every asset yields every channel it declares
    _, data = next(sc.run(step_s=0.1))
    for asset in sc.assets:
        assert set(data[asset.asset]) == {c.name for c in asset.channels()}


def test_same_seed_same_samples_other_seed_other_samples():
    a = load_scenario(SMALL)
    b = a.restart()
    c = load_scenario({**SMALL, "seed": 12})
    run = lambda sc: np.concatenate([d["pump-1"]["vibration_de"] for _, d in sc.run(0.1, duration_s=1.0)])
    xa, xb, xc = run(a), run(b), run(c)
    assert xa.size == 12000
    np.testing.assert_array_equal(xa, xb)
    assert not np.allclose(xa, xc)


def test_adding_an_asset_does_not_change_the_others():
    two = {**SMALL, "assets": SMALL["assets"] + [{"type": "thermal", "id": "oven-1"}]}
    first = lambda sc: sc.asset("pump-1").advance(0.5)["vibration_de"]
    np.testing.assert_array_equal(first(load_scenario(SMALL)), first(load_scenario(two)))


def test_ground_truth_on_the_epoch_clock():
    sc = load_scenario(SMALL)
    (event,) = sc.ground_truth_ns(1_700_000_000_000_000_000)
    assert event["event"] == "outer_race" and event["asset"] == "pump-1"
    assert event["start_ns"] == 1_700_000_002_000_000_000 and event["end_ns"] is None
    assert event["severity"] == 0.4


@pytest.mark.parametrize("change, expected", [
    ({"faults": [{"asset": "pump-9", "type": "outer_race", "start_s": 1, "severity": 1}]},
     "faults[0].asset = 'pump-9': no such asset"),
    ({"faults": [{"asset": "pump-1", "type": "broken_rotor_bar", "start_s": 1, "severity": 1}]},
     "faults[0].type = 'broken_rotor_bar': does not apply to rotating_machine"),
    ({"faults": [{"asset": "pump-1", "type": "outer_race", "start_s": 40, "severity": 1}]},
     "faults[0].start_s = 40.0: at or after the scenario's duration_s = 30"),
    ({"regimes": [{"asset": "pump-1", "start_s": 1, "to": {"torque": 3}}]},
     "regimes[0].to.torque: unknown for rotating_machine"),
    ({"assets": [{"type": "rotating_machine", "id": "pump-1", "sensors": {"vibration": {"rate_hz": -5}}}]},
     "assets[0].sensors.vibration.rate_hz = -5"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"seed": "abc"}, "seed = 'abc'"),
])
def test_errors_name_the_field_and_value(change, expected):
    with pytest.raises(ScenarioError) as info:
        load_scenario({**SMALL, **change})
    assert any(expected in e for e in info.value.errors), info.value.errors


def test_missing_file_and_bad_yaml_are_clear(tmp_path):
    with pytest.raises(ScenarioError, match="file not found; shipped examples"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)


# ----------------------------------------------------------- teachfab sim run
async def _first_samples(config: dict, channel: str, n_blocks: int, timeout: float = 20.0) -> list:
    cfg = dict(config)
    source = build_source(cfg.pop("adapter"), cfg)
    got = []

    async def consume():
        async with contextlib.aclosing(source.samples()) as stream:  # closing it disconnects the adapter
            async for s in stream:
                if s.channel == channel:
                    got.append(s)
                    if len(got) >= n_blocks:
                        return

    await asyncio.wait_for(consume(), timeout)
    return got


def _index_of(twin: np.ndarray, block: np.ndarray) -> int:
    """Where ``block`` sits in ``twin`` (values rounded as a serial line prints them)."""
    hits = np.flatnonzero(np.isclose(twin, block[0], rtol=1e-5, atol=1e-6))
    for k in hits:
        if k + block.size <= twin.size and np.allclose(twin[k:k + block.size], block, rtol=1e-5, atol=1e-6):
            return int(k)
    raise AssertionError("block not found in the twin's signal")


@pytest.mark.slow
def test_sim_run_serves_one_scenario_over_opcua_serial_and_mqtt_with_the_same_samples(mosquitto, tmp_path):
    """Every protocol carries the scenario's own samples, stamped on the scenario clock."""
    twin = np.concatenate([d["pump-1"]["vibration_de"] for _, d in load_scenario(SMALL).run(0.1, duration_s=12.0)])
    truth_file = tmp_path / "truth.json"
    opts = ServeOptions(opcua_port=0, serial="csv", mqtt=mosquitto.url, ground_truth=str(truth_file))

    async def main():
        async with serving(load_scenario(SMALL), opts, announce=lambda s: None) as info:
            results = {}
            for name, configs in info["sources"].items():
                results[name] = await _first_samples(configs[0], "vibration_de", 5)
            return info, results

    info, results = asyncio.run(main())
    assert set(results) == {"opcua", "serial_line", "mqtt_sensor"}
    assert json.loads(truth_file.read_text()) == info["ground_truth"]
    assert info["ground_truth"][0]["start_ns"] == info["start_ns"] + 2_000_000_000
    for name, samples in results.items():
        assert all(s.asset == "pump-1" and s.rate == 12000.0 and s.units == "g" for s in samples), name
        for s in samples:  # each block separately: a starved reader may lose rows between them
            k = _index_of(twin, s.values)
            due_ns = info["start_ns"] + round(k * 1e9 / 12000.0)
            if name != "serial_line":  # OPC UA and MQTT stamp blocks on the scenario clock
                assert abs(s.start_ns - due_ns) <= 2000, name  # to the µs the protocols carry
            else:  # a serial line has no clock: the reader stamps rows on arrival, never before they exist
                assert s.start_ns > due_ns - 0.2e9


@pytest.mark.slow
def test_sim_run_command_line(tmp_path):
    truth = tmp_path / "truth.json"
    t0 = time.time_ns()
    out = subprocess.run([sys.executable, "-m", "teachfab.cli", "sim", "run", "outer_race_early_detection",
                          "--opcua", "0", "--duration", "2", "--ground-truth", str(truth)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "OPC UA: opc.tcp://127.0.0.1:" in out.stdout and '"browse_path": "Assets/pump-1"' in out.stdout
    events = json.loads(truth.read_text())
    fault = next(e for e in events if e["category"] == "fault")
    assert fault["event"] == "outer_race" and fault["start_ns"] - t0 == pytest.approx(240e9, abs=30e9)

    bad = subprocess.run([sys.executable, "-m", "teachfab.cli", "sim", "run", "outer_race_early_detection"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "nothing to serve" in bad.stderr
