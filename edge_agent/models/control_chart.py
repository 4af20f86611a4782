"""Statistical process control charts as online detectors: EWMA and Hotelling T²."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from edge_agent.models.base import Estimator, finite_or_none as _finite




def _check(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


class EWMAChart(Estimator):
    """EWMA control chart on standardised features; the score is the largest standardised EWMA.

    Each feature is standardised by a robust running mean and standard
    deviation (Welford, with each learnt value first winsorised to
    ``mean ± clip·std`` so that an outlier learnt by mistake barely moves the
    baseline). The chart keeps ``e = lam·z + (1 − lam)·e`` per feature;
    ``score_one(x)`` is ``max |e'| / sqrt(lam / (2 − lam))`` where ``e'`` is
    the EWMA *if* ``x`` were the next point, so in control each term is
    approximately standard normal. ``learn_one`` advances the chart.

    Control limit: 3 (the usual ``L``; Lucas & Saccucci give an in-control
    ARL of about 370 points for ``lam = 0.2, L = 2.86`` on one feature).
    :meth:`control_limit` gives the Bonferroni normal quantile for a
    per-point false-alarm rate over ``p`` features.

    Parameters
    ----------
    lam : float
        EWMA weight of the newest point, in ``(0, 1]`` (1 is a Shewhart chart).
    warmup : int
        Observations learnt before the chart runs (score 0 until then).
    clip : float
        Winsorising bound, in standard deviations, of learnt values.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> chart = EWMAChart(lam=0.2, warmup=50)
    >>> for _ in range(300):
    ...     chart.learn_one({"rms": rng.gauss(1.0, 0.1)})
    >>> chart.score_one({"rms": 1.0}) < 3
    True
    >>> for _ in range(10):  # a sustained shift of two standard deviations
    ...     chart.learn_one({"rms": 1.2})
    >>> chart.score_one({"rms": 1.2}) > chart.control_limit(alpha=0.0027, p=1)
    True
    """

    def __init__(self, lam: float = 0.2, warmup: int = 30, clip: float = 4.0) -> None:
        _check("lam", lam, isinstance(lam, (int, float)) and 0 < lam <= 1, "in (0, 1]")
        _check("warmup", warmup, isinstance(warmup, int) and warmup >= 2, "an integer >= 2")
        _check("clip", clip, isinstance(clip, (int, float)) and clip > 0, "> 0")
        self.lam = float(lam)
        self.warmup = warmup
        self.clip = float(clip)
        self._n: dict = {}
        self._mean: dict = {}
        self._m2: dict = {}
        self._ewma: dict = {}

    @staticmethod
    def control_limit(alpha: float = 0.0027, p: int = 1) -> float:
        """Two-sided normal quantile for a per-point false-alarm rate ``alpha`` over ``p`` features."""
        return NormalDist().inv_cdf(1.0 - alpha / (2.0 * p))

    def _z(self, k, f: float) -> float | None:
        n = self._n.get(k, 0)
        if n < self.warmup:
            return None
        std = math.sqrt(self._m2[k] / (n - 1))
        floor = 1e-9 * max(abs(self._mean[k]), 1.0)
        return (f - self._mean[k]) / max(std, floor)

    def score_one(self, x: dict) -> float:
        """Largest ``|EWMA| / sd(EWMA)`` over the features, had ``x`` been the next point."""
        scale = math.sqrt(self.lam / (2.0 - self.lam))
        best = 0.0
        for k, v in x.items():
            f = _finite(v)
            z = None if f is None else self._z(k, f)
            if z is not None:
                best = max(best, abs(self.lam * z + (1.0 - self.lam) * self._ewma.get(k, 0.0)) / scale)
        return best

    def learn_one(self, x: dict) -> None:
        """Advance the chart with ``x`` and update the (winsorised) baseline."""
        for k, v in x.items():
            f = _finite(v)
            if f is None:
                continue
            z = self._z(k, f)
            if z is not None:
                self._ewma[k] = self.lam * z + (1.0 - self.lam) * self._ewma.get(k, 0.0)
                std = math.sqrt(self._m2[k] / (self._n[k] - 1))
                f = min(max(f, self._mean[k] - self.clip * std), self._mean[k] + self.clip * std)
            n = self._n.get(k, 0) + 1
            mean = self._mean.get(k, 0.0)
            delta = f - mean
            mean += delta / n
            self._n[k], self._mean[k] = n, mean
            self._m2[k] = self._m2.get(k, 0.0) + delta * (f - mean)


class HotellingT2(Estimator):
    """Hotelling T² chart: Mahalanobis distance to an online mean and shrunk covariance.

    The mean and covariance are learnt with Welford's algorithm over the
    features of the first learnt observation (sorted) or ``features``. The
    covariance ``S`` is shrunk towards a scaled identity, Ledoit-Wolf style
    with a fixed intensity: ``(1 − shrinkage)·S + shrinkage·(tr S / p)·I``,
    which keeps it invertible with few points or collinear features. A
    missing or non-finite value is replaced by its running mean (so it adds
    nothing to T²); features not in the model are ignored. A learnt point
    farther than ``clip`` (in Mahalanobis distance) is pulled in to ``clip``
    before it updates the estimates.

    Control limit: T² of an in-control point is approximately chi-square
    with ``p`` degrees of freedom, so :meth:`control_limit` returns the
    ``1 − alpha`` chi-square quantile (for a short baseline of ``n`` points the
    exact phase-II limit is ``p(n+1)(n−1) / (n(n−p)) · F(p, n−p)``, larger).

    Parameters
    ----------
    features : tuple of str or None
        Features to use; ``None`` takes the keys of the first learnt dict.
    shrinkage : float
        Weight of the scaled identity in ``[0, 1]``.
    warmup : int
        Observations learnt before scores are non-zero.
    clip : float or None
        Mahalanobis winsorising radius of learnt points (``None``: off).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t2 = HotellingT2(warmup=50)
    >>> for a, b in rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 500):
    ...     t2.learn_one({"a": a, "b": b})
    >>> limit = t2.control_limit(alpha=0.001)
    >>> round(limit, 2)
    13.82
    >>> t2.score_one({"a": 1.0, "b": 1.0}) < limit  # along the correlation
    True
    >>> t2.score_one({"a": 1.0, "b": -1.0}) > limit  # against it
    True
    """

    def __init__(self, features: tuple | None = None, shrinkage: float = 0.05, warmup: int = 30,
                 clip: float | None = 6.0) -> None:
        _check("shrinkage", shrinkage, isinstance(shrinkage, (int, float)) and 0 <= shrinkage <= 1, "in [0, 1]")
        _check("warmup", warmup, isinstance(warmup, int) and warmup >= 2, "an integer >= 2")
        _check("clip", clip, clip is None or (isinstance(clip, (int, float)) and clip > 0), "> 0 or None")
        self.features = tuple(features) if features is not None else None
        self.shrinkage = float(shrinkage)
        self.warmup = warmup
        self.clip = clip
        self._names: tuple | None = self.features
        self._n = 0
        self._mean = self._m2 = self._inv = None

    @property
    def n_features(self) -> int:
        """Number of features in the model (0 before the first learn)."""
        return len(self._names or ())

    def control_limit(self, alpha: float = 0.0027) -> float:
        """``1 − alpha`` quantile of chi-square with :attr:`n_features` degrees of freedom."""
        from scipy.special import chdtri  # lazy: scipy.special only, not scipy.stats

        return float(chdtri(max(self.n_features, 1), alpha))

    def _vector(self, x: dict) -> np.ndarray:
        v = np.array([x.get(k, math.nan) for k in self._names], dtype=np.float64)
        bad = ~np.isfinite(v)
        v[bad] = self._mean[bad] if self._mean is not None else 0.0
        return v

    def _t2(self, d: np.ndarray) -> float:
        return float(d @ self._inv @ d)

    def score_one(self, x: dict) -> float:
        """T² of ``x`` (0 during warm-up)."""
        if self._inv is None:
            return 0.0
        return self._t2(self._vector(x) - self._mean)

    def learn_one(self, x: dict) -> None:
        """Update the running mean and covariance with ``x``."""
        if self._names is None:
            if not x:
                return
            self._names = tuple(sorted(x))
        p = len(self._names)
        if self._mean is None:
            self._mean, self._m2 = np.zeros(p), np.zeros((p, p))
        v = self._vector(x)
        if self._inv is not None and self.clip is not None:
            t2 = self._t2(v - self._mean)
            if t2 > self.clip**2:
                v = self._mean + (v - self._mean) * (self.clip / math.sqrt(t2))
        self._n += 1
        delta = v - self._mean
        self._mean = self._mean + delta / self._n
        self._m2 = self._m2 + np.outer(delta, v - self._mean)
        if self._n >= self.warmup:
            s = self._m2 / (self._n - 1)
            target = max(np.trace(s) / p, 1e-300)
            reg = (1.0 - self.shrinkage) * s + (self.shrinkage * target + 1e-12 * target) * np.eye(p)
            self._inv = np.linalg.inv(reg)
