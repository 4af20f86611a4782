"""Numba Half-Space Trees vs river's ``anomaly.HalfSpaceTrees``, side by side in one run.

Both get the same stream (10 features in [0, 1], 2 % injected anomalies displaced by about 3 sigma in three features) with
n_trees=25, height=15, window_size=250. Timed: prequential score+learn per
sample after the trees are grown (growing is timed separately), for our
dict API (``score_one`` + ``learn_one``), the fused ``score_learn_one`` (one descent
per tree), our batch path (``score_learn_many``), and river. Then score equivalence: with the same seed
(identical trees, so scores must be equal) and with different seeds
(ROC-AUC, Spearman rank correlation, mean scores on normal/anomalous points).

Run: ``.venv/bin/python benchmarks/bench_hst.py [--samples N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.models.hst import HalfSpaceTrees  # noqa: E402

PARAMS = {"n_trees": 25, "height": 15, "window_size": 250}
N_FEATURES = 10


def stream(n: int, d: int = N_FEATURES, rate: float = 0.02, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.clip(rng.normal(0.5, 0.06, (n, d)), 0, 1)
    y = rng.random(n) < rate
    y[:PARAMS["window_size"]] = False
    X[y, :3] += rng.choice([-0.2, 0.2], (int(y.sum()), 3))  # ~3 sigma off in three features
    return np.clip(X, 0, 1), y


def prequential(model, xs) -> tuple[np.ndarray, float]:
    out = np.empty(len(xs))
    t0 = time.perf_counter()
    for i, x in enumerate(xs):
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out, time.perf_counter() - t0


def auc(scores, y) -> float:
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1 = int(y.sum())
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3000, help="timed samples (after one warm-up sample)")
    args = ap.parse_args(argv)
    from river import anomaly
    from scipy.stats import spearmanr

    X, y = stream(args.samples + 1)
    cols = [f"f{j}" for j in range(N_FEATURES)]
    xs = [dict(zip(cols, map(float, row))) for row in X]
    print(f"stream: {len(xs)} samples x {N_FEATURES} features, {int(y.sum())} anomalies; params {PARAMS}")

    # grow the trees on the first sample (not part of the per-sample figures)
    ours, fused, batch = (HalfSpaceTrees(**PARAMS, seed=1) for _ in range(3))
    theirs = anomaly.HalfSpaceTrees(**PARAMS, seed=1)
    t0 = time.perf_counter()
    ours.learn_one(xs[0])
    t_grow_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs.learn_one(xs[0])
    t_grow_river = time.perf_counter() - t0
    fused.learn_one(xs[0])
    batch.learn_one(xs[0])
    for m in (ours, fused, batch):  # load the compiled kernels (cached on disk after the first run)
        m.clone().score_learn_many(X[:2], columns=cols)
        m.clone().score_learn_one(xs[0])

    # the machine is shared: time the variants in alternating blocks so that load hits them alike
    s_ours, s_river, s_fused, s_batch = [], [], [], []
    t_ours = t_river = t_fused = t_batch = 0.0
    block = 100
    for start in range(1, len(xs), block):
        part = xs[start:start + block]
        s, t = prequential(theirs, part)
        s_river.append(s)
        t_river += t
        s, t = prequential(ours, part)
        s_ours.append(s)
        t_ours += t
        t0 = time.perf_counter()
        s_fused.append([fused.score_learn_one(x) for x in part])
        t_fused += time.perf_counter() - t0
        t0 = time.perf_counter()
        s_batch.append(batch.score_learn_many(X[start:start + block]))
        t_batch += time.perf_counter() - t0
    s_ours, s_river, s_fused, s_batch = (np.concatenate(v) for v in (s_ours, s_river, s_fused, s_batch))

    n = len(xs) - 1
    us = lambda t: 1e6 * t / n  # noqa: E731
    print(f"\ntree growing (first learn_one): ours {t_grow_ours * 1e3:.0f} ms, river {t_grow_river * 1e3:.0f} ms")
    print("score_one + learn_one per sample:")
    print(f"  river HalfSpaceTrees          {us(t_river):9.1f} us")
    print(f"  ours, dict API                {us(t_ours):9.1f} us   speed-up {t_river / t_ours:6.1f}x")
    print(f"  ours, score_learn_one (fused) {us(t_fused):9.1f} us   speed-up {t_river / t_fused:6.1f}x")
    print(f"  ours, score_learn_many batch  {us(t_batch):9.1f} us   speed-up {t_river / t_batch:6.1f}x")

    print("\nscore equivalence")
    print(f"  same seed (identical trees): max |ours - river| = {np.max(np.abs(s_ours - s_river)):.3g}, "
          f"batch, fused vs dict max diff = {np.max(np.abs(s_batch - s_ours)):.3g}, "
          f"{np.max(np.abs(s_fused - s_ours)):.3g}")
    m = min(n, 3000)
    other, _ = prequential(anomaly.HalfSpaceTrees(**PARAMS, seed=2), xs[:m])
    other2, _ = prequential(anomaly.HalfSpaceTrees(**PARAMS, seed=3), xs[:m])
    mine, _ = prequential(HalfSpaceTrees(**PARAMS, seed=4), xs[:m])
    live = slice(PARAMS["window_size"], m)
    yl = y[:m][live]
    print(f"  different seeds, first {m} samples (ours seed 4 vs river seeds 2, 3):")
    print(f"    ROC-AUC       ours {auc(mine[live], yl):.4f}   river {auc(other[live], yl):.4f} / "
          f"{auc(other2[live], yl):.4f}")
    print(f"    Spearman rho  ours~river {spearmanr(mine[live], other[live]).statistic:.3f}   "
          f"river~river {spearmanr(other2[live], other[live]).statistic:.3f}")
    for label, mask in (("normal", ~yl), ("anomalous", yl)):
        print(f"    mean score on {label:9s} ours {mine[live][mask].mean():.3f}   river "
              f"{other[live][mask].mean():.3f} / {other2[live][mask].mean():.3f}")


if __name__ == "__main__":
    main()
