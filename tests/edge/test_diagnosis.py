"""Bearing diagnosis on simulated faults of other sizes, speeds and bearings, and on real CWRU records."""

from pathlib import Path

import numpy as np
import pytest

from edge_agent.bearings import SKF_6203, SKF_6205
from edge_agent.diagnosis import Family, decide, diagnose, diagnose_window
from edge_agent.diagnosis.evidence import bearing_families, family_evidence
from edge_agent.replay import ReplayOptions, parse_range, run_replay
from simulators.faults import FaultEvent
from simulators.rotating_machine import RotatingMachine

CWRU = Path(__file__).resolve().parents[3] / "shared" / "data" / "cwru"


def _record(kind, severity=0.3, fs=12000.0, rpm=1797.0, bearing=SKF_6205, seconds=4.0, seed=5, resonance=3000.0):
    faults = [FaultEvent(kind, 0.0, severity, ramp_s=0.0)] if kind else []
    m = RotatingMachine("m", fs=fs, rpm=rpm, bearing=bearing, faults=faults, seed=seed, resonance_hz=resonance)
    return m.next_block(int(fs * seconds)), m


@pytest.mark.parametrize("kind", ["outer_race", "inner_race", "ball"])
@pytest.mark.parametrize("fs, rpm, bearing, resonance", [(12000.0, 1797.0, SKF_6205, 3000.0),
                                                         (25600.0, 1450.0, SKF_6203, 6500.0)])
def test_each_bearing_fault_is_named(kind, fs, rpm, bearing, resonance):
    x, m = _record(kind, fs=fs, rpm=rpm, bearing=bearing, resonance=resonance)
    d = diagnose(x, fs, rpm, bearing)
    assert d.fault == kind, d.reason
    assert d.confidence > 0.9
    assert d.band[0] <= resonance <= d.band[1]
    w = diagnose_window(x[:8192], fs, rpm, bearing)
    assert w.fault == kind and w.evidence.harmonics_found >= 2


@pytest.mark.parametrize("kind", [None, "imbalance", "misalignment", "looseness"])
def test_no_bearing_fault_means_none(kind):
    x, m = _record(kind, severity=0.3)
    d = diagnose(x, 12000.0, 1797.0, SKF_6205)
    assert d.fault == "none", d.reason
    assert d.confidence > 0.5


def test_speed_is_estimated_when_missing():
    x, m = _record("outer_race", seconds=6.0)
    d = diagnose(x, 12000.0, None, SKF_6205)
    assert d.speed_source == "estimated" and d.shaft_hz == pytest.approx(1797.0 / 60, rel=0.005)
    assert d.fault == "outer_race"


def test_inner_race_evidence_has_shaft_sidebands():
    x, m = _record("inner_race")
    fam = diagnose(x, 12000.0, 1797.0, SKF_6205).evidence
    assert any(s.found for s in fam.sidebands)
    assert fam.measured_hz == pytest.approx(SKF_6205.bpfi * 29.95, rel=0.02)


def test_decide_needs_evidence_and_separation():
    fam = lambda name, e: Family(name, name, 100.0, 99.0, e)  # noqa: E731
    assert decide({"outer_race": fam("outer_race", 1.0), "ball": fam("ball", 0.5)})[0] == "none"
    tie = decide({"outer_race": fam("outer_race", 12.0), "inner_race": fam("inner_race", 11.8)})
    clear = decide({"outer_race": fam("outer_race", 12.0), "inner_race": fam("inner_race", 2.0)})
    assert tie[0] == "unknown" and clear[0] == "outer_race" and clear[1] > tie[1]


def _power_with(lines_hz, df=0.5, n=1400, seed=4):
    power = np.random.default_rng(seed).exponential(1.0, n)
    for hz, height in lines_hz:
        power[int(round(hz / df))] += height
    return power, df


def test_sidebands_count_only_around_a_found_harmonic():
    # a ball family's FTF sidebands land on lines that are not its own when its 2×BSF carrier is absent
    fr = 29.93
    f = SKF_6205.frequencies(fr)
    power, df = _power_with([(f["2bsf"] + f["ftf"], 400.0), (2 * f["2bsf"] - f["ftf"], 400.0)])
    fam = family_evidence("ball", power, df, f["2bsf"], 1, f["ftf"])
    assert fam.sidebands == [] and fam.evidence <= 2.0
    # with the carrier there, the same sidebands support it
    power, df = _power_with([(f["2bsf"], 200.0), (f["2bsf"] + f["ftf"], 60.0), (f["2bsf"] - f["ftf"], 60.0)])
    fam = family_evidence("ball", power, df, f["2bsf"], 1, f["ftf"])
    assert fam.evidence > 10 and sum(s.found for s in fam.sidebands) == 2


def test_shaft_harmonics_support_no_bearing_family():
    # looseness-like envelope: every multiple of the shaft speed; 2 × BPFO (7.17 fr) is in reach of 7 fr with slip
    fr = 29.93
    power, df = _power_with([(k * fr, 300.0) for k in range(1, 20)])
    fams = bearing_families(power, df, fr, SKF_6205, 1)
    assert max(f.evidence for f in fams.values()) < 3.0
    assert decide(fams)[0] == "none"


