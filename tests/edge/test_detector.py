"""The z-score detector: river protocol, learning, scoring, and the pipeline's alerting."""

import numpy as np
import pytest

from edge_agent.models import LogZScoreDetector
from edge_agent.pipeline import AlertRecord, AssetPipeline, FeatureRecord, PipelineConfig
from firmware_adapters.sample import Sample
from simulators.rotating_machine import FaultEvent, RotatingMachine


def test_follows_river_protocol():
    det = LogZScoreDetector(warmup=3)
    assert det.learn_one({"a": 1.0}) is None
    assert isinstance(det.score_one({"a": 1.0}), float)


def test_scores_zero_during_warmup_then_standardises():
    rng = np.random.default_rng(0)
    det = LogZScoreDetector(warmup=50, log=False)
    data = rng.normal(10.0, 2.0, 500)
    for i, v in enumerate(data):
        if i < 49:
            assert det.score_one({"a": v}) == 0.0
        det.learn_one({"a": v})
    # z-score against the running mean and sample std
    expect = abs(16.0 - data.mean()) / data.std(ddof=1)
    assert det.score_one({"a": 16.0}) == pytest.approx(expect, rel=1e-9)


def test_log_scale_treats_ratios_alike():
    rng = np.random.default_rng(3)
    det = LogZScoreDetector(warmup=10)
    for _ in range(300):
        det.learn_one({"small": 0.01 * np.exp(rng.normal(0, 0.1)), "big": 100 * np.exp(rng.normal(0, 0.1))})
    z = det.z_scores({"small": 0.02, "big": 200.0})
    assert z["small"] == pytest.approx(z["big"], rel=0.15)
    assert z["small"] > 5


def test_missing_feature_is_named():
    det = LogZScoreDetector(features=("rms", "kurtosis"))
    with pytest.raises(ValueError, match="'kurtosis' missing"):
        det.learn_one({"rms": 1.0})


def _run(machine: RotatingMachine, seconds: float, config: PipelineConfig):
    pipe = AssetPipeline(machine.asset, config)
    out, t_ns = [], 0
    block = 1200
    for _ in range(int(seconds * machine.fs / block)):
        out += pipe.push(Sample(machine.asset, "vibration_de", t_ns, machine.fs, machine.next_block(block), "g"))
        t_ns += int(block / machine.fs * 1e9)
    return out


def test_pipeline_alerts_after_onset_and_never_before():
    onset = 30.0
    machine = RotatingMachine("m1", faults=[FaultEvent("outer_race", start_s=onset, severity=0.4)], seed=11)
    out = _run(machine, 45.0, PipelineConfig(window=8192, warmup=20))
    records = [r for r in out if isinstance(r, FeatureRecord)]
    alerts = [r for r in out if isinstance(r, AlertRecord)]
    assert len(records) == int(45 * 12000 / 8192)
    assert len(alerts) == 1, "one alert episode for one fault"
    assert onset * 1e9 <= alerts[0].ts <= (onset + 3) * 1e9
    assert all(r.score <= 8.0 for r in records if r.ts < onset * 1e9)


def test_healthy_machine_raises_no_alert():
    machine = RotatingMachine("m1", seed=5)
    out = _run(machine, 60.0, PipelineConfig(window=4096, warmup=30))
    assert not [r for r in out if isinstance(r, AlertRecord)]


def test_gap_restarts_window():
    pipe = AssetPipeline("m1", PipelineConfig(window=2048, warmup=2))
    x = np.random.default_rng(0).normal(size=1200)
    pipe.push(Sample("m1", "vibration_de", 0, 12000.0, x, "g"))
    pipe.push(Sample("m1", "vibration_de", 10**9, 12000.0, x, "g"))  # 0.9 s missing
    assert pipe.gaps == 1


def test_linear_features_are_taken_as_they_are_on_the_log_scale():
    rng = np.random.default_rng(4)
    det = LogZScoreDetector(warmup=20, linear=("sideband_db",))
    for _ in range(100):
        det.learn_one({"rms": 10.0 * np.exp(rng.normal(0, 0.05)), "sideband_db": rng.normal(-90.0, 1.0)})
    z = det.z_scores({"rms": 10.0, "sideband_db": -45.0})
    assert z["sideband_db"] == pytest.approx(45.0, rel=0.2)  # 45 dB up with ~1 dB of scatter
    assert abs(z["rms"]) < 1.0
    # without it a negative level is clamped to 1e-12 before the log: a rise of 45 dB is invisible
    blind = LogZScoreDetector(warmup=20)
    for _ in range(100):
        blind.learn_one({"sideband_db": rng.normal(-90.0, 1.0)})
    assert blind.score_one({"sideband_db": -45.0}) == 0.0
    with pytest.raises(ValueError, match="linear must be a sequence of feature names"):
        LogZScoreDetector(linear="sideband_db")


def test_pipeline_gives_the_detector_the_linear_features_of_its_set():
    cfg = PipelineConfig(features=["rms", "mean", "skewness", "kurtosis"])
    assert AssetPipeline("m1", cfg).detector.linear == ("mean", "skewness")
    assert AssetPipeline("m1", PipelineConfig(feature_set="time", features=None)).detector.linear == ("mean", "skewness")


def test_snapshot_from_before_linear_features_still_scores():
    import pickle

    det = LogZScoreDetector(warmup=3)
    for v in (1.0, 1.1, 0.9, 1.05):
        det.learn_one({"rms": v})
    state = dict(det.__dict__)
    del state["linear"], state["_linear"]  # as pickled by the previous version
    old = LogZScoreDetector.__new__(LogZScoreDetector)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.linear is None and restored.score_one({"rms": 1.0}) == det.score_one({"rms": 1.0})
