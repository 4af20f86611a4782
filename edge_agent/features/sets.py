"""Named feature sets: what a pipeline computes per window, by name.

:data:`FEATURE_SETS` maps a name to a set object with ``name``, ``inputs``
(``"vibration"``: a 1-D window; ``"current"``: a ``(3, n)`` window of phase
currents; ``"thermal"``: a :class:`~edge_agent.features.thermal.ThermalTracker`
or ``(t_ns, temperature, load, ambient)`` rows), ``names(ctx)`` and
``compute(data, ctx)``. The registry is an explicit dict (no namespace
scanning): add a set by adding a line. Feature names parse back to their
parameters with :func:`parse_feature_name`; :func:`linear_features` names
those a log-scale detector must take as they are.

Examples
--------
>>> import numpy as np
>>> from edge_agent.bearings import SKF_6205
>>> ctx = FeatureContext(fs=25600.0, rpm=1797.0, bearing=SKF_6205)
>>> x = np.random.default_rng(0).normal(size=4096)
>>> f = FEATURE_SETS["vibration_full"].compute(x, ctx)
>>> tuple(f) == FEATURE_SETS["vibration_full"].names(ctx), f["order_1x"] < 0.1
(True, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from edge_agent.features import envelope, motor, spectral, thermal, time_domain
from edge_agent.features.validation import as_phases, as_signal, check_positive, check_tolerance


@dataclass(frozen=True)
class FeatureContext:
    """What the feature sets need to know about a channel besides its samples.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    rpm : float, optional
        Shaft speed (orders, bearing lines; with ``pole_pairs`` also the slip).
    bearing : edge_agent.bearings.BearingGeometry, optional
        Bearing whose defect lines the envelope set searches.
    band : (float, float), optional
        Demodulation band in Hz (default: the envelope module's).
    slip_tolerance : float
        Relative search width around lines whose frequency slip moves.
    bands : sequence of (float, float), optional
        Spectral energy bands in Hz (default :func:`.spectral.default_bands`).
    supply_hz : float, optional
        Motor supply frequency (needed by ``motor_current``).
    pole_pairs : int, optional
        Motor pole pairs.
    slip : float, optional
        Motor slip, if known directly.
    n_harmonics : int
        Highest harmonic in the current THD.
    thermal_r_k_per_w, thermal_tau_s, rated_loss_w : float, optional
        Thermal model parameters (all or none: none means learnt).

    Examples
    --------
    >>> ctx = FeatureContext(fs=25600.0, rpm=1797.0)
    >>> ctx.shaft_hz
    29.95
    >>> FeatureContext(fs=25600.0, slip_tolerance=2.0)
    Traceback (most recent call last):
    ...
    ValueError: slip_tolerance must lie in [0, 0.5) (a fraction of the frequency), got 2.0
    """

    fs: float
    rpm: float | None = None
    bearing: Any = None
    band: tuple[float, float] | None = None
    slip_tolerance: float = 0.02
    bands: tuple[tuple[float, float], ...] | None = None
    supply_hz: float | None = None
    pole_pairs: int | None = None
    slip: float | None = None
    n_harmonics: int = motor.DEFAULT_HARMONICS
    thermal_r_k_per_w: float | None = None
    thermal_tau_s: float | None = None
    rated_loss_w: float | None = None

    def __post_init__(self) -> None:
        check_positive(self.fs, "fs")
        check_tolerance(self.slip_tolerance, "slip_tolerance")
        if self.rpm is not None:
            check_positive(self.rpm, "rpm")
        if self.bands is not None:
            spectral.check_bands(self.bands, self.fs)
            object.__setattr__(self, "bands", tuple(tuple(float(v) for v in b) for b in self.bands))

    @property
    def shaft_hz(self) -> float | None:
        """Shaft frequency in Hz, or None without ``rpm``."""
        return None if self.rpm is None else self.rpm / 60.0

    def require(self, *fields: str, for_: str) -> None:
        """Raise ``ValueError`` naming every field in ``fields`` that is None."""
        missing = [f for f in fields if getattr(self, f) is None]
        if missing:
            raise ValueError(f"feature set {for_!r} needs FeatureContext field(s) {missing}")


class _VibrationSet:
    """A set over one vibration window: ``compute`` validates, ``_compute`` works on the array."""

    inputs = "vibration"

    def compute(self, data, ctx: FeatureContext) -> dict[str, float]:
        return self._compute(as_signal(data, min_len=256), ctx)


class TimeSet(_VibrationSet):
    """Time-domain statistics (:mod:`.time_domain`)."""

    name = "time"

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        return time_domain.TIME_FEATURES

    def _compute(self, x: np.ndarray, ctx: FeatureContext) -> dict[str, float]:
        return time_domain._compute(x)


class SpectralSet(_VibrationSet):
    """Band energies, centroid and, with ``rpm``, the 1X/2X/3X amplitudes (:mod:`.spectral`)."""

    name = "spectral"

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        return spectral.spectral_names(ctx.fs, ctx.bands, ctx.shaft_hz)

    def _compute(self, x: np.ndarray, ctx: FeatureContext) -> dict[str, float]:
        bands = _bands_array(ctx.bands, float(ctx.fs))
        return spectral._compute(x, float(ctx.fs), bands, ctx.shaft_hz, spectral.DEFAULT_ORDERS, ctx.slip_tolerance)


class EnvelopeSet(_VibrationSet):
    """Envelope-spectrum bearing indicators (:mod:`.envelope`); needs ``rpm`` and ``bearing``."""

    name = "envelope"

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        return tuple(envelope.ENVELOPE_FEATURES)

    def _compute(self, x: np.ndarray, ctx: FeatureContext) -> dict[str, float]:
        ctx.require("rpm", "bearing", for_=self.name)
        return envelope.envelope_indicators(x, ctx.fs, ctx.shaft_hz, ctx.bearing, band=ctx.band,
                                            tolerance=ctx.slip_tolerance)


@dataclass(frozen=True)
class CombinedSet:
    """Several vibration sets over the same window, validated once; names and values concatenated."""

    name: str
    parts: tuple

    def __post_init__(self) -> None:
        kinds = {p.inputs for p in self.parts}
        if len(kinds) != 1:
            raise ValueError(f"set {self.name!r} mixes inputs {sorted(kinds)}")
        if not all(isinstance(p, _VibrationSet) for p in self.parts):
            raise ValueError(f"set {self.name!r}: only vibration sets combine, got {[p.name for p in self.parts]}")

    @property
    def inputs(self) -> str:
        return self.parts[0].inputs

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        return tuple(n for p in self.parts for n in p.names(ctx))

    def compute(self, data, ctx: FeatureContext) -> dict[str, float]:
        x = as_signal(data, min_len=256)
        out: dict[str, float] = {}
        for p in self.parts:
            out.update(p._compute(x, ctx))
        return out


class MotorCurrentSet:
    """Current-signature features of three phases (:mod:`.motor`); needs ``supply_hz``."""

    name, inputs = "motor_current", "current"

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        ctx.require("supply_hz", for_=self.name)
        s = motor.slip_from(ctx.supply_hz, ctx.slip, ctx.rpm, ctx.pole_pairs)
        return motor.motor_current_names(ctx.n_harmonics, with_sidebands=s is not None)

    def compute(self, data, ctx: FeatureContext) -> dict[str, float]:
        ctx.require("supply_hz", for_=self.name)
        return motor.motor_current_features(as_phases(data), ctx.fs, ctx.supply_hz, ctx.slip, ctx.rpm,
                                            ctx.pole_pairs, ctx.slip_tolerance, ctx.n_harmonics)


class ThermalSet:
    """Level, rate and model residual of a temperature (:mod:`.thermal`).

    ``data`` is a fed :class:`~edge_agent.features.thermal.ThermalTracker`
    (the usual case: the pipeline keeps one per point) or rows of
    ``(t_ns, temperature, load, ambient)`` fed to a new tracker built from
    the context's thermal parameters.
    """

    name, inputs = "thermal", "thermal"

    def names(self, ctx: FeatureContext) -> tuple[str, ...]:
        return thermal.THERMAL_FEATURES

    def compute(self, data, ctx: FeatureContext) -> dict[str, float]:
        if isinstance(data, thermal.ThermalTracker):
            return data.features()
        return thermal.thermal_features(data, ctx.thermal_r_k_per_w, ctx.thermal_tau_s, ctx.rated_loss_w)


@lru_cache(maxsize=64)
def _bands_array(bands, fs: float) -> np.ndarray:
    """Checked band array of a context (cached: contexts are frozen and hashable)."""
    arr = spectral.check_bands(bands or spectral.default_bands(fs), fs)
    arr.flags.writeable = False
    return arr


_TIME, _SPECTRAL, _ENVELOPE = TimeSet(), SpectralSet(), EnvelopeSet()

#: Feature sets by name.
FEATURE_SETS = {
    "time": _TIME,
    "spectral": _SPECTRAL,
    "envelope": _ENVELOPE,
    "bearing": CombinedSet("bearing", (_TIME, _ENVELOPE)),
    "vibration_full": CombinedSet("vibration_full", (_TIME, _SPECTRAL, _ENVELOPE)),
    "motor_current": MotorCurrentSet(),
    "thermal": ThermalSet(),
}

_PARAM_PATTERNS = (
    (re.compile(r"band_energy_(?P<lo_hz>[0-9.]+)_(?P<hi_hz>[0-9.]+)"), "band_energy", float),
    (re.compile(r"order_(?P<order>[0-9]+)x"), "order", int),
    (re.compile(r"thd_(?P<first>[0-9]+)_(?P<last>[0-9]+)"), "thd", int),
)


#: Features that may be zero or negative: signed statistics, temperatures in degC, rates, model residuals.
_SIGNED = frozenset({"mean", "skewness", *thermal.THERMAL_FEATURES})


def linear_features(names) -> tuple[str, ...]:
    """The names among ``names`` whose values must not be log-transformed.

    Levels in dB (``*_db``) are logarithms already and usually negative;
    signed quantities (mean, skewness, temperature rate and residual) and
    temperatures in degC can be zero or negative. Everything else a feature
    set returns is a positive magnitude (RMS, amplitudes, ratios, energies).

    Examples
    --------
    >>> linear_features(["rms_a", "sideband_db", "i2_i1", "temperature_residual", "kurtosis"])
    ('sideband_db', 'temperature_residual')
    """
    return tuple(n for n in names if n.endswith("_db") or n in _SIGNED)


def parse_feature_name(name: str) -> tuple[str, dict[str, float]]:
    """Split a feature name into its kind and the parameters written into it.

    Examples
    --------
    >>> parse_feature_name("band_energy_1000_3000")
    ('band_energy', {'lo_hz': 1000.0, 'hi_hz': 3000.0})
    >>> parse_feature_name("order_2x"), parse_feature_name("thd_2_40"), parse_feature_name("kurtosis")
    (('order', {'order': 2}), ('thd', {'first': 2, 'last': 40}), ('kurtosis', {}))
    """
    for pattern, kind, conv in _PARAM_PATTERNS:
        m = pattern.fullmatch(name)
        if m:
            return kind, {k: conv(v) for k, v in m.groupdict().items()}
    return name, {}