def test_compact_spectrum_is_bounded_and_marks_the_line():
    x, m = _record("outer_race")
    out = diagnose_window(x[:8192], 12000.0, 1797.0, SKF_6205).as_dict()
    spec = out["spectrum"]
    assert len(spec["values"]) <= 256 and spec["df_hz"] > 0
    f = spec["f0_hz"] + spec["df_hz"] * int(np.argmax(spec["values"]))
    bpfo = SKF_6205.bpfo * 29.95
    assert abs(f / bpfo - round(f / bpfo)) < 0.05 and round(f / bpfo) >= 1  # the tallest peak is a BPFO harmonic


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="need at least"):
        diagnose(np.zeros(5000), 12000.0, 1797.0, SKF_6205)
    with pytest.raises(ValueError, match="rpm must be"):
        diagnose_window(np.random.default_rng(0).normal(size=8192), 12000.0, -5.0, SKF_6205)
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
    # the fan-end accelerometer of the same healthy rig: shaft lines beat in its band, still no bearing defect
    fan = run_replay(ReplayOptions(file=str(CWRU / "Normal_0.mat"), fs=48000.0, channel="FE", range="0.5:1",
                                   analysis_fs=12000.0))
    assert fan["diagnosis"]["fault"] == "none", fan["diagnosis"]["reason"]
    no_base = run_replay(ReplayOptions(file=str(CWRU / "OR007_6_0.mat"), fs=12000.0))
    assert no_base["anomaly_fraction"] is None and no_base["diagnosis"]["fault"] == "outer_race"


def test_replay_prints_the_explanation_and_writes_a_report(tmp_path, capsys):
    from edge_agent.replay import main as replay_main

    x, m = _record("outer_race", seconds=6.0)
    np.savez(tmp_path / "pump.npz", accel=x)
    report = tmp_path / "report.html"
    assert replay_main(ReplayOptions(file=str(tmp_path / "pump.npz"), fs=12000.0, channel="accel"), as_json=False,
                       report=str(report)) == 0
    out = capsys.readouterr().out
    assert "rpm estimated" in out and "outer_race (confidence" in out  # no speed in the file: from the spectrum
    assert "1×bpfo" in out and "ISO 20816-3" in out
    html = report.read_text()
    assert "<h1>Outer-race defect</h1>" in html and "<svg" in html and "1×bpfo" in html and "<script" not in html


def test_half_overlapped_windows_are_worth_the_averages_the_noise_model_is_told():
    from edge_agent.diagnosis import spectra
    from edge_agent.diagnosis.method import effective_averages
    fs, n = 12000.0, 4096
    x = np.random.default_rng(11).normal(0.0, 1.0, 40 * n)
    specs = [spectra.spectrum(x[s:s + n])[0] for s in range(0, x.size - n + 1, n // 2)]
    power = np.mean([spectra.ses_power_of_spectrum(s, n, fs, (1000.0, 4000.0)) for s in specs], axis=0)[20:]
    # the averaged noise bins are Gamma(M)/M times their mean: relative variance 1/M
    m = effective_averages(len(specs), 0.5)
    assert np.var(power / power.mean()) == pytest.approx(1.0 / m, rel=0.15)
    assert m < len(specs) and effective_averages(len(specs), 0.0) == len(specs)


def test_a_recording_is_averaged_over_half_overlapped_windows():
    x, m = _record("outer_race")  # 4 s: 5 windows side by side, 10 overlapped by half
    assert diagnose(x, 12000.0, 1797.0, SKF_6205, overlap=0.0).averages == 5
    assert diagnose(x, 12000.0, 1797.0, SKF_6205).averages == 9
    with pytest.raises(ValueError, match="overlap"):
        diagnose(x, 12000.0, 1797.0, SKF_6205, overlap=0.3)


def test_families_share_the_notch_levels_and_get_what_notching_each_copy_gives():
    from edge_agent.diagnosis import spectra
    from edge_agent.diagnosis.evidence import line_bins, shaft_notched
    x, m = _record("inner_race", severity=0.1)
    spec, n = spectra.spectrum(x[:8192])
    power = spectra.ses_power_of_spectrum(spectra.whiten_spectrum(spec, n), n, 12000.0, (2000.0, 4000.0))
    df, fr = 12000.0 / n, 1797.0 / 60.0
    fams = bearing_families(power, df, fr, SKF_6205, 1)
    f = SKF_6205.frequencies(fr)
    for fault, f0, sb in (("outer_race", f["bpfo"], None), ("inner_race", f["bpfi"], fr), ("ball", f["2bsf"], f["ftf"])):
        own = shaft_notched(power, df, fr, line_bins(power.size, df, f0, sb))
        assert family_evidence(fault, own, df, f0, 1, sb) == fams[fault]
