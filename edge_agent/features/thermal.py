"""Thermal features: level, robust rate of change, residual against a first-order model.

The lumped model of DOMAIN.md "Thermal": ``C·dT/dt = P_loss − (T − T_amb)/R``
with ``τ = R·C`` and losses ``P_loss = P_rated·load²`` (copper losses go
with the square of current, about proportional to load). Rewritten per unit
of time::

    dT/dt = a·load² + b·(T_amb − T) + c,   b = 1/τ, a = R·P_rated/τ

(``c`` absorbs fixed losses such as iron losses and bearing friction when
learnt; it is 0 when the parameters are given). With ``R``, ``τ`` and the
rated loss given the model runs from the first sample; otherwise ``a``,
``b`` and ``c`` are fitted by least squares on finite differences over
steps of at least ``learn_step_s`` during the first ``learn_s`` seconds
(the learning period), then frozen. The modelled temperature is integrated
exactly between samples with the inputs held, and the residual ``T −
T_model`` rises when a developing fault adds friction or the cooling fails,
while load and ambient swings — which the model follows — leave it near 0.
The rate of change is the Theil–Sen slope (median of pairwise slopes) over
the last ``rate_window_s`` seconds, robust to single-sample spikes; past
:data:`RATE_POINTS` readings in the window, that many evenly spread ones
enter it (the pairs grow with the square of the readings: 3000 readings at
10 Hz would be 4.5 million pairs, ~100 MB, per window).
"""

from __future__ import annotations

from collections import deque

import numpy as np

#: Names produced by :meth:`ThermalTracker.features`, in order.
THERMAL_FEATURES = ("temperature", "temperature_rate_k_per_min", "temperature_residual")
#: Most readings that enter the Theil–Sen rate (32 640 pairs).
RATE_POINTS = 256


