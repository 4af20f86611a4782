"""Bearing diagnosis on simulated faults of other sizes, speeds and bearings, and on real CWRU records."""

from pathlib import Path

import pytest

from edge_agent.bearings import SKF_6203, SKF_6205
from edge_agent.diagnosis import candidate_bands, classify, diagnose
from edge_agent.replay import ReplayOptions, parse_range, run_replay
from simulators.faults import FaultEvent
from simulators.rotating_machine import RotatingMachine

CWRU = Path(__file__).resolve().parents[3] / "shared" / "data" / "cwru"


def _record(kind, severity=0.4, fs=12000.0, rpm=1797.0, bearing=SKF_6205, seconds=6.0, seed=5):
    faults = [FaultEvent(kind, 0.0, severity, ramp_s=0.0)] if kind else []
    m = RotatingMachine("m", fs=fs, rpm=rpm, bearing=bearing, faults=faults, seed=seed)
    return m.next_block(int(fs * seconds)), m


@pytest.mark.parametrize("kind", ["outer_race", "inner_race", "ball"])
@pytest.mark.parametrize("fs, rpm, bearing", [(12000.0, 1797.0, SKF_6205), (25600.0, 1450.0, SKF_6203)])
def test_each_bearing_fault_is_named(kind, fs, rpm, bearing):
    x, m = _record(kind, fs=fs, rpm=rpm, bearing=bearing)
    d = diagnose(x, fs, rpm, bearing)
    assert d.fault == kind, d.indicators
    assert d.confidence > 0.6


@pytest.mark.parametrize("kind", [None, "imbalance", "misalignment", "looseness"])
def test_no_bearing_fault_means_none(kind):
    x, m = _record(kind, severity=0.3)
    d = diagnose(x, 12000.0, 1797.0, SKF_6205)
    assert d.fault == "none", d.indicators
    assert d.confidence > 0.5


def test_classify_needs_evidence_above_noise():
    quiet = {"env_bpfo_hsnr": 2.0, "env_bpfi_hsnr": 2.2, "env_2bsf_hsnr": 1.9, "env_bpfi_sb": 1.5, "env_2bsf_sb": 1.5}
    assert classify(quiet)[0] == "none"
    tie = {**quiet, "env_bpfo_hsnr": 12.0, "env_bpfi_hsnr": 11.0}
    clear = {**quiet, "env_bpfo_hsnr": 12.0}
    assert classify(clear)[0] == "outer_race" and classify(clear)[1] > classify(tie)[1]


def test_bands_and_inputs_are_checked():
    assert all(b[1] - b[0] >= 6 * SKF_6205.bpfi * 30 for b in candidate_bands(12000.0, 30.0, SKF_6205))
    with pytest.raises(ValueError, match="too low to demodulate"):
        candidate_bands(2000.0, 30.0, SKF_6205)
    with pytest.raises(ValueError, match="need at least"):
        diagnose([0.0] * 100, 12000.0, 1797.0, SKF_6205)
    with pytest.raises(ValueError, match="range '0.5:0.2'"):
        parse_range("0.5:0.2")


needs_cwru = pytest.mark.skipif(not CWRU.is_dir(), reason="../shared/data/cwru is not beside the checkout")


@needs_cwru
@pytest.mark.parametrize("name, fault", [("OR021_6_0.mat", "outer_race"), ("IR007_0.mat", "inner_race")])
def test_replay_on_real_records(name, fault):
    res = run_replay(ReplayOptions(file=str(CWRU / name), fs=12000.0, channel="DE", baseline=str(CWRU / "Normal_0.mat"),
                                   baseline_fs=48000.0, baseline_range="0:0.5"))
    assert res["analysis_fs"] == 12000.0 and res["rpm"] in (1796.0, 1797.0)
    assert res["diagnosis"]["fault"] == fault
    assert res["anomaly_fraction"] > 0.9  # a faulty bearing looks nothing like the learnt healthy one


@needs_cwru
def test_replay_of_the_unseen_healthy_half():
    res = run_replay(ReplayOptions(file=str(CWRU / "Normal_0.mat"), fs=48000.0, channel="DE", range="0.5:1",
                                   baseline=str(CWRU / "Normal_0.mat"), baseline_fs=48000.0, baseline_range="0:0.5",
                                   analysis_fs=12000.0))
    assert res["diagnosis"]["fault"] == "none"
    assert res["anomaly_fraction"] < 0.2
    no_base = run_replay(ReplayOptions(file=str(CWRU / "OR007_6_0.mat"), fs=12000.0))
    assert no_base["anomaly_fraction"] is None and no_base["diagnosis"]["fault"] == "outer_race"
