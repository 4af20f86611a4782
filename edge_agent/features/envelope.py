"""Envelope analysis: bearing-defect lines in the envelope spectrum.

The standard chain (DOMAIN.md, "Envelope analysis"): band-pass around a
resonance that defect impacts excite → analytic signal → magnitude (the
envelope) → spectrum of the envelope → look for BPFO, BPFI, 2×BSF, FTF and
their harmonics. Band-pass and analytic signal are one FFT, a masked
one-sided inverse FFT and a magnitude (no filter design per window):
numpy's FFTs around compiled kernels (:mod:`edge_agent.kernels`).

Indicators are made comparable across machines, sensors and gains by
dividing each line by the median of the envelope spectrum around it (a
local background), so ``env_bpfo_snr = 5`` means "the BPFO line stands five
times above its neighbourhood" on any machine. A defect shows a *family*:
``env_<line>_hsnr`` is the geometric mean of the SNR of harmonics 1-3.

Examples
--------
>>> import numpy as np
>>> from edge_agent.bearings import SKF_6205
>>> fs, fr = 12000.0, 29.95
>>> rng = np.random.default_rng(0)
>>> t = np.arange(16384) / fs
>>> bursts = (np.sin(2 * np.pi * SKF_6205.bpfo * fr * t) > 0.99) * np.sin(2 * np.pi * 3000 * t)
>>> x = bursts + rng.normal(0, 0.2, t.size)
>>> ind = envelope_indicators(x, fs, fr, SKF_6205, band=(2000.0, 4000.0))
>>> ind["env_bpfo_snr"] > 10, ind["env_bpfi_snr"] < 4
(True, True)
"""

from __future__ import annotations

import numpy as np
from edge_agent.features.validation import as_signal, hann
from edge_agent.kernels import load

_k = load()

#: Lines searched, as (feature prefix, key of ``BearingGeometry.frequencies``).
LINES = (("bpfo", "bpfo"), ("bpfi", "bpfi"), ("2bsf", "2bsf"), ("ftf", "ftf"))
#: Harmonics whose SNR form the ``_hsnr`` family indicator.
HARMONICS = 3
#: Feature names produced by :func:`envelope_indicators`, in order.
ENVELOPE_FEATURES = tuple(
    f"env_{name}{suffix}" for name, _ in LINES for suffix in ("", "_snr", "_hsnr")
) + ("env_bpfi_sb", "env_2bsf_sb", "env_band_lo", "env_band_hi")


_LINE_NAMES = tuple(f"env_{name}{suffix}" for name, _ in LINES for suffix in ("", "_snr", "_hsnr"))


def _baseband_length(n: int, fs: float, f_lo: float, f_hi: float) -> int:
    """Samples of the complex baseband envelope: a power of two holding twice the band's bins, at most ``n``."""
    bins = int(np.floor(f_hi * n / fs)) - int(np.ceil(f_lo * n / fs)) + 1
    return min(n, 1 << int(np.ceil(np.log2(max(2 * bins, 16)))))


def _envelope_spectrum(x, fs, f_lo, f_hi, w):
    """Amplitude spectrum (window ``w``) of the envelope of ``x`` band-passed to [f_lo, f_hi].

    The band's bins are moved to baseband and inverted at ``m = len(w)``
    points (twice the band's bins: the envelope's own bandwidth, so nothing
    aliases). A frequency shift does not change a magnitude, and the bins of
    the result are the same ``fs / n`` Hz as the input's — only fewer.
    """
    n, m = x.size, w.size
    z = np.fft.ifft(_k.baseband(np.fft.rfft(x), n, fs, f_lo, f_hi, m))
    env = _k.centred_envelope(z, m / n, w)  # ifft divides by m, the full-length analytic signal by n
    return _k.magnitude(np.fft.rfft(env), 2.0 / float(w.sum()))


def default_band(fs: float) -> tuple[float, float]:
    """Demodulation band used when none is chosen: 15-40 % of ``fs``.

    Examples
    --------
    >>> default_band(12000.0)
    (1800.0, 4800.0)
    """
    return 0.15 * fs, 0.40 * fs


def check_band(band, fs: float) -> tuple[float, float]:
    """Return ``band`` as floats or raise ``ValueError`` unless ``0 < low < high < fs/2``."""
    f_lo, f_hi = float(band[0]), float(band[1])
    if not 0 < f_lo < f_hi < fs / 2:
        raise ValueError(f"band must satisfy 0 < low < high < fs/2 = {fs / 2}, got {band}")
    return f_lo, f_hi