class ThermalTracker:
    """Stateful thermal features of one temperature point.

    Parameters
    ----------
    r_k_per_w, tau_s, rated_loss_w : float, optional
        Thermal resistance to ambient (K/W), time constant (s) and losses at
        rated load (W). Give all three, or none to learn the model.
    learn_s : float
        Length of the learning period in seconds (when learning).
    learn_step_s : float
        Shortest interval of one finite difference while learning (noise in
        a temperature reading matters less over a longer step).
    rate_window_s : float
        Window of the rate of change, seconds.

    Examples
    --------
    >>> import numpy as np
    >>> tr = ThermalTracker(r_k_per_w=0.1, tau_s=600.0, rated_loss_w=300.0)
    >>> for k in range(0, 1201, 10):  # steady state at rated load: 20 + 0.1 * 300 = 50 degC
    ...     tr.update(k * 10**9, 50.0, 1.0, 20.0)
    >>> {k: round(v, 3) for k, v in tr.features().items()}
    {'temperature': 50.0, 'temperature_rate_k_per_min': 0.0, 'temperature_residual': 0.0}
    """

    def __init__(self, r_k_per_w: float | None = None, tau_s: float | None = None,
                 rated_loss_w: float | None = None, learn_s: float = 3600.0, learn_step_s: float = 30.0,
                 rate_window_s: float = 300.0) -> None:
        given = [v is not None for v in (r_k_per_w, tau_s, rated_loss_w)]
        if any(given) and not all(given):
            raise ValueError("give all of r_k_per_w, tau_s, rated_loss_w or none of them (to learn the model); "
                             f"got r_k_per_w={r_k_per_w!r}, tau_s={tau_s!r}, rated_loss_w={rated_loss_w!r}")
        for name, v in (("r_k_per_w", r_k_per_w), ("tau_s", tau_s), ("learn_s", learn_s),
                        ("learn_step_s", learn_step_s), ("rate_window_s", rate_window_s)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if rated_loss_w is not None and not (np.isfinite(rated_loss_w) and rated_loss_w >= 0):
            raise ValueError(f"rated_loss_w must be a finite number >= 0, got {rated_loss_w!r}")
        self.r_k_per_w = r_k_per_w
        self.tau_s = tau_s
        self.rated_loss_w = rated_loss_w
        self.learn_s = learn_s
        self.learn_step_s = learn_step_s
        self.rate_window_s = rate_window_s
        #: (a, b, c) of ``dT/dt = a·load² + b·(T_amb − T) + c``, or None while learning.
        self.params: tuple[float, float, float] | None = None
        if all(given):
            self.params = (r_k_per_w * rated_loss_w / tau_s, 1.0 / tau_s, 0.0)
        self._xtx = np.zeros((3, 3))
        self._xty = np.zeros(3)
        self._rows = 0
        self._t0: float | None = None
        self._anchor: tuple[float, float, float, float] | None = None
        self._last: tuple[float, float, float, float] | None = None
        self._model: float | None = None
        self._recent: deque[tuple[float, float]] = deque()

    @property
    def learning(self) -> bool:
        """True until the model parameters are known (given or fitted)."""
        return self.params is None

    def update(self, t_ns: int, temperature: float, load: float, ambient: float) -> None:
        """Feed one reading: time (epoch ns), temperature and ambient (degC), load (per unit)."""
        vals = {"temperature": temperature, "load": load, "ambient": ambient}
        bad = {k: v for k, v in vals.items() if not np.isfinite(v)}
        if bad:
            raise ValueError(f"thermal reading must be finite, got {bad}")
        t = int(t_ns) / 1e9
        if self._last is not None and t <= self._last[0]:
            raise ValueError(f"t_ns must increase; got {t_ns} after {int(self._last[0] * 1e9)}")
        sample = (t, float(temperature), float(load), float(ambient))
        if self._t0 is None:
            self._t0, self._anchor = t, sample
        if self.params is None:
            self._learn(sample)
        if self.params is not None:
            self._advance_model(sample)
        self._last = sample
        self._recent.append((t, sample[1]))
        while self._recent[0][0] < t - self.rate_window_s:
            self._recent.popleft()

    def features(self) -> dict[str, float]:
        """Level (degC), rate of change (K/min) and model residual (K; 0 while learning)."""
        if self._last is None:
            raise ValueError("no thermal reading yet: call update() first")
        residual = self._last[1] - self._model if self._model is not None else 0.0
        return dict(zip(THERMAL_FEATURES, (self._last[1], 60.0 * self.rate_k_per_s(), float(residual))))

    def rate_k_per_s(self) -> float:
        """Theil–Sen slope of the temperatures of the last ``rate_window_s`` seconds (K/s).

        Over at most :data:`RATE_POINTS` readings, evenly spread, first and last included.
        """
        if len(self._recent) < 2:
            return 0.0
        arr = np.array(self._recent)
        if arr.shape[0] > RATE_POINTS:
            arr = arr[np.linspace(0, arr.shape[0] - 1, RATE_POINTS).round().astype(np.intp)]
        i, j = np.triu_indices(arr.shape[0], k=1)
        return float(np.median((arr[j, 1] - arr[i, 1]) / (arr[j, 0] - arr[i, 0])))

    def _learn(self, s: tuple[float, float, float, float]) -> None:
        a = self._anchor
        dt = s[0] - a[0]
        if dt >= self.learn_step_s:
            x = np.array([0.5 * (a[2] ** 2 + s[2] ** 2), 0.5 * (a[3] + s[3]) - 0.5 * (a[1] + s[1]), 1.0])
            self._xtx += np.outer(x, x)
            self._xty += x * (s[1] - a[1]) / dt
            self._rows += 1
            self._anchor = s
        if s[0] - self._t0 >= self.learn_s and self._rows >= 10:
            sol, *_ = np.linalg.lstsq(self._xtx, self._xty, rcond=1e-10)
            if sol[1] > 0:  # a model that cools towards ambient; otherwise keep learning
                self.params = (float(sol[0]), float(sol[1]), float(sol[2]))

    def _advance_model(self, s: tuple[float, float, float, float]) -> None:
        if self._model is None or self._last is None:
            self._model = s[1]
            return
        a, b, c = self.params
        t0, _, load, amb = self._last  # inputs held since the previous reading
        target = amb + (a * load * load + c) / b
        self._model = target + (self._model - target) * float(np.exp(-b * (s[0] - t0)))


def thermal_features(rows, r_k_per_w: float | None = None, tau_s: float | None = None,
                     rated_loss_w: float | None = None, **kwargs) -> dict[str, float]:
    """Feed ``(t_ns, temperature, load, ambient)`` rows to a new :class:`ThermalTracker`; its features.

    Examples
    --------
    >>> rows = [(k * 60 * 10**9, 40.0 + 0.5 * k, 1.0, 20.0) for k in range(6)]
    >>> round(thermal_features(rows)["temperature_rate_k_per_min"], 3)
    0.5
    """
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] < 1:
        raise ValueError(f"rows must have shape (n >= 1, 4): t_ns, temperature, load, ambient; got {arr.shape}")
    tracker = ThermalTracker(r_k_per_w, tau_s, rated_loss_w, **kwargs)
    for t, temp, load, amb in np.asarray(rows, dtype=object):
        tracker.update(int(t), float(temp), float(load), float(amb))
    return tracker.features()
