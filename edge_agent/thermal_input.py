"""Thermal input of a declared pipeline: scalar readings → a fed thermal tracker → one window per period.

A ``thermal`` pipeline watches one temperature (a winding, a bearing
housing) through the first-order model of
:class:`edge_agent.features.thermal.ThermalTracker`. Its inputs are scalar
channels — the temperature, the load and, where it is measured, the
ambient temperature — instead of a waveform. Every temperature reading
updates the tracker with the latest load and ambient (held since their last
reading); every ``period_s`` of readings closes one window, whose features
go to the detector like a vibration window's.

Until the model is known (given, or fitted over ``learn_s``) the residual
is undefined: those windows carry level and rate only, and the pipeline
counts them as learning without showing them to the detector.

Example of the ``thermal`` block of a pipeline::

    feature_set: thermal
    thermal:
      temperature: winding_temperature    # scalar channel, degC
      load: load                          # scalar channel; per unit = reading x load_scale
      load_scale: 0.01                    # the reading is in % of rated
      ambient_c: 20                       # no ambient sensor (else ambient: <channel>)
      period_s: 10                        # one window every 10 s of readings
      learn_s: 900                        # fit the model over the first 15 minutes
"""

from __future__ import annotations

import logging
import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.features.thermal import ThermalTracker
from firmware_adapters.sample import Sample

log = logging.getLogger(__name__)


class ThermalInputs(BaseModel):
    """Channels and model settings of a ``thermal`` pipeline.

    Parameters
    ----------
    temperature : str
        Scalar channel of the monitored temperature, degC.
    load : str
        Scalar channel of the load.
    load_scale : float
        Factor from the load reading to per unit of rated load (0.01 for a
        reading in %). Only a given model (``rated_loss_w``) depends on it.
    ambient : str or None
        Scalar channel of the ambient temperature, degC.
    ambient_c : float or None
        Fixed ambient temperature when none is measured (give ``ambient``
        or ``ambient_c``). A learnt model absorbs a constant offset of it;
        an ambient that changes shows up in the residual.
    period_s : float
        Seconds of readings per window.
    r_k_per_w, tau_s, rated_loss_w : float or None
        Thermal resistance, time constant and losses at rated load: all
        three, or none to learn the model.
    learn_s, learn_step_s, rate_window_s : float
        Learning period, shortest finite-difference step while learning,
        and window of the rate of change, seconds.

    Examples
    --------
    >>> spec = ThermalInputs(temperature="winding_temperature", load="load", load_scale=0.01, ambient_c=20)
    >>> spec.channels, spec.tracker().learning
    (['winding_temperature', 'load'], True)
    >>> ThermalInputs(temperature="t", load="load")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ThermalInputs
      Value error, thermal needs the ambient temperature: give ambient (a scalar channel) or ambient_c (a fixed value in degC) [...]
    ...
    """

    model_config = ConfigDict(extra="forbid")

    temperature: str = Field(min_length=1)
    load: str = Field(min_length=1)
    load_scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    ambient: str | None = Field(None, min_length=1)
    ambient_c: float | None = Field(None, ge=-60, le=150)
    period_s: float = Field(10.0, gt=0, le=3600)
    r_k_per_w: float | None = None
    tau_s: float | None = None
    rated_loss_w: float | None = None
    learn_s: float = Field(3600.0, gt=0, allow_inf_nan=False)
    learn_step_s: float = Field(30.0, gt=0, allow_inf_nan=False)
    rate_window_s: float = Field(300.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> "ThermalInputs":
        if self.ambient is None and self.ambient_c is None:
            raise ValueError("thermal needs the ambient temperature: give ambient (a scalar channel) or "
                             "ambient_c (a fixed value in degC)")
        if self.ambient is not None and self.ambient_c is not None:
            raise ValueError(f"give ambient (channel {self.ambient!r}) or ambient_c ({self.ambient_c}), not both")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"temperature, load and ambient must be different channels, got {self.channels}")
        self.tracker()  # the model parameters: all or none, finite and positive
        return self

    @property
    def channels(self) -> list[str]:
        """The scalar channels read: temperature, load and, if measured, ambient."""
        return [self.temperature, self.load] + ([self.ambient] if self.ambient else [])

    def tracker(self) -> ThermalTracker:
        """A new tracker with these model settings."""
        return ThermalTracker(self.r_k_per_w, self.tau_s, self.rated_loss_w, learn_s=self.learn_s,
                              learn_step_s=self.learn_step_s, rate_window_s=self.rate_window_s)


