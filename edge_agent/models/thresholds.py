"""Threshold policies turning anomaly scores into alarms."""

from __future__ import annotations

import bisect
import math
from collections import deque

from edge_agent.models.base import Estimator


class FixedThreshold(Estimator):
    """A constant threshold: a score above ``value`` is anomalous.

    Parameters
    ----------
    value : float
        The threshold (e.g. a control limit).

    Examples
    --------
    >>> th = FixedThreshold(3.0)
    >>> th.update(2.0), th.update(4.5), th.value
    (False, True, 3.0)
    """

    def __init__(self, value: float) -> None:
        if not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"value must be a number, got {value!r}")
        self.value = float(value)

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` exceeds the threshold (NaN never does)."""
        return score > self.value

    def update(self, score: float) -> bool:
        """Judge ``score``; a fixed threshold learns nothing."""
        return self.is_anomalous(score)


class QuantileThreshold(Estimator):
    """Adaptive threshold: a high quantile of the recent *healthy* scores, times a margin.

    ``update(score)`` judges the score against the current threshold and,
    only if it is judged normal and finite, adds it to the window of healthy
    scores, so an anomaly cannot raise the bar that detects it. Until
    ``warmup`` healthy scores are in, nothing is anomalous (``value`` is
    ``inf``). The quantile interpolates linearly, like ``numpy.quantile``.

    Parameters
    ----------
    q : float
        Quantile in ``(0, 1]``.
    window : int
        Number of most recent healthy scores kept.
    warmup : int
        Healthy scores needed before the threshold is active (<= ``window``).
    margin : float
        Factor (>= 1 for positive scores) applied to the quantile.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> th = QuantileThreshold(q=0.99, window=500, warmup=100, margin=1.2)
    >>> alarms = [th.update(rng.random()) for _ in range(1000)]
    >>> sum(alarms), round(th.value, 2)
    (0, 1.19)
    >>> th.update(5.0), th.n_healthy
    (True, 500)
    """

    def __init__(self, q: float = 0.999, window: int = 2000, warmup: int = 200, margin: float = 1.0) -> None:
        if not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise ValueError(f"q must be in (0, 1], got {q!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        if not isinstance(warmup, int) or not 1 <= warmup <= window:
            raise ValueError(f"warmup must be an integer in [1, window={window}], got {warmup!r}")
        if not isinstance(margin, (int, float)) or not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin!r}")
        self.q = float(q)
        self.window = window
        self.warmup = warmup
        self.margin = float(margin)
        self._recent: deque = deque()
        self._sorted: list = []
        self.n_rejected = 0  # non-finite scores, not learnt

    @property
    def n_healthy(self) -> int:
        """Healthy scores currently in the window."""
        return len(self._sorted)

    @property
    def value(self) -> float:
        """The current threshold (``inf`` during warm-up)."""
        n = len(self._sorted)
        if n < self.warmup:
            return math.inf
        pos = self.q * (n - 1)
        i = int(pos)
        frac = pos - i
        lo = self._sorted[i]
        hi = self._sorted[min(i + 1, n - 1)]
        return self.margin * (lo + (hi - lo) * frac)

    def is_anomalous(self, score: float) -> bool:
        """Whether ``score`` exceeds the current threshold (NaN never does)."""
        return score > self.value

    def update(self, score: float) -> bool:
        """Judge ``score``, then learn it if it is finite and judged normal."""
        anomalous = self.is_anomalous(score)
        if not math.isfinite(score):
            self.n_rejected += 1
        elif not anomalous:
            score = float(score)
            self._recent.append(score)
            bisect.insort(self._sorted, score)
            if len(self._recent) > self.window:
                old = self._recent.popleft()
                del self._sorted[bisect.bisect_left(self._sorted, old)]
        return anomalous
