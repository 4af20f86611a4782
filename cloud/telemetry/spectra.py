"""Spectra of waveform snapshots for the mentor's snapshot view (plain numpy, on the hub).

An edge sends raw samples when asked (``cmd/snapshot``); mentors look at
them the way an analyst would: the amplitude spectrum (Hann window,
amplitude-corrected, so a sine of amplitude A reads A) and the envelope
spectrum of a band-passed copy (DOMAIN.md, "Envelope analysis") where
bearing-defect lines appear. The edge computes its own indicators with
compiled kernels; this is the hub's independent view of the same raw data.

Examples
--------
>>> import numpy as np
>>> fs = 12800.0
>>> t = np.arange(12800) / fs
>>> x = 0.5 * np.sin(2 * np.pi * 100.0 * t)
>>> s = snapshot_spectra(x, fs)
>>> f, a = np.array(s["spectrum"]["freqs"]), np.array(s["spectrum"]["amplitude"])
>>> round(float(f[np.argmax(a)]), 1), round(float(a.max()), 2)
(100.0, 0.5)
"""

from __future__ import annotations

import numpy as np

#: Most points a spectrum is returned with (browsers plot thousands, not millions).
MAX_POINTS = 4000


def _decimate_max(freqs: np.ndarray, amps: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep every line visible: the largest amplitude of each group of bins."""
    if amps.size <= max_points:
        return freqs, amps
    step = int(np.ceil(amps.size / max_points))
    n = amps.size // step * step
    idx = amps[:n].reshape(-1, step).argmax(axis=1) + np.arange(0, n, step)
    return freqs[idx], amps[idx]


def amplitude_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Hann-windowed amplitude spectrum of ``x`` (units of ``x``)."""
    w = np.hanning(x.size)
    amps = np.abs(np.fft.rfft((x - x.mean()) * w)) * 2.0 / w.sum()
    return np.fft.rfftfreq(x.size, 1.0 / fs), amps


def envelope_spectrum(x: np.ndarray, fs: float, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the envelope of ``x`` band-passed to ``band`` (FFT mask + analytic signal)."""
    n = x.size
    spec = np.fft.fft(x - x.mean())
    f = np.fft.fftfreq(n, 1.0 / fs)
    analytic = np.where((f >= band[0]) & (f <= band[1]), 2.0 * spec, 0.0)
    env = np.abs(np.fft.ifft(analytic))
    return amplitude_spectrum(env, fs)


def snapshot_spectra(values, fs: float, band: tuple[float, float] | None = None,
                     max_hz_envelope: float = 1000.0) -> dict:
    """Amplitude and envelope spectra of one snapshot, JSON-ready and thinned to :data:`MAX_POINTS`.

    Parameters
    ----------
    values : array_like
        Raw samples.
    fs : float
        Sample rate in Hz.
    band : (float, float) or None
        Demodulation band; default 15-40 % of ``fs`` (as the edge's default).
    max_hz_envelope : float
        Highest envelope-spectrum frequency returned (defect lines and
        their harmonics sit below 1 kHz on most machines).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 64 or not np.all(np.isfinite(x)):
        raise ValueError(f"snapshot must be at least 64 finite samples, got shape {x.shape}")
    if not fs > 0:
        raise ValueError(f"sample rate must be > 0, got {fs}")
    band = band or (0.15 * fs, 0.40 * fs)
    f, a = _decimate_max(*amplitude_spectrum(x, fs), MAX_POINTS)
    ef, ea = envelope_spectrum(x, fs, band)
    keep = ef <= max_hz_envelope
    ef, ea = _decimate_max(ef[keep], ea[keep], MAX_POINTS)
    return {"spectrum": {"freqs": f.round(3).tolist(), "amplitude": a.tolist()},
            "envelope": {"freqs": ef.round(3).tolist(), "amplitude": ea.tolist(), "band_hz": list(band)},
            "rms": float(np.sqrt(np.mean((x - x.mean()) ** 2))), "resolution_hz": fs / x.size}
