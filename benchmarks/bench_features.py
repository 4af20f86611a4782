"""Cost of the ``vibration_full`` feature set per window, against one FFT and against plain numpy/scipy.

One 4096-sample window at 25.6 kHz (SKF 6205 at 1797 rpm). Printed side by
side from one run, best of ``REPEAT`` timeit runs after a warm-up:

- ``vibration_full`` (time + spectral + envelope) vs one ``numpy.fft.rfft``
  of the window (goal: at most 5x);
- an idiomatic numpy/scipy implementation of the same set (``scipy.stats``,
  ``scipy.signal.periodogram``, a Butterworth band-pass with
  ``sosfiltfilt`` and ``scipy.signal.hilbert`` for the envelope) vs
  ``vibration_full`` (goal: ours at least 18x faster);
- each part on its own, to show where the time goes.

Run: ``.venv/bin/python benchmarks/bench_features.py``. A script, not a
test: timings depend on the machine, so nothing here asserts.
"""

from __future__ import annotations

import timeit

import numpy as np
from scipy import signal, stats

from edge_agent.bearings import SKF_6205
from edge_agent.features import FEATURE_SETS, FeatureContext
from edge_agent.features.envelope import HARMONICS, default_band
from edge_agent.features.spectral import default_bands

FS, N, RPM = 25600.0, 4096, 1797.0
NUMBER, REPEAT = 200, 7
CTX = FeatureContext(fs=FS, rpm=RPM, bearing=SKF_6205)


def peak_in(amps: np.ndarray, df: float, lo: float, hi: float) -> float:
    """Largest amplitude among the bins bracketing [lo, hi] Hz."""
    return amps[int(np.floor(lo / df)):int(np.ceil(hi / df)) + 1].max()


def scipy_vibration_full(x: np.ndarray, ctx: FeatureContext = CTX) -> dict[str, float]:
    """The same features as ``vibration_full``, written the usual numpy/scipy way."""
    fs, fr, tol = ctx.fs, ctx.rpm / 60, ctx.slip_tolerance
    out: dict[str, float] = {}
    # time domain
    rms = np.sqrt(np.mean(x**2))
    peak = np.max(np.abs(x))
    mean_abs = np.mean(np.abs(x))
    out.update(mean=np.mean(x), rms=rms, peak=peak, peak_to_peak=np.ptp(x), crest=peak / rms,
               kurtosis=stats.kurtosis(x, fisher=False), skewness=stats.skew(x),
               shape_factor=rms / mean_abs, impulse_factor=peak / mean_abs)
    # spectral
    f, pxx = signal.periodogram(x, fs, window="hann")
    for lo, hi in default_bands(fs):
        out[f"band_energy_{lo:g}_{hi:g}"] = np.sum(pxx[(f >= lo) & (f < hi)]) * f[1]
    out["spectral_centroid"] = np.sum(f * pxx) / np.sum(pxx)
    w = signal.get_window("hann", x.size)
    amps = np.abs(np.fft.rfft((x - x.mean()) * w)) * 2 / w.sum()
    for k in (1, 2, 3):
        out[f"order_{k}x"] = peak_in(amps, f[1], k * fr * (1 - tol), k * fr * (1 + tol))
    # envelope: band-pass, Hilbert, spectrum of the envelope, lines against local background
    band = default_band(fs)
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
    env_amps = np.abs(np.fft.rfft((env - env.mean()) * w)) * 2 / w.sum()

    def line(fl):
        a = peak_in(env_amps, f[1], fl * (1 - tol), fl * (1 + tol))
        return a, a / np.median(env_amps[int(0.75 * fl / f[1]):int(np.ceil(1.25 * fl / f[1])) + 1])

    lines = SKF_6205.frequencies(fr)
    for name in ("bpfo", "bpfi", "2bsf", "ftf"):
        a, snr = line(lines[name])
        hsnr = stats.gmean([max(line(h * lines[name])[1], 1e-3) for h in range(1, HARMONICS + 1)])
        out.update({f"env_{name}": a, f"env_{name}_snr": snr, f"env_{name}_hsnr": hsnr})
    out["env_bpfi_sb"] = np.mean([line(lines["bpfi"] + s * fr)[1] for s in (-1, 1)])
    out["env_2bsf_sb"] = np.mean([line(lines["2bsf"] + s * lines["ftf"])[1] for s in (-1, 1)])
    out["env_band_lo"], out["env_band_hi"] = band
    return {k: float(v) for k, v in out.items()}


def best_us(fn) -> float:
    fn()  # warm-up (compiles or loads cached kernels)
    return min(timeit.repeat(fn, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6


def main() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(N) / FS
    x = np.sin(2 * np.pi * RPM / 60 * t) + rng.normal(0, 0.3, N)
    ours = FEATURE_SETS["vibration_full"]
    assert set(scipy_vibration_full(x)) == set(ours.names(CTX))  # same features on both sides
    timings = {
        "numpy.fft.rfft": best_us(lambda: np.fft.rfft(x)),
        "vibration_full": best_us(lambda: ours.compute(x, CTX)),
        "numpy/scipy vibration_full": best_us(lambda: scipy_vibration_full(x)),
    }
    for part in ("time", "spectral", "envelope"):
        timings[f"  part: {part}"] = best_us(lambda p=FEATURE_SETS[part]: p.compute(x, CTX))
    print(f"window {N} samples at {FS:g} Hz, best of {REPEAT} x {NUMBER} after warm-up")
    for name, us in timings.items():
        print(f"{name:<30} {us:9.1f} us")
    fft, full, ref = timings["numpy.fft.rfft"], timings["vibration_full"], timings["numpy/scipy vibration_full"]
    print(f"vibration_full / rfft        {full / fft:6.2f}x   (goal <= 5x)")
    print(f"numpy/scipy / vibration_full {ref / full:6.1f}x   (goal >= 18x)")


if __name__ == "__main__":
    main()
