"""Control charts, scalers, thresholds, registries and the lazy river import."""

import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from river import preprocessing
from scipy import stats

from edge_agent.models import (MODELS, SCALERS, THRESHOLDS, EWMAChart, FixedThreshold, HotellingT2, MinMaxScaler,
                               QuantileThreshold, StandardScaler, build)


# ------------------------------------------------------------------ charts
def test_hotelling_t2_is_chi_square_in_control():
    rng = np.random.default_rng(0)
    cov = [[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 2.0]]
    t2 = HotellingT2(warmup=50, shrinkage=0.0, clip=None)
    for v in rng.multivariate_normal([5, 1, -2], cov, 5000):
        t2.learn_one(dict(zip("abc", v)))
    scores = np.array([t2.score_one(dict(zip("abc", v))) for v in rng.multivariate_normal([5, 1, -2], cov, 4000)])
    assert stats.kstest(scores, stats.chi2(3).cdf).statistic < 0.03
    limit = t2.control_limit(alpha=0.01)
    assert limit == pytest.approx(stats.chi2.ppf(0.99, 3))
    assert np.mean(scores > limit) == pytest.approx(0.01, abs=0.006)


def test_hotelling_shrinkage_keeps_collinear_features_invertible():
    rng = np.random.default_rng(1)
    t2 = HotellingT2(warmup=10)
    for v in rng.normal(size=100):
        t2.learn_one({"a": v, "b": 2 * v})  # singular sample covariance
    assert math.isfinite(t2.score_one({"a": 1.0, "b": 2.0}))
    assert t2.score_one({"a": 1.0, "b": -2.0}) > 10 * t2.score_one({"a": 1.0, "b": 2.0})


def test_hotelling_clip_limits_the_pull_of_a_learnt_outlier():
    rng = np.random.default_rng(2)
    robust, plain = HotellingT2(warmup=30), HotellingT2(warmup=30, clip=None)
    for v in rng.normal(size=(300, 2)):
        for m in (robust, plain):
            m.learn_one({"a": v[0], "b": v[1]})
    for m in (robust, plain):
        m.learn_one({"a": 1e3, "b": 0.0})  # one wild point learnt by mistake
    assert robust.score_one({"a": 4.0, "b": 0.0}) > 10 > plain.score_one({"a": 4.0, "b": 0.0})


def test_ewma_in_control_false_alarms_and_shift_detection():
    rng = np.random.default_rng(3)
    chart = EWMAChart(lam=0.2, warmup=200)
    limit = 3.0
    alarms = 0
    for i, v in enumerate(rng.normal(10, 1, 3000)):
        if i >= 200:
            alarms += chart.score_one({"x": v}) > limit
        chart.learn_one({"x": v})
    assert alarms / 2800 < 0.01  # ARL0 of hundreds of points
    delay = None
    for i, v in enumerate(rng.normal(11.5, 1, 100)):  # 1.5 sigma shift
        if chart.score_one({"x": v}) > limit:
            delay = i
            break
        chart.learn_one({"x": v})
    assert delay is not None and delay < 20
    assert EWMAChart.control_limit(0.0027, p=1) == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("kw", [{"lam": 0.0}, {"lam": 1.5}, {"warmup": 1}, {"clip": -1}])
def test_ewma_rejects_bad_parameters(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        EWMAChart(**kw)


# ----------------------------------------------------------------- scalers
def test_scalers_match_river():
    rng = np.random.default_rng(4)
    ours = [MinMaxScaler(), StandardScaler()]
    theirs = [preprocessing.MinMaxScaler(), preprocessing.StandardScaler()]
    for row in rng.normal(5, 2, (300, 3)):
        x = {"a": row[0], "b": row[1], "c": row[2]}
        for o, t in zip(ours, theirs):
            o.learn_one(x)
            t.learn_one(x)
            got, want = o.transform_one(x), t.transform_one(x)
            for k in x:
                assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12)


def test_scalers_pass_non_finite_values_without_learning_them():
    s = MinMaxScaler()
    for v in (1.0, 3.0, float("nan"), float("inf")):
        s.learn_one({"a": v})
    assert s.transform_one({"a": 2.0}) == {"a": 0.5}
    assert math.isnan(s.transform_one({"a": float("nan")})["a"])


# -------------------------------------------------------------- thresholds
def test_quantile_threshold_follows_healthy_scores_only():
    rng = np.random.default_rng(5)
    th = QuantileThreshold(q=0.99, window=1000, warmup=200)
    normal = rng.normal(0, 1, 2000)
    assert not any(th.update(s) for s in normal[:200])  # warm-up: never anomalous
    for s in normal[200:]:
        th.update(s)
    assert th.value == pytest.approx(np.quantile(th._sorted, 0.99))
    before = th.value
    assert all(th.update(s) for s in np.full(300, 50.0))  # a long anomaly cannot raise the bar
    assert th.value == before
    assert th.update(float("nan")) is False and th.n_rejected == 1
    assert th.update(float("inf")) is True and th.n_rejected == 2


def test_quantile_threshold_window_matches_numpy_quantile():
    rng = np.random.default_rng(6)
    th = QuantileThreshold(q=0.9, window=50, warmup=10, margin=1.5)
    vals = rng.random(500)
    for v in vals:
        th.update(v)
    assert th.value == pytest.approx(1.5 * np.quantile(list(th._recent), 0.9))
    assert pickle.loads(pickle.dumps(th)).value == th.value


@pytest.mark.parametrize("kw, match", [({"q": 1.5}, "q must"), ({"window": 0}, "window"),
                                       ({"warmup": 5000}, "warmup"), ({"margin": 0}, "margin")])
def test_quantile_threshold_rejects_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        QuantileThreshold(**kw)


def test_fixed_threshold():
    th = FixedThreshold(2.5)
    assert th.is_anomalous(3) and not th.update(2.5) and th.value == 2.5
    with pytest.raises(ValueError, match="value"):
        FixedThreshold(float("nan"))


# -------------------------------------------------------------- registries
@pytest.mark.parametrize("registry, kind", [(MODELS, "model"), (SCALERS, "scaler"), (THRESHOLDS, "threshold")])
def test_registries_name_unknown_entries_and_parameters(registry, kind):
    with pytest.raises(ValueError, match=f"unknown {kind} 'nope'"):
        build(registry, kind, "nope")
    for name, factory in registry.items():
        with pytest.raises(ValueError, match="unknown parameter 'bogus'"):
            factory(bogus=1)


def test_registry_reports_bad_values():
    with pytest.raises(ValueError, match="window_size"):
        MODELS["hst"](window_size=0)
    with pytest.raises(ValueError, match="q must"):
        THRESHOLDS["quantile"](q=2)


def test_importing_models_and_drift_does_not_import_river():
    code = ("import sys, edge_agent.models, edge_agent.drift, edge_agent.models.registry\n"
            "m = edge_agent.models.MODELS['hst'](seed=1); m.learn_one({'a': 0.5})\n"
            "assert not any(k == 'river' or k.startswith('river.') for k in sys.modules), 'river imported'\n"
            "edge_agent.models.MODELS['river.hst'](seed=1)\n"
            "assert 'river' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
