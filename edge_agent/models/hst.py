"""Half-Space Trees with numba kernels: river's algorithm, trees stored as arrays."""

from __future__ import annotations

import math
import random

import numpy as np
from numba import njit

from edge_agent.models.base import Estimator

_PADDING = 0.15  # river.tree.padded: splits avoid the outer 15 % of a node's range


# ------------------------------------------------------------------ kernels
# Trees use heap layout: node i has children 2i+1 and 2i+2; the first
# 2**height - 1 nodes are branches, the rest leaves. ``split[t, i]`` holds
# (threshold, feature index) of branch i of tree t, ``mass[t, i]`` the
# (latest ``l_mass``, reference ``r_mass``) counts of node i. A NaN feature
# value means "missing".


@njit(cache=True)
def _build(u, lo0, hi0, height, feat, thr):
    """Grow every tree from river's random numbers, consumed in the same order.

    river's ``make_padded_tree`` visits branches in pre-order and for each
    draws ``rng.choices(features, weights=widths)`` (one ``random()``) then
    ``rng.uniform(a, b)`` (another), so ``u[t, 2k]`` and ``u[t, 2k + 1]`` are
    the draws of the ``k``-th branch visited in pre-order.
    """
    n_trees, n_branch = feat.shape
    nf = lo0.shape[0]
    lo = np.empty((max(n_branch, 1), nf))
    hi = np.empty((max(n_branch, 1), nf))
    cum = np.empty(nf)
    stack = np.empty(height + 2, dtype=np.int64)
    for t in range(n_trees):
        if n_branch == 0:
            continue
        lo[0, :] = lo0
        hi[0, :] = hi0
        top = 0
        stack[0] = 0
        k = 0
        while top >= 0:
            node = stack[top]
            top -= 1
            # random.choices: cumulative weights, bisect_right(cum, r * total, 0, nf - 1)
            acc = 0.0
            for j in range(nf):
                acc += hi[node, j] - lo[node, j]
                cum[j] = acc
            r = u[t, 2 * k] * (cum[nf - 1] + 0.0)
            a, b = 0, nf - 1
            while a < b:
                mid = (a + b) // 2
                if r < cum[mid]:
                    b = mid
                else:
                    a = mid + 1
            on = a
            # random.uniform(a + p (b - a), b - p (b - a))
            la, lb = lo[node, on], hi[node, on]
            ua = la + _PADDING * (lb - la)
            ub = lb - _PADDING * (lb - la)
            at = ua + (ub - ua) * u[t, 2 * k + 1]
            feat[t, node] = on
            thr[t, node] = at
            k += 1
            left, right = 2 * node + 1, 2 * node + 2
            if left < n_branch:
                lo[left, :] = lo[node, :]
                hi[left, :] = hi[node, :]
                hi[left, on] = at
                lo[right, :] = lo[node, :]
                hi[right, :] = hi[node, :]
                lo[right, on] = at
                top += 1
                stack[top] = right  # pushed first, visited after the whole left subtree
                top += 1
                stack[top] = left


@njit(cache=True)
def _route(split, mass, t, node, x):
    """Child of branch ``node`` of tree ``t`` on the way of ``x``."""
    v = x[int(split[t, node, 1])]
    left = 2 * node + 1
    if math.isnan(v):  # missing: follow the child with more mass in the latest window, as river does
        return left + 1 if mass[t, left, 0] < mass[t, left + 1, 0] else left
    return left if v < split[t, node, 0] else left + 1


# The walks go level by level across all trees rather than tree by tree: the
# trees' memory accesses are independent, so the CPU overlaps their cache
# misses (deep levels of height-15 trees are far apart in memory). Masses
# are integers, so the order of summation does not change the score.


@njit(cache=True)
def _walk(split, mass, height, size_limit, x, score, learn):
    """Score (reference masses) and/or learn (latest masses) ``x`` in one descent."""
    n_trees = split.shape[0]
    node = np.zeros(n_trees, dtype=np.int64)
    active = np.ones(n_trees, dtype=np.bool_)
    total = 0.0
    depth_pow = 1
    for _ in range(height):
        for t in range(n_trees):
            nd = node[t]
            if score and active[t]:
                r = mass[t, nd, 1]
                total += r * depth_pow
                if r < size_limit:
                    active[t] = False
            if learn:
                mass[t, nd, 0] += 1
            if learn or active[t]:
                node[t] = _route(split, mass, t, nd, x)
        depth_pow <<= 1
    for t in range(n_trees):
        if score and active[t]:
            total += mass[t, node[t], 1] * depth_pow
        if learn:
            mass[t, node[t], 0] += 1
    return total