class ThermalWindows:
    """Feed the readings of one asset to a tracker; close a window every ``period_s``.

    :meth:`push` takes every :class:`Sample` of the asset and returns the
    windows it closed as ``(end_ns, features, ready)``; ``ready`` is False
    while the tracker is still fitting its model (the features then leave
    out ``temperature_residual``). A temperature reading before the first
    load (or ambient) reading is skipped; one not newer than the previous,
    or not finite, is counted in ``rejected`` and skipped.

    Examples
    --------
    >>> import numpy as np
    >>> spec = ThermalInputs(temperature="t", load="load", ambient_c=20.0, period_s=60.0,
    ...                      r_k_per_w=0.1, tau_s=600.0, rated_loss_w=300.0)
    >>> win, out = ThermalWindows(spec), []
    >>> for k in range(0, 181, 10):  # steady state at rated load: 20 + 0.1 * 300 = 50 degC
    ...     s = k * 10**9
    ...     out += win.push(Sample("m", "load", s, 0.0, np.array([1.0]), ""))
    ...     out += win.push(Sample("m", "t", s, 0.0, np.array([50.0]), "degC"))
    >>> [(end // 10**9, round(f["temperature_residual"], 3), ready) for end, f, ready in out]
    [(60, 0.0, True), (120, 0.0, True), (180, 0.0, True)]
    """

    def __init__(self, spec: ThermalInputs) -> None:
        self.spec = spec
        self.tracker = spec.tracker()
        self.readings: dict[str, float] = {}  # latest raw reading of each input channel
        self.rejected = 0
        self._period_ns = int(round(spec.period_s * 1e9))
        self._next_ns: int | None = None
        self._last_ns: int | None = None

    def push(self, sample: Sample) -> list[tuple[int, dict[str, float], bool]]:
        """Take one block of any channel; return the windows its temperature readings closed."""
        spec = self.spec
        if sample.channel not in (spec.temperature, spec.load, spec.ambient) or sample.values.size == 0:
            return []
        if sample.rate > 0:
            step = 1e9 / sample.rate
            readings = [(sample.start_ns + int(round(i * step)), float(v)) for i, v in enumerate(sample.values)]
        else:
            readings = [(sample.start_ns, float(sample.values[-1]))]
        if sample.channel != spec.temperature:
            finite = [v for _, v in readings if math.isfinite(v)]
            self.rejected += len(readings) - len(finite)
            if finite:
                self.readings[sample.channel] = finite[-1]
            return []
        load = self.readings.get(spec.load)
        ambient = spec.ambient_c if spec.ambient is None else self.readings.get(spec.ambient)
        if load is None or ambient is None:
            return []
        out = []
        for t_ns, v in readings:
            if not math.isfinite(v) or (self._last_ns is not None and t_ns <= self._last_ns):
                self.rejected += 1
                if self.rejected == 1:
                    log.warning("thermal reading of %s at %d rejected: %s", spec.temperature, t_ns,
                                "not finite" if not math.isfinite(v) else "not newer than the previous one")
                continue
            self.tracker.update(t_ns, v, load * spec.load_scale, ambient)
            self.readings[spec.temperature] = v
            self._last_ns = t_ns
            if self._next_ns is None:
                self._next_ns = t_ns + self._period_ns
            elif t_ns >= self._next_ns:
                self._next_ns += self._period_ns * ((t_ns - self._next_ns) // self._period_ns + 1)
                feats = self.tracker.features()
                ready = not self.tracker.learning
                if not ready:
                    del feats["temperature_residual"]  # 0 until the model is known: not a measurement
                out.append((t_ns, feats, ready))
        return out
