"""Building blocks of machine vibration: a structural resonance and bearing impact trains.

A localised bearing defect is struck every time a rolling element passes it
(McFadden & Smith 1984; Randall & Antoni, "Rolling element bearing
diagnostics — a tutorial", MSSP 25, 2011). Each strike rings a structural
resonance that decays within milliseconds, so the accelerometer sees
*bursts* of resonance repeating at the defect frequency — a line in the
envelope spectrum, not in the raw spectrum.

- Outer race: the defect is stationary in the load zone, so the bursts are
  of equal strength at BPFO.
- Inner race: the defect turns with the shaft and passes through the load
  zone once per revolution, so the bursts at BPFI are amplitude-modulated at
  1X (envelope sidebands at BPFI ± fr).
- Ball: a ball defect strikes the outer and the inner race once each per
  ball spin (bursts at 2×BSF, the inner-race strike weaker and so a BSF line
  too) and goes through the load zone with the cage (modulation at FTF).

Impacts are placed on the instantaneous shaft angle, so they follow a speed
profile. Rolling elements slip: the interval between impacts is, in shaft
angle, 0.5 % longer than the kinematic one on average (so observed lines sit
0.5 % below BPFO/BPFI/2×BSF) and scatters by 1 % of a period per impact. The
scatter accumulates (a random walk of the cage position, as in the classic
cyclostationary model of Antoni & Randall), so the first envelope harmonic
stays sharp while the higher ones smear, as on real bearings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal, special

from edge_agent.bearings import BearingGeometry
from simulators.faults import FaultEvent

BEARING_FAULTS = ("outer_race", "inner_race", "ball")
#: Mean slip (fraction) and random scatter of each impact interval (periods).
SLIP_MEAN, SLIP_STEP = 0.005, 0.01


class Resonance:
    """Acceleration response of one structural mode, with state across blocks.

    The impulse response is the second derivative of ``e^(−at)·sin(ω_d t)``
    (a force impulse on a single-degree-of-freedom mode, seen by an
    accelerometer) plus the impulsive term that makes its net area zero, so
    the bursts carry no low-frequency content; it is realised as an exact
    second-order recursive filter and normalised to a peak of 1.

    Parameters
    ----------
    freq_hz : float
        Natural frequency of the mode.
    damping : float
        Damping ratio (0 < damping < 1).
    fs : float
        Sample rate in Hz.

    Examples
    --------
    >>> r = Resonance(3000.0, 0.05, 12000.0)
    >>> x = np.zeros(1200); x[0] = 1.0
    >>> y = r.filter(x)
    >>> round(float(np.abs(y).max()), 6), round(float(y.sum()), 6)
    (1.0, 0.0)
    """

    def __init__(self, freq_hz: float, damping: float, fs: float) -> None:
        if not 0 < freq_hz < fs / 2:
            raise ValueError(f"resonance_hz {freq_hz} must lie below Nyquist {fs / 2}")
        if not 0 < damping < 1:
            raise ValueError(f"damping must lie in (0, 1), got {damping}")
        dt = 1.0 / fs
        decay = 2 * np.pi * damping * freq_hz
        wd = 2 * np.pi * freq_hz * np.sqrt(1 - damping**2)
        rho = np.exp(-decay * dt)
        a = np.array([1.0, -2 * rho * np.cos(wd * dt), rho * rho])
        n = np.arange(3) * dt
        h = np.exp(-decay * n) * ((decay**2 - wd**2) * np.sin(wd * n) - 2 * decay * wd * np.cos(wd * n))
        b = np.convolve(a, h)[:3]
        b = b - (b.sum() / a.sum()) * a  # zero DC gain: the net-area correction at t = 0
        n_ir = int(np.ceil(np.log(1000.0) / decay * fs)) + 3
        impulse = np.zeros(n_ir)
        impulse[0] = 1.0
        b = b / np.abs(signal.lfilter(b, a, impulse)).max()
        self.b, self.a = b, a
        self.freq_hz, self.damping = freq_hz, damping
        self._zi = np.zeros(2)

    def filter(self, x: np.ndarray) -> np.ndarray:
        """Filter the next block of excitation, continuing the ring-down of the last."""
        y, self._zi = signal.lfilter(self.b, self.a, x, zi=self._zi)
        return y


def load_zone(angle: np.ndarray) -> np.ndarray:
    """Relative impact strength of a defect at ``angle`` rad from the load-zone centre."""
    return 0.25 + 0.75 * ((1.0 + np.cos(angle)) / 2.0) ** 2


class ImpactTrain:
    """The defect impacts of one bearing fault, placed block by block.

    Parameters
    ----------
    fault : FaultEvent
        An ``outer_race``, ``inner_race`` or ``ball`` fault.
    bearing : BearingGeometry
        Characteristic frequencies per shaft revolution.
    rng : numpy.random.Generator
        Random source of this train only (slip, strength scatter, phases).
    start_rev : float
        Shaft revolutions completed at the fault onset.

    Examples
    --------
    >>> from edge_agent.bearings import SKF_6205
    >>> tr = ImpactTrain(FaultEvent("outer_race", 0.0, ramp_s=0), SKF_6205, np.random.default_rng(0), 0.0)
    >>> t = np.arange(12001) / 12000.0
    >>> idx, amp = tr.place(t, 30.0 * t, lambda tt: np.ones_like(tt))
    >>> len(idx) in (106, 107, 108)  # one second at BPFO = 107.5 Hz, less 0.5 % slip
    True
    """

    def __init__(self, fault: FaultEvent, bearing: BearingGeometry, rng: np.random.Generator,
                 start_rev: float) -> None:
        if fault.kind not in BEARING_FAULTS:
            raise ValueError(f"impact train needs a bearing fault {BEARING_FAULTS}, got {fault.kind!r}")
        self.fault = fault
        self._rng = rng
        if fault.kind == "outer_race":
            self.per_rev, self.mod_per_rev = bearing.bpfo, 0.0
        elif fault.kind == "inner_race":  # the defect turns with the shaft
            self.per_rev, self.mod_per_rev = bearing.bpfi, 1.0
        else:  # the ball goes round with the (slipping) cage
            self.per_rev, self.mod_per_rev = 2.0 * bearing.bsf, bearing.ftf * (1.0 - SLIP_MEAN)
        self._mod_phase = rng.uniform(0.0, 2 * np.pi)
        # impact positions in kinematic cycles (per_rev × shaft revolutions), drawn ahead
        self._last = self.per_rev * start_rev + rng.uniform(0.0, 1.0) - 1.0
        self._pos = np.zeros(0)
        self._jitter = np.zeros(0)
        self._count = 0  # impacts placed so far (ball: even on the outer race, odd on the inner)

    def _draw_until(self, cycles_end: float) -> None:
        """Draw impact positions until one lies at or beyond ``cycles_end``."""
        while self._last < cycles_end:
            m = int(cycles_end - self._last) + 16
            u = self._rng.random((m, 2))
            steps = 1.0 / (1.0 - SLIP_MEAN) + SLIP_STEP * special.ndtri(np.clip(u[:, 0], 1e-12, 1 - 1e-12))
            pos = np.cumsum(np.concatenate([[self._last], steps]))[1:]
            self._last = pos[-1]
            self._pos = np.concatenate([self._pos, pos])
            self._jitter = np.concatenate([self._jitter, 0.8 + 0.4 * u[:, 1]])

    def place(self, t: np.ndarray, rev: np.ndarray, gain: Callable[[np.ndarray], np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray]:
        """Impacts that fall in ``[t[0], t[-1])``.

        Parameters
        ----------
        t, rev : numpy.ndarray
            Sample times (s) of the block plus the first of the next block,
            and the shaft revolutions completed at each (increasing).
        gain : callable
            Operating-condition factor on the impact strength at given times.

        Returns
        -------
        idx, amp : numpy.ndarray
            Sample offsets from ``t[0]`` and impact strengths in g (an offset
            may round to the block length; the caller carries it over).
        """
        f = self.fault
        cycles = self.per_rev * rev
        self._draw_until(cycles[-1])
        m = int(np.searchsorted(self._pos, cycles[-1], side="left"))
        pos, jitter = self._pos[:m], self._jitter[:m]
        self._pos, self._jitter = self._pos[m:], self._jitter[m:]
        k = self._count + np.arange(m)
        self._count += m
        if m == 0 or (f.end_s is not None and t[0] >= f.end_s):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        t_hit = np.interp(pos, cycles, t)
        amp = f.amplitudes(t_hit) * gain(t_hit) * jitter
        if self.mod_per_rev:
            amp *= load_zone(2 * np.pi * self.mod_per_rev * pos / self.per_rev + self._mod_phase)
        if f.kind == "ball":
            amp *= np.where(k % 2 == 0, 1.0, 0.5)  # odd strikes on the inner race, further from the sensor
        fs = (t.size - 1) / (t[-1] - t[0])
        idx = np.rint((t_hit - t[0]) * fs).astype(np.int64)
        keep = amp > 0
        return idx[keep], amp[keep]
