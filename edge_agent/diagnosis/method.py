"""Diagnose a bearing from housing acceleration: one window (live) or a recording (replay).

The chain per window (each step in :mod:`.spectra`): one ``rfft`` → AR
pre-whitening in the frequency domain → shaft-order content removed below
:func:`min_band_hz` (no defect resonance rings there) → fast kurtogram on the whitened
spectrum (bands at least :func:`min_band_hz` wide, so the envelope holds
the harmonics looked for) → squared-envelope spectrum of the picked band →
defect families with slip, harmonics and sidebands (:mod:`.evidence`) →
the call. A recording averages the kurtogram maps of its windows, picks
one band and averages the squared-envelope power of all windows, which
overlap by half (the noise model knows how many independent averages
they are worth).

Shaft speed comes from the caller (file or configuration) or, when it is
``None``, from the spectrum (:func:`.speed.estimate_shaft_hz`).

Examples
--------
>>> from simulators.rotating_machine import RotatingMachine
>>> from simulators.faults import FaultEvent
>>> m = RotatingMachine("m", fs=12000.0, faults=[FaultEvent("outer_race", 0.0, 0.3, ramp_s=0.0)], seed=3)
>>> d = diagnose_window(m.next_block(8192), 12000.0, rpm=m.rpm, bearing=m.bearing)
>>> d.fault, d.confidence > 0.9
('outer_race', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge_agent.diagnosis import spectra
from edge_agent.diagnosis.evidence import Family, bearing_families, decide
from edge_agent.diagnosis.speed import estimate_shaft_hz
from edge_agent.features.validation import as_signal, check_positive

#: Points of the envelope spectrum carried with a diagnosis (max-pooled, bounded for the wire).
SPECTRUM_POINTS = 256


@dataclass
class Diagnosis:
    """The likely bearing fault of a window or recording, and why.

    Attributes
    ----------
    fault : str
        ``outer_race``, ``inner_race``, ``ball``, ``none`` (no bearing defect
        found) or ``unknown`` (evidence for two defects alike).
    confidence : float
        0-1; for ``none``, how sure nothing is there.
    reason : str
        One sentence a person can read.
    families : dict of str to Family
        The evidence per fault.
    band : (float, float)
        Demodulation band picked by the kurtogram, Hz.
    kurtosis : float
        Its spectral kurtosis.
    shaft_hz : float
        Shaft speed used; ``speed_source`` says where it came from.
    spectrum_hz, spectrum : numpy.ndarray
        Squared-envelope spectrum (max-pooled to at most
        :data:`SPECTRUM_POINTS` points, normalised to its median).
    """

    fault: str
    confidence: float
    reason: str
    families: dict[str, Family]
    band: tuple[float, float]
    kurtosis: float
    shaft_hz: float
    speed_source: str = "given"
    averages: int = 1
    spectrum_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spectrum: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def evidence(self) -> Family | None:
        """The family behind the call (``None`` for ``none``)."""
        return self.families.get(self.fault)

    def as_dict(self) -> dict:
        """JSON-ready form: the call, the evidence of each family and the compact spectrum."""
        fams = {}
        for name, f in self.families.items():
            fams[name] = {"line": f.line, "expected_hz": round(f.expected_hz, 2), "measured_hz": round(f.measured_hz, 2),
                          "evidence": round(min(f.evidence, 999.0), 2), "harmonics_found": f.harmonics_found,
                          "harmonics": [h.as_dict() for h in f.harmonics],
                          "sidebands": [s.as_dict() for s in f.sidebands]}
        return {"fault": self.fault, "confidence": round(float(self.confidence), 3), "reason": self.reason,
                "band_hz": [round(self.band[0], 1), round(self.band[1], 1)], "kurtosis": round(self.kurtosis, 3),
                "shaft_hz": round(self.shaft_hz, 3), "speed_source": self.speed_source, "averages": self.averages,
                "families": fams,
                "spectrum": {"df_hz": round(float(self.spectrum_hz[1] - self.spectrum_hz[0]), 6)
                             if self.spectrum_hz.size > 1 else 0.0,
                             "f0_hz": round(float(self.spectrum_hz[0]), 4) if self.spectrum_hz.size else 0.0,
                             "values": [round(float(v), 3) for v in self.spectrum]}}


def min_band_hz(shaft_hz: float, bearing) -> float:
    """Narrowest demodulation band: its envelope must hold the second harmonic of the highest defect line and a sideband."""
    f = bearing.frequencies(shaft_hz)
    return (2.0 * max(f["bpfi"], f["2bsf"]) + 2.0 * shaft_hz) / spectra.SES_USABLE


def compact_spectrum(power: np.ndarray, df: float, upto_hz: float, points: int = SPECTRUM_POINTS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Spectrum from bin 2 up to ``upto_hz`` max-pooled to at most ``points`` values, over its median.

    Bins 0-1 hold the window's own leakage of the removed mean, not the
    machine; max-pooling keeps every peak's height.
    """
    first = 2
    k = min(power.size, int(math.ceil(upto_hz / df)) + 1) - first
    pool = max(1, int(math.ceil(k / points)))
    k = (k // pool) * pool
    rest = power[first:]
    med = float(np.partition(rest, rest.size // 2)[rest.size // 2]) or 1.0  # the (upper) median, without np.median's overhead
    vals = power[first:first + k].reshape(-1, pool).max(axis=1) / med
    return first * df + np.arange(vals.size) * df * pool, vals


def _shaft(x, fs, rpm):
    if rpm is None:
        return estimate_shaft_hz(x, fs), "estimated"
    return check_positive(rpm, "rpm") / 60.0, "given"


def _finish(power, df, shaft_hz, source, bearing, averages, kurt: spectra.Kurtogram) -> Diagnosis:
    fams = bearing_families(power, df, shaft_hz, bearing, averages)
    fault, conf, reason = decide(fams)
    top = max(f.expected_hz for f in fams.values())
    hz, vals = compact_spectrum(power, df, 5.0 * top)
    return Diagnosis(fault, conf, reason, fams, kurt.band, kurt.kurtosis, shaft_hz, source, averages, hz, vals)


def diagnose_window(x, fs: float, rpm: float | None, bearing, whiten: bool = True) -> Diagnosis:
    """Diagnose one window (e.g. the 8192 samples that raised an alert).

    Parameters
    ----------
    x : array_like
        Acceleration of one window (at least 1024 samples; 0.5 s or more for
        a clear call at a few hundred rpm).
    fs : float
        Sample rate, Hz.
    rpm : float or None
        Shaft speed; ``None`` estimates it from the spectrum.
    bearing : edge_agent.bearings.BearingGeometry
        The monitored bearing.
    whiten : bool
        AR pre-whitening before the kurtogram and the envelope.
    """
    sig = as_signal(x, min_len=1024)
    fs = check_positive(fs, "fs")
    shaft_hz, source = _shaft(sig, fs, rpm)
    spec, n = spectra.spectrum(sig)
    if whiten:
        spec = spectra.whiten_spectrum(spec, n)
    width = min_band_hz(shaft_hz, bearing)
    spec = spectra.high_pass(spec, n, fs, width)
    kurt = spectra.kurtogram_of_spectrum(spec, n, fs, width, floor_hz=width)
    power = spectra.ses_power_of_spectrum(spec, n, fs, kurt.band)
    return _finish(power, fs / n, shaft_hz, source, bearing, 1, kurt)


def window_length(fs: float) -> int:
    """Power of two nearest to 0.7 s of samples (bins of about 1.4 Hz)."""
    return int(2 ** round(math.log2(0.7 * fs)))


#: Correlation of the Hann-weighted squared envelopes of two windows overlapping by half (Welch's c).
_HANN_HALF_OVERLAP = 1.0 / 6.0


def effective_averages(windows: int, overlap: float) -> int:
    """Independent averages that ``windows`` squared-envelope spectra overlapping by ``overlap`` are worth.

    Welch: spectra of Hann-weighted windows overlapping by half are
    correlated (``c = 1/6``), so ``K`` of them have the variance of
    ``K / (1 + 2c²)`` independent ones. The noise model of the evidence
    (:mod:`.evidence`) takes this whole number, rounded down.

    Examples
    --------
    >>> effective_averages(13, 0.0), effective_averages(27, 0.5)
    (13, 25)
    """
    if overlap == 0.0:
        return max(1, int(windows))
    return max(1, int(windows / (1.0 + 2.0 * _HANN_HALF_OVERLAP ** 2)))


def diagnose(x, fs: float, rpm: float | None, bearing, window: int | None = None, whiten: bool = True,
             overlap: float = 0.5) -> Diagnosis:
    """Diagnose a recording: kurtogram and squared-envelope power averaged over its windows.

    Parameters are those of :func:`diagnose_window`; ``window`` is the
    window length (default :func:`window_length`). ``overlap`` is 0.5
    (Welch's half overlap: about twice the averages from the same
    recording, a smoother noise floor for weak lines) or 0 (windows side
    by side; for windows that are not one continuous recording).
    """
    sig = as_signal(x, min_len=1024)
    fs = check_positive(fs, "fs")
    if overlap not in (0.0, 0.5):
        raise ValueError(f"overlap must be 0 or 0.5, got {overlap}")
    n = int(window or window_length(fs))
    if sig.size < n:
        raise ValueError(f"need at least {n} samples ({n / fs:.2f} s) to diagnose, got {sig.size}")
    shaft_hz, source = _shaft(sig, fs, rpm)
    width = min_band_hz(shaft_hz, bearing)
    hop = n if overlap == 0.0 else n // 2
    specs = []
    for start in range(0, sig.size - n + 1, hop):
        s, _ = spectra.spectrum(sig[start:start + n])
        specs.append(spectra.high_pass(spectra.whiten_spectrum(s, n) if whiten else s, n, fs, width))
    averages = effective_averages(len(specs), overlap)
    levels = spectra.kurtogram_levels(n, fs, width)
    df = fs / n
    min_bins = max(8, int(math.ceil(width / df)))
    maps = [spectra.K.kurtogram(s, levels, min_bins) for s in specs]
    kurt = spectra.pick_band(np.mean([m[0] for m in maps], axis=0), maps[0][1], n // 2, df, width, width, averages)
    power = np.mean([spectra.ses_power_of_spectrum(s, n, fs, kurt.band) for s in specs], axis=0)
    return _finish(power, df, shaft_hz, source, bearing, averages, kurt)
