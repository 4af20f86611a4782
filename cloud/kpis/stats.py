"""The arithmetic of the KPIs: rates with Wilson intervals, means with t intervals, MTBF and MTTR.

A KPI value is a :class:`Figure`: the value, the count it rests on, a 95 %
interval where the sample allows one, and the target. A rate of a small
sample is shown with the Wilson score interval, which stays inside [0, 1]
and is honest at n = 5 where the normal approximation is not.

Examples
--------
>>> f = rate(3, 4, target=0.75)
>>> f.value, f.n, [round(x, 3) for x in (f.low, f.high)], f.meets
(0.75, 4, [0.301, 0.954], True)
>>> rate(0, 0).value is None
True
>>> m = mean([2.0, 4.0, 6.0], unit="h")
>>> m.value, m.n, round(m.low, 2), round(m.high, 2)
(4.0, 3, -0.97, 8.97)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats as _st

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Figure:
    """One KPI value: ``value`` (None: nothing to compute it from), its sample size ``n``, a 95 % interval.

    ``target`` and ``direction`` (``"min"``: at least the target, ``"max"``: at most) say
    whether the value meets its goal; ``unit`` is how it reads (``"ratio"``, ``"h"``, ``"K"``...).
    """

    value: float | None
    n: int
    low: float | None = None
    high: float | None = None
    unit: str = "ratio"
    target: float | None = None
    direction: str = "min"
    note: str = ""

    @property
    def meets(self) -> bool | None:
        """Whether the value meets its target (None without a value or a target)."""
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.direction == "min" else self.value <= self.target

    def as_dict(self) -> dict:
        """The figure as JSON-ready data, with ``meets``."""
        return {**asdict(self), "meets": self.meets}


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials.

    Examples
    --------
    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be in 0..n={n}, got {k}")
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int, target: float | None = None, note: str = "") -> Figure:
    """``k`` of ``n`` as a :class:`Figure` with its Wilson interval (value None when n = 0)."""
    if n == 0:
        return Figure(None, 0, target=target, note=note or "no cases in the period")
    low, high = wilson(k, n)
    return Figure(k / n, n, low, high, "ratio", target, "min", note)


def mean(values: list[float], unit: str, target: float | None = None, direction: str = "max",
         note: str = "") -> Figure:
    """The mean of ``values`` with a Student-t 95 % interval (none for a single value)."""
    vals = [float(v) for v in values]
    if not vals:
        return Figure(None, 0, unit=unit, target=target, direction=direction, note=note or "no cases in the period")
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return Figure(m, 1, unit=unit, target=target, direction=direction, note=note)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    half = float(_st.t.ppf(0.975, len(vals) - 1)) * sd / math.sqrt(len(vals))
    return Figure(m, len(vals), m - half, m + half, unit, target, direction, note)


def mtbf(running_h: float, failures: int) -> Figure:
    """Mean time between failures: running hours per unplanned failure.

    With no failure the MTBF is at least the running time: the value is
    None and the note says so. The interval is the chi-square interval of an
    exponential failure process (time-truncated), which a handful of failures allow.

    Examples
    --------
    >>> f = mtbf(300.0, 3)
    >>> f.value, round(f.low, 1), round(f.high, 1)
    (100.0, 34.2, 484.9)
    """
    if running_h < 0 or failures < 0:
        raise ValueError(f"running hours and failures must be >= 0, got {running_h}, {failures}")
    if failures == 0:
        return Figure(None, 0, unit="h", note=f"no failure in {running_h:.1f} running hours")
    low = 2 * running_h / float(_st.chi2.ppf(0.975, 2 * failures + 2))
    high = 2 * running_h / float(_st.chi2.ppf(0.025, 2 * failures))
    return Figure(running_h / failures, failures, low, high, "h", None, "min")


def overlap_h(start, end, lo, hi) -> float:
    """Hours of ``[start, end)`` inside ``[lo, hi)`` (datetimes; 0 when they do not overlap)."""
    s, e = max(start, lo), min(end, hi)
    return max(0.0, (e - s).total_seconds() / 3600.0)
