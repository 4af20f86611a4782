"""Online feature scalers in river's transformer protocol (``learn_one``, ``transform_one``)."""

from __future__ import annotations

import math

from edge_agent.models.base import Estimator, finite_or_none as _finite




class MinMaxScaler(Estimator):
    """Scale each feature to ``[0, 1]`` by the running minimum and maximum.

    As river's ``preprocessing.MinMaxScaler``: ``(x - min) / (max - min)``,
    0 while a feature has not varied. A value outside the range seen so far
    maps outside ``[0, 1]`` unless ``clip`` is set. A feature never learnt
    passes as 0; non-finite values are not learnt and pass through unchanged
    so the detector sees them as they are.

    Parameters
    ----------
    clip : bool
        Clip transformed values to ``[0, 1]``.

    Examples
    --------
    >>> s = MinMaxScaler()
    >>> for v in (2.0, 4.0, 3.0):
    ...     s.learn_one({"rms": v})
    >>> s.transform_one({"rms": 3.5})
    {'rms': 0.75}
    >>> s.transform_one({"rms": 9.0})
    {'rms': 3.5}
    >>> c = MinMaxScaler(clip=True)
    >>> c.learn_one({"rms": 2.0}); c.learn_one({"rms": 4.0})
    >>> c.transform_one({"rms": 9.0})
    {'rms': 1.0}
    """

    def __init__(self, clip: bool = False) -> None:
        self.clip = bool(clip)
        self._min: dict = {}
        self._max: dict = {}

    def learn_one(self, x: dict) -> None:
        """Widen the range of each feature to include ``x``."""
        for k, v in x.items():
            f = _finite(v)
            if f is None:
                continue
            if k in self._min:
                if f < self._min[k]:
                    self._min[k] = f
                if f > self._max[k]:
                    self._max[k] = f
            else:
                self._min[k] = self._max[k] = f

    def transform_one(self, x: dict) -> dict:
        """Scaled copy of ``x`` (the input is not modified)."""
        out = {}
        for k, v in x.items():
            f = _finite(v)
            if f is None:
                out[k] = v
                continue
            lo, hi = self._min.get(k, f), self._max.get(k, f)
            z = (f - lo) / (hi - lo) if hi > lo else 0.0
            out[k] = min(max(z, 0.0), 1.0) if self.clip else z
        return out


class StandardScaler(Estimator):
    """Standardise each feature by its running mean and standard deviation.

    As river's ``preprocessing.StandardScaler``: Welford's mean and
    (population) variance, ``(x - mean) / std``, 0 while the variance is 0.

    Parameters
    ----------
    with_std : bool
        Divide by the standard deviation (otherwise only centre).

    Examples
    --------
    >>> s = StandardScaler()
    >>> for v in (1.0, 2.0, 3.0, 4.0):
    ...     s.learn_one({"t": v})
    >>> round(s.transform_one({"t": 5.0})["t"], 4)
    2.2361
    """

    def __init__(self, with_std: bool = True) -> None:
        self.with_std = bool(with_std)
        self._n: dict = {}
        self._mean: dict = {}
        self._m2: dict = {}

    def learn_one(self, x: dict) -> None:
        """Update the running mean and variance of each feature."""
        for k, v in x.items():
            f = _finite(v)
            if f is None:
                continue
            n = self._n.get(k, 0) + 1
            mean = self._mean.get(k, 0.0)
            delta = f - mean
            mean += delta / n
            self._n[k] = n
            self._mean[k] = mean
            self._m2[k] = self._m2.get(k, 0.0) + delta * (f - mean)

    def transform_one(self, x: dict) -> dict:
        """Standardised copy of ``x`` (the input is not modified)."""
        out = {}
        counts, means, m2s, with_std, sqrt = self._n, self._mean, self._m2, self.with_std, math.sqrt
        for k, v in x.items():
            if type(v) is float and v - v == 0.0 and with_std:  # finite float: the hot path, inlined
                n = counts.get(k)
                if n is None:
                    out[k] = 0.0
                else:
                    var = m2s[k] / n
                    out[k] = (v - means[k]) / sqrt(var) if var > 0 else 0.0
                continue
            f = _finite(v)
            if f is None:
                out[k] = v
                continue
            if k not in self._n:
                out[k] = 0.0
                continue
            centred = f - self._mean[k]
            if not self.with_std:
                out[k] = centred
                continue
            var = self._m2[k] / self._n[k]
            out[k] = centred / math.sqrt(var) if var > 0 else 0.0
        return out
