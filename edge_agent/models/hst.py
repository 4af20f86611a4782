"""Half-Space Trees on compiled kernels: river's algorithm, trees stored as arrays."""

from __future__ import annotations

import math
import random

import numpy as np

from edge_agent.kernels import load
from edge_agent.models.base import Estimator

_k = load()  # Half-Space-Trees kernels: edge_agent/kernels/source.py (hst_*), trees stored as arrays


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
        self._split = self._mass = None  # (tree, branch, [threshold, feature]), (tree, node, 2 mass planes)
        self._touched = None  # per plane and tree: the nodes a learn made non-zero (kernels/source.py, hst_touch)
        self._lat = 0
        self._size_limit = self.size_limit
        self._max_score_f = self._max_score
        self._fresh_caches()

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
        _k.hst_build(u, lo0, hi0, self.height, feat, thr)
        # one record per node, so that a visit touches one cache line per array
        self._split = np.ascontiguousarray(np.stack([thr, feat.astype(np.float64)], axis=-1))
        self._mass = np.zeros((self.n_trees, n_nodes, 2), dtype=np.int32)
        self._lat = 0  # mass plane of the latest window; the other holds the reference
        self._touched = self._touched_lists(self._mass)
        self._size_limit = self.size_limit
        self._max_score_f = self._max_score
        self._fresh_caches()

    def _vector(self, x: dict) -> np.ndarray:
        """``x`` as the trees' feature vector (NaN where missing), in a buffer reused between calls.

        A pipeline's feature dicts keep one key order, so the order of the
        last dict is cached: the values are then read straight into the
        buffer (through a fixed permutation) instead of one lookup per name.
        """
        keys = tuple(x)
        if keys != self._keys:
            self._keys = keys
            where = {k: i for i, k in enumerate(keys)}
            pos = [where.get(f, -1) for f in self._features]
            self._perm = None if pos == list(range(len(keys))) else pos
        buf = self._buf
        if self._perm is None:
            buf[:] = tuple(x.values())
        else:
            vals = tuple(x.values())
            for i, j in enumerate(self._perm):
                buf[i] = vals[j] if j >= 0 else math.nan
        return buf

    def _touched_lists(self, mass: np.ndarray) -> np.ndarray:
        """The lists of non-zero nodes of each mass plane and tree, so that a pivot clears only those.

        A window of ``window_size`` learns makes at most ``height + 1`` nodes
        per tree non-zero each; a list that would overflow says ``-1`` and the
        pivot clears its whole plane.
        """
        n_trees, n_nodes, _ = mass.shape
        cap = min(n_nodes, self.window_size * (self.height + 1))
        touched = np.zeros((2, n_trees, cap + 1), dtype=np.int32)
        for plane in range(2):
            for t in range(n_trees):
                nz = np.flatnonzero(mass[t, :, plane])
                if nz.size > cap:
                    touched[plane, t, 0] = -1
                else:
                    touched[plane, t, 0] = nz.size
                    touched[plane, t, 1:nz.size + 1] = nz
        return touched

    def _pivot(self) -> None:
        self.counter += 1
        if self.counter == self.window_size:
            self._lat = 1 - self._lat  # the latest window becomes the reference; a new one starts empty
            _k.hst_pivot(self._mass, self._lat, self._touched)
            self._first_window = False
            self.counter = 0

    def _fresh_caches(self) -> None:
        n = len(self._features)
        self._keys, self._perm = None, None
        self._buf = np.empty(n)
        self._path = np.zeros((self.n_trees, self.height + 1), dtype=np.int64)
        self._scored = None  # (items of x, learn count) of the last score_one, whose way is in _path
        self._learnt = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for k in ("_keys", "_perm", "_buf", "_path", "_scored", "_touched"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_lat", 0)  # pickled before the planes swapped: latest in plane 0
        state.setdefault("_learnt", 0)
        self.__dict__.update(state)
        self._touched = None if self._mass is None else self._touched_lists(self._mass)
        self._size_limit = self.size_limit
        self._max_score_f = self._max_score
        self._fresh_caches()

    # ------------------------------------------------------------- protocol
    def learn_one(self, x: dict) -> None:
        """Add one observation to the latest window of every tree.

        Right after ``score_one`` of the same observation (same keys and
        values) it reuses the way that score recorded: one count per node,
        no routing.
        """
        if self._split is None:
            if not x:
                return  # nothing to split on yet
            self._grow(x)
        scored = self._scored
        if scored is not None and scored[1] == self._learnt and scored[0] == tuple(x.items()):
            _k.hst_learn_path(self._mass, self._path, self._lat, self._touched)
        else:
            _k.hst_walk(self._split, self._mass, self.height, self._size_limit, self._vector(x), False, True,
                        self._lat, self._touched)
        self._scored = None
        self._learnt += 1
        self._pivot()

    def score_one(self, x: dict) -> float:
        """Anomaly score in ``[0, 1]``, higher is more anomalous (0 in the first window)."""
        if self._first_window:
            return 0.0
        total = _k.hst_score_path(self._split, self._mass, self.height, self._size_limit, self._vector(x),
                                  self._lat, self._path)
        self._scored = (tuple(x.items()), self._learnt)
        return 1.0 - total / self._max_score_f

    def score_learn_one(self, x: dict) -> float:
        """``score_one(x)`` then ``learn_one(x)`` in a single descent of each tree (same results)."""
        if self._split is None:
            self.learn_one(x)
            return 0.0
        first = self._first_window
        total = _k.hst_walk(self._split, self._mass, self.height, self._size_limit, self._vector(x), not first,
                            True, self._lat, self._touched)
        self._scored = None
        self._learnt += 1
        self._pivot()
        return 0.0 if first else 1.0 - total / self._max_score_f

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
        scores, self.counter, self._first_window, self._lat = _k.hst_score_learn_many(
            self._split, self._mass, self.height, self.size_limit, self._max_score, self.window_size,
            self.counter, self._first_window, Xi, self._lat, self._touched)
        self._scored = None
        self._learnt += Xi.shape[0]
        return scores
