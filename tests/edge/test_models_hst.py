"""Numba Half-Space Trees against river's ``anomaly.HalfSpaceTrees`` on the same streams."""

import pickle

import numpy as np
import pytest
from river import anomaly
from scipy import stats

from edge_agent.models import HalfSpaceTrees


def _stream(n=3000, d=5, rate=0.02, seed=0):
    """Normal points clustered in [0, 1]^d with uniformly scattered anomalies."""
    rng = np.random.default_rng(seed)
    X = np.clip(rng.normal(0.5, 0.06, (n, d)), 0, 1)
    y = rng.random(n) < rate
    y[:300] = False  # let both windows fill first
    X[y] = rng.uniform(0, 1, (int(y.sum()), d))
    return X, y


def _dicts(X):
    return [{f"f{j}": float(v) for j, v in enumerate(row)} for row in X]


def _prequential(model, xs):
    out = []
    for x in xs:
        out.append(float(model.score_one(x)))
        model.learn_one(x)
    return np.array(out)


def _auc(scores, y):
    r = stats.rankdata(scores)
    n1 = int(y.sum())
    return (r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1))


@pytest.mark.parametrize("n_trees, height, window_size, d", [(5, 3, 3, 1), (10, 8, 50, 4), (6, 10, 100, 7)])
def test_same_seed_gives_river_scores_exactly(n_trees, height, window_size, d):
    # river grows its trees from random.Random(seed); ours consumes the same draws in the same order
    X, _ = _stream(1500, d, seed=n_trees)
    xs = _dicts(X)
    for i in range(1, len(xs), 37 if d > 1 else 10**9):  # missing features take river's busier-child path
        xs[i].pop("f0")
    ours = HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=11)
    theirs = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=11)
    np.testing.assert_array_equal(_prequential(ours, xs), _prequential(theirs, xs))


def test_limits_are_honoured_like_river():
    rng = np.random.default_rng(4)
    xs = [{"rpm": float(v), "t": float(w)} for v, w in zip(rng.normal(1500, 50, 800), rng.normal(40, 2, 800))]
    limits = {"rpm": (1000.0, 2000.0), "t": (20.0, 80.0)}
    ours = HalfSpaceTrees(n_trees=8, height=6, window_size=100, limits=limits, seed=3)
    theirs = anomaly.HalfSpaceTrees(n_trees=8, height=6, window_size=100, limits=limits, seed=3)
    np.testing.assert_array_equal(_prequential(ours, xs), _prequential(theirs, xs))


def test_different_trees_are_statistically_equivalent():
    # with different seeds the trees differ, so compare what the scores say across seeds
    X, y = _stream(4000, 5, seed=7)
    xs = _dicts(X)
    live = slice(250, None)  # both score 0 during the first window
    yl = y[live]

    def run(cls, seed):
        return _prequential(cls(n_trees=25, height=8, window_size=250, seed=seed), xs)[live]

    ours = [run(HalfSpaceTrees, s) for s in (1, 2, 3, 4)]
    theirs = [run(anomaly.HalfSpaceTrees, s) for s in (5, 6, 7, 8)]

    def summary(runs):
        return np.array([[_auc(r, yl), r[yl].mean(), r[~yl].mean()] for r in runs])

    so, st = summary(ours), summary(theirs)
    assert (so[:, 0] > 0.99).all() and (st[:, 0] > 0.99).all()
    # seed-averaged ROC-AUC and mean scores on anomalous and normal points agree
    assert (np.abs(so.mean(axis=0) - st.mean(axis=0)) < [0.002, 0.03, 0.04]).all(), (so, st)
    # two forests of random trees never rank alike; ours agrees with river as river with itself
    rho = stats.spearmanr(ours[0], theirs[0]).statistic
    rho_river = stats.spearmanr(theirs[1], theirs[0]).statistic
    assert rho > 0.6 and abs(rho - rho_river) < 0.1
    # and the pooled score distributions on normal points are alike
    pooled_o = np.concatenate([r[~yl] for r in ours])
    pooled_t = np.concatenate([r[~yl] for r in theirs])
    assert stats.ks_2samp(pooled_o, pooled_t).statistic < 0.1


def test_batch_path_matches_one_at_a_time():
    X, _ = _stream(1200, 4, seed=3)
    X[1::50, 1] = np.nan  # missing values (not in the first row: it names the features)
    cols = [f"f{j}" for j in range(4)]
    one = HalfSpaceTrees(n_trees=7, height=6, window_size=64, seed=5)
    xs = [{c: v for c, v in zip(cols, row) if not np.isnan(v)} for row in X]
    expect = _prequential(one, xs)
    batch = HalfSpaceTrees(n_trees=7, height=6, window_size=64, seed=5)
    got = np.concatenate([batch.score_learn_many(X[:500], columns=cols),
                          batch.score_learn_many(X[500:])])
    np.testing.assert_array_equal(got, expect)
    assert batch.counter == one.counter


def test_fused_score_learn_one_matches_separate_calls():
    X, _ = _stream(800, 4, seed=8)
    xs = _dicts(X)
    for i in range(3, len(xs), 41):
        xs[i].pop("f2")
    a = HalfSpaceTrees(n_trees=6, height=7, window_size=60, seed=2)
    b = HalfSpaceTrees(n_trees=6, height=7, window_size=60, seed=2)
    np.testing.assert_array_equal([b.score_learn_one(x) for x in xs], _prequential(a, xs))


def test_batch_path_reorders_named_columns():
    X, _ = _stream(600, 3, seed=9)
    a = HalfSpaceTrees(n_trees=4, height=5, window_size=50, seed=1)
    b = HalfSpaceTrees(n_trees=4, height=5, window_size=50, seed=1)
    sa = a.score_learn_many(X, columns=["a", "b", "c"])
    sb = b.score_learn_many(X[:, ::-1], columns=["c", "b", "a"])
    np.testing.assert_array_equal(sa, sb)


def test_batch_path_validates_input():
    hst = HalfSpaceTrees(seed=1)
    with pytest.raises(ValueError, match="columns are required"):
        hst.score_learn_many(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="must be 2-D"):
        hst.score_learn_many(np.zeros(3), columns=["a"])
    hst.score_learn_many(np.zeros((3, 2)), columns=["a", "b"])
    with pytest.raises(ValueError, match="3 columns, expected 2"):
        hst.score_learn_many(np.zeros((3, 3)))


@pytest.mark.parametrize("kw, match", [({"n_trees": 0}, "n_trees"), ({"height": -1}, "height"),
                                       ({"window_size": 2.5}, "window_size"),
                                       ({"limits": {"a": (1.0, 0.0)}}, "limits")])
def test_bad_parameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        HalfSpaceTrees(**kw)


def test_snapshot_mid_window_resumes_identically():
    X, _ = _stream(900, 3, seed=2)
    xs = _dicts(X)
    hst = HalfSpaceTrees(n_trees=6, height=7, window_size=100, seed=4)
    _prequential(hst, xs[:450])
    twin = pickle.loads(pickle.dumps(hst))
    np.testing.assert_array_equal(_prequential(hst, xs[450:]), _prequential(twin, xs[450:]))
