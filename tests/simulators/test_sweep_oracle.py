"""The sweep's oracle (benchmarks/sweep_diagnosis.py --oracle) sees a clear fault and not a healthy machine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simulators.faults import FaultEvent
from simulators.rotating_machine import RotatingMachine

_spec = importlib.util.spec_from_file_location(
    "sweep_diagnosis", Path(__file__).resolve().parents[2] / "benchmarks" / "sweep_diagnosis.py")
sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep)


def _peaks(kind, rpm=1797.0, res=3000.0, noise=0.03, seed=5):
    faults = [FaultEvent(kind, 0.0, 0.15, ramp_s=0.0)] if kind else []
    m = RotatingMachine("o", fs=12000.0, rpm=rpm, faults=faults, resonance_hz=res, noise_g=noise, seed=seed)
    return sweep.oracle_db(m.next_block(48000), 12000.0, res, m.bearing.frequencies(rpm / 60.0))


def test_the_oracle_lifts_the_true_family_well_above_a_healthy_machine():
    healthy = max(max(_peaks(None, seed=s).values()) for s in (1, 2))
    for kind, family in sweep.FAMILY.items():
        peaks = _peaks(kind)
        assert peaks[family] > healthy + 6.0, (kind, peaks, healthy)
        assert peaks[family] == max(peaks.values()), (kind, peaks)