@njit(cache=True)
def _pivot(mass):
    """The latest window becomes the reference; a new latest window starts empty."""
    for t in range(mass.shape[0]):
        for i in range(mass.shape[1]):
            mass[t, i, 1] = mass[t, i, 0]
            mass[t, i, 0] = 0


@njit(cache=True)
def _score_learn_many(split, mass, height, size_limit, max_score, window_size, counter, first_window, X):
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        total = _walk(split, mass, height, size_limit, X[i], not first_window, True)
        if not first_window:
            out[i] = 1.0 - total / max_score
        counter += 1
        if counter == window_size:
            _pivot(mass)
            first_window = False
            counter = 0
    return out, counter, first_window


# -------------------------------------------------------------------- model
class HalfSpaceTrees(Estimator):
    """Half-Space Trees anomaly detector, river's algorithm on numba kernels.

    The same algorithm, parameters and score as river's
    ``anomaly.HalfSpaceTrees`` (Tan, Ting & Liu 2011): random half-space
    splits of the feature box, each node counting the observations of the
    latest window (``l_mass``); every ``window_size`` observations the latest
    counts become the reference (``r_mass``). The score walks each tree
    accumulating ``r_mass * 2**depth`` until a node's reference mass falls
    below ``0.1 * window_size``, and is returned as
    ``1 - total / (n_trees * window_size * (2**(height + 1) - 1))`` so that
    higher means more anomalous; it is 0 during the first window. Trees are
    grown on the first ``learn_one`` from the features of that observation,
    with the very random numbers river draws for the same ``seed``, so the
    trees -- and the scores -- are identical to river's.

    Features must lie in ``[0, 1]`` (or in ``limits``); put a
    :class:`~edge_agent.models.scalers.MinMaxScaler` in front otherwise. A
    missing feature (or a NaN value) follows the child with more mass in the
    latest window, as in river; features unseen at the first ``learn_one``
    are ignored.

    Parameters
    ----------
    n_trees : int
        Number of trees.
    height : int
        Height of each tree (``2**(height + 1) - 1`` nodes).
    window_size : int
        Observations per window (reference/latest mass swap period).
    limits : dict of str to (float, float) or None
        Range of each feature; ``(0, 1)`` where not given.
    seed : int or None
        Seed of the tree-growing ``random.Random``.

    Examples
    --------
    >>> hst = HalfSpaceTrees(n_trees=5, height=3, window_size=3, seed=42)
    >>> X = [0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0]
    >>> for x in X[:3]:
    ...     hst.learn_one({"x": x})
    >>> for x in X:
    ...     hst.learn_one({"x": x})
    ...     print(f"{x:.3f}: {hst.score_one({'x': x}):.3f}")
    0.500: 0.107
    0.450: 0.071
    0.430: 0.107
    0.440: 0.107
    0.445: 0.107
    0.450: 0.071
    0.000: 0.853

    These are the numbers of river's own docstring example.
    """

    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 limits: dict | None = None, seed: int | None = None) -> None:
        for name, value, low in (("n_trees", n_trees, 1), ("height", height, 0), ("window_size", window_size, 1)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if height > 24:
            raise ValueError(f"height must be <= 24 (2**(height+1) nodes per tree), got {height}")
        if limits is not None:
            for k, v in limits.items():
                if len(v) != 2 or not float(v[0]) < float(v[1]):
                    raise ValueError(f"limits[{k!r}] must be (low, high) with low < high, got {v!r}")
        self.n_trees = int(n_trees)
        self.height = int(height)
        self.window_size = int(window_size)
        self.limits = dict(limits) if limits is not None else None
        self.seed = seed
        self.counter = 0
        self._first_window = True
        self._features: tuple = ()
        self._split = self._mass = None  # (tree, branch, [threshold, feature]), (tree, node, [l, r])

    # ------------------------------------------------------------ properties
    @property
    def size_limit(self) -> float:
        """Reference mass under which the scoring walk stops (0.1 window, from the paper)."""
        return 0.1 * self.window_size

    @property
    def _max_score(self) -> float:
        return float(self.n_trees * self.window_size * (2 ** (self.height + 1) - 1))

    @property
    def feature_names(self) -> tuple:
        """Features the trees split on (sorted keys of the first learnt observation)."""
        return self._features

    # ----------------------------------------------------------------- trees
    def _grow(self, names) -> None:
        self._features = tuple(sorted(names))
        limits = self.limits or {}
        lo0 = np.array([float(limits.get(f, (0.0, 1.0))[0]) for f in self._features])
        hi0 = np.array([float(limits.get(f, (0.0, 1.0))[1]) for f in self._features])
        n_branch, n_nodes = 2**self.height - 1, 2 ** (self.height + 1) - 1
        rng = random.Random(self.seed)
        draw = rng.random
        u = np.array([draw() for _ in range(self.n_trees * 2 * n_branch)]).reshape(self.n_trees, -1)
        feat = np.zeros((self.n_trees, n_branch), dtype=np.int64)
        thr = np.zeros((self.n_trees, n_branch))
        _build(u, lo0, hi0, self.height, feat, thr)
        # one record per node, so that a visit touches one cache line per array
        self._split = np.ascontiguousarray(np.stack([thr, feat.astype(np.float64)], axis=-1))
        self._mass = np.zeros((self.n_trees, n_nodes, 2), dtype=np.int32)

    def _vector(self, x: dict) -> np.ndarray:
        nan = math.nan
        return np.array([x.get(f, nan) for f in self._features], dtype=np.float64)

    def _pivot(self) -> None:
        self.counter += 1
        if self.counter == self.window_size:
            _pivot(self._mass)
            self._first_window = False
            self.counter = 0

    # ------------------------------------------------------------- protocol
    def learn_one(self, x: dict) -> None:
        """Add one observation to the latest window of every tree."""
        if self._split is None:
            if not x:
                return  # nothing to split on yet
            self._grow(x)
        _walk(self._split, self._mass, self.height, self.size_limit, self._vector(x), False, True)
        self._pivot()

    def score_one(self, x: dict) -> float:
        """Anomaly score in ``[0, 1]``, higher is more anomalous (0 in the first window)."""
        if self._first_window:
            return 0.0
        total = _walk(self._split, self._mass, self.height, self.size_limit, self._vector(x), True, False)
        return 1.0 - total / self._max_score

    def score_learn_one(self, x: dict) -> float:
        """``score_one(x)`` then ``learn_one(x)`` in a single descent of each tree (same results)."""
        if self._split is None:
            self.learn_one(x)
            return 0.0
        first = self._first_window
        total = _walk(self._split, self._mass, self.height, self.size_limit, self._vector(x), not first, True)
        self._pivot()
        return 0.0 if first else 1.0 - total / self._max_score

    def score_learn_many(self, X, columns=None) -> np.ndarray:
        """Score then learn each row in turn; the same as a ``score_one``/``learn_one`` loop.

        Parameters
        ----------
        X : array_like, shape (n, k)
            Observations, one per row; NaN marks a missing value.
        columns : sequence of str or None
            Feature name of each column. Required before the first learn;
            ``None`` afterwards means the columns are :attr:`feature_names`.

        Returns
        -------
        numpy.ndarray, shape (n,)
            The score of each row before it was learnt.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (observations x features), got shape {X.shape}")
        if columns is None:
            if self._split is None:
                raise ValueError("columns are required before the first learn (trees not grown yet)")
            if X.shape[1] != len(self._features):
                raise ValueError(f"X has {X.shape[1]} columns, expected {len(self._features)} "
                                 f"({list(self._features)})")
            Xi = np.ascontiguousarray(X)
        else:
            columns = list(columns)
            if len(columns) != X.shape[1]:
                raise ValueError(f"{len(columns)} column names for {X.shape[1]} columns")
            if self._split is None:
                self._grow(columns)
            where = {c: j for j, c in enumerate(columns)}
            Xi = np.full((X.shape[0], len(self._features)), np.nan)
            for i, f in enumerate(self._features):
                if f in where:
                    Xi[:, i] = X[:, where[f]]
        scores, self.counter, self._first_window = _score_learn_many(
            self._split, self._mass, self.height, self.size_limit, self._max_score, self.window_size,
            self.counter, self._first_window, Xi)
        return scores