def envelope_amplitudes(x, fs: float, band: tuple[float, float] | None = None) -> np.ndarray:
    """Envelope amplitude spectrum of one window (bins of ``fs / len(x)`` Hz, up to the band's width).

    Average these over windows (same length) for a cleaner spectrum, then
    call :func:`line_indicators`.
    """
    sig = as_signal(x, min_len=256)
    f_lo, f_hi = check_band(band if band is not None else default_band(fs), fs)
    m = _baseband_length(sig.size, float(fs), f_lo, f_hi)
    return _envelope_spectrum(sig, float(fs), f_lo, f_hi, hann(m)[0])


def line_indicators(amps: np.ndarray, df: float, shaft_hz: float, bearing,
                    tolerance: float = 0.02) -> dict[str, float]:
    """Line amplitudes and SNRs at the bearing's defect frequencies in an envelope spectrum.

    Parameters
    ----------
    amps : numpy.ndarray
        Envelope amplitude spectrum (e.g. from :func:`envelope_amplitudes`).
    df : float
        Its bin width in Hz.
    shaft_hz : float
        Shaft speed in Hz (rpm / 60).
    bearing : edge_agent.bearings.BearingGeometry
        Bearing whose defect frequencies are searched.
    tolerance : float
        Relative search width around each line (slip: real machines run
        1-2 % below the kinematic values).
    """
    if not shaft_hz > 0 or not df > 0 or not 0 < tolerance < 0.2:
        raise ValueError(f"need shaft_hz > 0, df > 0, 0 < tolerance < 0.2; got {shaft_hz}, {df}, {tolerance}")
    f = bearing.frequencies(shaft_hz)
    lines = np.array([f[key] for _, key in LINES])
    vals = _k.env_indicators(np.ascontiguousarray(amps, dtype=np.float64), float(df), lines, float(shaft_hz),
                             float(tolerance), HARMONICS)
    out = dict(zip(_LINE_NAMES, vals.tolist()))
    out["env_bpfi_sb"], out["env_2bsf_sb"] = float(vals[-2]), float(vals[-1])
    return out


def envelope_indicators(x, fs: float, shaft_hz: float, bearing, band: tuple[float, float] | None = None,
                        tolerance: float = 0.02) -> dict[str, float]:
    """Envelope-spectrum indicators of one window: one value per :data:`ENVELOPE_FEATURES` name.

    ``env_<line>`` is the line amplitude (units of ``x``), ``env_<line>_snr``
    its ratio to the local background, ``env_<line>_hsnr`` the geometric mean
    SNR of harmonics 1-3; ``env_bpfi_sb`` / ``env_2bsf_sb`` the mean SNR of
    the BPFI ± 1X and 2×BSF ± FTF sidebands; ``env_band_lo/hi`` the band used.
    """
    band = check_band(band if band is not None else default_band(fs), fs)
    amps = envelope_amplitudes(x, fs, band)
    out = line_indicators(amps, fs / len(x), shaft_hz, bearing, tolerance)
    out["env_band_lo"], out["env_band_hi"] = band
    return out


def select_band(x, fs: float, min_hz: float | None = None, levels: int = 5) -> tuple[float, float]:
    """Demodulation band where the envelope is most impulsive (a coarse kurtogram).

    Antoni's spectral kurtosis idea on a dyadic grid: for bandwidths
    ``fs/2 / 2**k`` (k = 1..levels) with half-overlapping centres, the band
    whose squared envelope has the highest kurtosis is where defect impacts
    ring loudest above the noise. Meant for diagnosis of a recording or to
    choose a pipeline's band once, not for every streaming window.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> fs = 12000.0
    >>> t = np.arange(24000) / fs
    >>> x = rng.normal(0, 0.3, t.size) + (np.sin(2 * np.pi * 107 * t) > 0.995) * np.sin(2 * np.pi * 3500 * t) * 3
    >>> lo, hi = select_band(x, fs)
    >>> lo < 3500 < hi
    True
    """
    sig = as_signal(x, min_len=1024)
    nyq = fs / 2
    lowest = min_hz if min_hz is not None else 0.02 * fs
    spec = np.fft.rfft(sig - sig.mean())
    n = sig.size
    best, best_band = -np.inf, default_band(fs)
    for k in range(1, levels + 1):
        width = nyq / 2 ** k
        for lo in np.arange(0.0, nyq - width + 1e-9, width / 2):
            lo_b, hi_b = max(lo, lowest), min(lo + width, 0.98 * nyq)
            if hi_b - lo_b < 0.5 * width:
                continue
            mask = np.zeros(n, dtype=np.complex128)
            k_lo, k_hi = int(np.ceil(lo_b * n / fs)), int(np.floor(hi_b * n / fs))
            mask[k_lo:k_hi + 1] = 2.0 * spec[k_lo:k_hi + 1]
            e2 = np.abs(np.fft.ifft(mask)) ** 2
            m = e2.mean()
            kurt = ((e2 - m) ** 2).mean() / (m * m) if m > 0 else 0.0  # SK of the squared envelope
            if kurt > best:
                best, best_band = kurt, (float(lo_b), float(hi_b))
    return best_band
