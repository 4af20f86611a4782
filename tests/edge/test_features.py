"""Feature kernels against plain numpy/scipy computations of the same quantity."""

import numpy as np
import pytest
from scipy import signal, stats

from edge_agent import features
from edge_agent.features import BearingFrequencies, bearing_features, envelope_spectrum

FS = 12000.0


@pytest.fixture
def x():
    rng = np.random.default_rng(42)
    t = np.arange(8192) / FS
    return 0.3 * np.sin(2 * np.pi * 29.95 * t) + rng.normal(0, 0.1, t.size) + 0.02


def test_time_domain_matches_numpy(x):
    f = bearing_features(x, FS, BearingFrequencies(107.4, 162.2, 141.2))
    rms = np.sqrt(np.mean(x**2))
    assert f["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert f["rms"] == pytest.approx(rms, rel=1e-12)
    assert f["peak"] == pytest.approx(np.max(np.abs(x)), rel=1e-12)
    assert f["peak_to_peak"] == pytest.approx(np.ptp(x), rel=1e-12)
    assert f["crest"] == pytest.approx(np.max(np.abs(x)) / rms, rel=1e-12)
    assert f["kurtosis"] == pytest.approx(stats.kurtosis(x, fisher=False), rel=1e-9)


def test_envelope_spectrum_matches_scipy_hilbert():
    """Frequency-domain band-pass + analytic signal equals an ideal filter + scipy's hilbert."""
    rng = np.random.default_rng(1)
    n = 4096
    t = np.arange(n) / FS
    # 3 kHz carrier amplitude-modulated at 100 Hz, plus noise
    x = (1 + 0.5 * np.cos(2 * np.pi * 100 * t)) * np.sin(2 * np.pi * 3000 * t) + rng.normal(0, 0.05, n)
    band = (2000.0, 4000.0)
    freqs, amps = envelope_spectrum(x, FS, band)
    # independent reference: ideal band-pass by FFT mask, then scipy.signal.hilbert
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / FS)
    k = np.arange(f.size)
    keep = (k >= np.ceil(band[0] * n / FS)) & (k <= np.floor(band[1] * n / FS))
    filtered = np.fft.irfft(np.where(keep, spec, 0), n)
    env = np.abs(signal.hilbert(filtered))
    ref = np.abs(np.fft.rfft(env - env.mean())) * 2 / n
    np.testing.assert_allclose(amps, ref, atol=1e-9)
    k100 = int(round(100 * n / FS))
    assert freqs[np.argmax(amps[1:]) + 1] == pytest.approx(100, abs=FS / n)
    assert amps[k100 - 1:k100 + 2].max() > 0.3  # modulation depth 0.5 → envelope line ~0.5


def test_defect_amplitudes_pick_the_largest_bin_in_tolerance():
    n = 8192
    t = np.arange(n) / FS
    x = (1 + 0.8 * np.cos(2 * np.pi * 107.4 * t)) * np.sin(2 * np.pi * 3000 * t)
    f = bearing_features(x, FS, BearingFrequencies(107.4, 162.2, 141.2), band=(2000, 4000))
    _, amps = envelope_spectrum(x, FS, (2000, 4000))
    df = FS / n
    lo, hi = int(np.floor(107.4 * 0.98 / df)), int(np.ceil(107.4 * 1.02 / df))
    assert f["env_bpfo"] == pytest.approx(amps[lo:hi + 1].max())
    assert f["env_bpfo"] > 10 * f["env_bpfi"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 4)), "must be 1-D"),
        (np.array([1.0, np.nan] * 200), "must be finite; index 1"),
        (np.ones(3), "at least"),
    ],
)
def test_wrappers_reject_bad_input_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        bearing_features(bad, FS, BearingFrequencies(107.4, 162.2, 141.2))


def test_band_must_fit_below_nyquist():
    with pytest.raises(ValueError, match="band must satisfy"):
        envelope_spectrum(np.ones(1024), FS, (1000, 7000))


def test_scalar_helpers():
    x = np.array([1.0, -1.0, 1.0, -1.0] * 4)
    assert features.rms(x) == 1.0
    assert features.crest_factor(x) == 1.0
    assert features.kurtosis(x) == pytest.approx(1.0)


def test_baseband_envelope_spectrum_matches_scipy_hilbert():
    """The envelope module's fast kernel (band moved to baseband) equals a full-length scipy computation."""
    from edge_agent.features.envelope import envelope_amplitudes

    rng = np.random.default_rng(3)
    n, fs = 8192, 25600.0
    t = np.arange(n) / fs
    x = (1 + 0.4 * np.cos(2 * np.pi * 107.0 * t)) * np.sin(2 * np.pi * 5000 * t) + rng.normal(0, 0.1, n)
    band = (3000.0, 7000.0)
    amps = envelope_amplitudes(x, fs, band)
    # reference: ideal band-pass by FFT mask, scipy's hilbert, periodic Hann, one-sided amplitude spectrum
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[(f < band[0]) | (f > band[1])] = 0
    env = np.abs(signal.hilbert(np.fft.irfft(spec, n)))
    w = signal.windows.hann(n, sym=False)
    ref = np.abs(np.fft.rfft((env - env.mean()) * w)) * 2 / w.sum()
    k = amps.size
    assert k < ref.size  # fewer bins, same width: only up to the band's width
    np.testing.assert_allclose(amps[1:k - 1], ref[1:k - 1], rtol=0, atol=1e-5 * ref.max())  # measured 7e-7: the half-rate window grid
    peak = np.argmax(amps[5:]) + 5
    assert f[peak] == pytest.approx(107.0, abs=fs / n) and amps[peak] == pytest.approx(0.4, rel=0.05)
