"""The ahead-of-time kernels equal the JIT ones and a plain numpy run, on random and edge-case inputs.

Three implementations of every entry point of ``edge_agent.kernels.source``:
the compiled extension module (built at install; built here into a
temporary directory when the package has none), numba's JIT of the same
source, and the source run by the interpreter (plain numpy, no compiler).
Independent numpy formulas check the simplest kernels on top. Then the
loader: a stale or missing module falls back to the JIT with one logged
reason, ``TEACHFAB_KERNELS=aot`` refuses to fall back, and a process using
the module does not import numba.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edge_agent.kernels as kernels
from edge_agent.kernels import source
from edge_agent.kernels.compile import jit_kernels

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def aot(tmp_path_factory):
    """The compiled module's kernels: the package's own when its stamp is current, else a fresh build."""
    found, why = kernels._compiled()
    if found is not None:
        return found
    from edge_agent.kernels.build import build

    path = build(tmp_path_factory.mktemp("aot"))
    spec = importlib.util.spec_from_file_location(kernels.MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def jit():
    from types import SimpleNamespace

    return SimpleNamespace(**jit_kernels())


def _all(aot, jit, name, *args):
    """(aot, jit, interpreter) results of kernel ``name``; arrays copied per call (some kernels write)."""
    fresh = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # noqa: E731
    return getattr(aot, name)(*fresh()), getattr(jit, name)(*fresh()), getattr(source, name)(*fresh())


def _close(a, b, rtol=1e-9, atol=1e-12):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _signals():
    rng = np.random.default_rng(7)
    yield rng.normal(0, 1, 4096)
    yield rng.normal(3, 0.01, 1023)                      # odd length, large mean
    yield np.zeros(64)                                   # silence: every ratio is guarded
    yield np.full(100, 2.5)                              # constant: zero variance
    yield np.array([1.0])                                # one sample
    yield np.sin(2 * np.pi * 50 * np.arange(1200) / 12000.0) * 1e6  # large amplitude


def test_every_export_has_a_signature_and_source():
    assert set(source.EXPORTS) <= set(vars(source))
    assert set(source.HELPERS) <= set(vars(source))


@pytest.mark.parametrize("x", list(_signals()), ids=lambda x: f"n{x.size}")
def test_time_domain_and_pointwise_kernels(aot, jit, x):
    a, j, p = _all(aot, jit, "time_domain", x)
    scale = max(1.0, float(np.abs(x).max()))  # fastmath sums: rounding relative to the signal's size
    _close(a, p, atol=1e-14 * scale * x.size)
    _close(j, p, atol=1e-14 * scale * x.size)
    tiny = 1e-14 * scale * x.size
    assert p[0] == pytest.approx(x.mean(), abs=tiny) and p[1] == pytest.approx(np.sqrt(np.mean(x**2)))
    assert p[3] == pytest.approx(np.ptp(x))
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(x.size) / x.size)
    a, j, p = _all(aot, jit, "detrend_window", x, w)
    _close(a, p, atol=1e-14 * scale * x.size)
    _close(j, p, atol=1e-14 * scale * x.size)
    _close(p, (x - x.mean()) * w, atol=1e-9)
    z = np.fft.rfft(x)
    for name, args, ref in (("power", (z,), np.abs(z) ** 2), ("magnitude", (z, 0.5), 0.5 * np.abs(z))):
        a, j, p = _all(aot, jit, name, *args)
        _close(a, p, atol=1e-12 * scale**2)
        _close(j, p, atol=1e-12 * scale**2)
        _close(p, ref, rtol=1e-9, atol=1e-12 * scale**2)


def test_spectral_kernel_random_and_edge_bands(aot, jit):
    rng = np.random.default_rng(3)
    fs = 12800.0
    for n in (4096, 1025):
        x = rng.normal(size=n) + np.sin(2 * np.pi * 100.3 * np.arange(n) / fs)
        w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
        spec = np.fft.rfft((x - x.mean()) * w)
        bands = np.array([[0.0, 500.0], [500.0, 3000.0], [3000.0, fs / 2]])
        for orders in (np.array([100.3, 200.6, 300.9]), np.empty(0)):
            args = (spec, n, float(w.sum()), float(w @ w), fs, bands, orders, 0.05)
            a, j, p = _all(aot, jit, "spectral", *args)
            _close(a, p, rtol=1e-7)
            _close(j, p, rtol=1e-7)
        # the bands cover 0..fs/2, so their energies add up to the signal's mean square (Parseval)
        assert p[0].sum() == pytest.approx(np.sum(((x - x.mean()) * w) ** 2) / (w @ w), rel=1e-9)


def test_motor_and_envelope_kernels(aot, jit):
    rng = np.random.default_rng(5)
    fs, n = 5000.0, 8192
    t = np.arange(n) / fs
    i3 = np.ascontiguousarray(np.stack([np.sin(2 * np.pi * 50 * t + k * 2.094) for k in range(3)])
                              + rng.normal(0, 0.01, (3, n)))
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    specs = np.fft.rfft((i3 - i3.mean(axis=1, keepdims=True)) * w, axis=1)
    a, j, p = _all(aot, jit, "motor_current", i3, specs, 2 / w.sum(), fs, 50.0, 0.05, 7, 0.94, 1.06, 1.0)
    _close(a, p, rtol=1e-7)
    _close(j, p, rtol=1e-7)
    assert p[2] == pytest.approx(50.0, abs=0.05)
    x = rng.normal(size=4096)
    spec = np.fft.rfft(x)
    for name, args in (("analytic_band", (spec, 4096, 12000.0, 2000.0, 4000.0)),
                       ("analytic_band", (spec, 4096, 12000.0, 0.0, 6000.0)),   # clipped to bins 1..n/2-1
                       ("baseband", (spec, 4096, 12000.0, 2000.0, 4000.0, 2048)),
                       ("baseband", (spec, 4096, 12000.0, 2000.0, 4000.0, 16)),  # band wider than m
                       ("centred_envelope", (np.fft.ifft(spec), 0.5, np.hanning(4096))),
                       ("peak_near", (np.abs(spec), 2.9, 100.0, 0.02)),
                       ("peak_near", (np.abs(spec), 2.9, 1e6, 0.02))):           # beyond the spectrum
        a, j, p = _all(aot, jit, name, *args)
        _close(a, p)
        _close(j, p)
    amps = np.abs(spec)
    assert source.peak_near(amps, 2.9, 100.0, 0.02) == amps[33:36].max()
    lines = np.array([107.4, 162.2, 141.2, 11.9])
    a, j, p = _all(aot, jit, "env_indicators", amps, 2.9, lines, 29.95, 0.02, 3)
    _close(a, p)
    _close(j, p)


def test_diagnosis_kernels(aot, jit):
    rng = np.random.default_rng(9)
    power = rng.exponential(1.0, 3000)
    power[[107, 214, 321]] += 80.0
    x = rng.normal(size=4096)
    r = np.ascontiguousarray(np.correlate(x, x, "full")[4095:4095 + 33] / 4096)
    protect = np.zeros(power.size, dtype=bool)
    protect[[90, 91]] = True
    env = np.ascontiguousarray(np.fft.ifft(np.fft.fft(rng.normal(size=(6, 256)), axis=1), axis=1))
    for name, args in (("levinson", (r, 32)), ("levinson", (np.zeros(5), 4)),        # silence: err 0, a = [1, 0...]
                       ("log_gamma_sf", (3.5, 4)), ("log_gamma_sf", (0.0, 1)), ("log_gamma_sf", (900.0, 10)),
                       ("log_chi2_sf_even", (30.0, 4)), ("log_any_of", (np.log(0.01), 5)),
                       ("log_any_of", (-80.0, 7)),
                       ("local_median", (power, 500, 12, 2)), ("local_median", (power, 0, 3, 5)),  # nothing left
                       ("peak_log_p", (power, 214, 1, 1.0, 4)), ("peak_log_p", (np.zeros(50), 20, 1, 1.0, 1)),
                       ("comb_search", (power, 1.0, 107.3, 4, 0.975, 1.006, 1, 12)),
                       ("comb_search", (power, 1.0, 5000.0, 4, 0.975, 1.006, 1, 12)),  # beyond the spectrum
                       ("notch_harmonics", (power, 29.95, 1.0, 0.002, 12, protect)),
                       ("notch_levels", (power, 29.95, 1.0, 0.002, 12)),
                       ("apply_notches", (power, np.ascontiguousarray([[5.0, 9.0, 0.5], [89.0, 93.0, 0.7]]), protect)),
                       ("band_kurtoses", (env,)), ("band_kurtoses", (np.zeros((2, 8), complex),))):
        a, j, p = _all(aot, jit, name, *args)
        _close(a, p)
        _close(j, p)


@pytest.mark.parametrize(("n_trees", "height", "n_features"), [(5, 3, 1), (25, 8, 10), (3, 0, 2)])
def test_half_space_tree_kernels(aot, jit, n_trees, height, n_features):
    rng = np.random.default_rng(height)
    n_branch, n_nodes = 2**height - 1, 2 ** (height + 1) - 1
    u = rng.random((n_trees, max(2 * n_branch, 1)))
    lo0, hi0 = np.zeros(n_features), np.ones(n_features)
    builds = []
    for impl in (aot, jit, source):
        feat, thr = np.zeros((n_trees, n_branch), dtype=np.int64), np.zeros((n_trees, n_branch))
        impl.hst_build(u, lo0, hi0, height, feat, thr)
        builds.append((feat, thr))
    for feat, thr in builds[:2]:
        np.testing.assert_array_equal(feat, builds[2][0])
        np.testing.assert_array_equal(thr, builds[2][1])
    split = np.ascontiguousarray(np.stack([builds[2][1], builds[2][0].astype(np.float64)], axis=-1))
    X = rng.random((120, n_features))
    X[::7, 0] = np.nan  # missing values follow the heavier child
    results = []
    for impl in (aot, jit, source):
        mass = np.zeros((n_trees, n_nodes, 2), dtype=np.int32)
        touched = np.zeros((2, n_trees, n_nodes + 1), dtype=np.int32)
        out, counter, first, lat = impl.hst_score_learn_many(split, mass, height, 5.0, 1e4, 50, 0, True, X, 0,
                                                             touched)
        walked = impl.hst_walk(split, mass, height, 5.0, X[3], True, False, lat, touched)
        path = np.zeros((n_trees, height + 1), dtype=np.int64)
        scored = impl.hst_score_path(split, mass, height, 5.0, X[3], lat, path)
        before, touched_before = mass.copy(), touched.copy()
        impl.hst_learn_path(mass, path, lat, touched)
        after_path = mass.copy()
        impl.hst_walk(split, before, height, 5.0, X[3], False, True, lat, touched_before)  # the same learn, routed again
        np.testing.assert_array_equal(after_path, before)
        np.testing.assert_array_equal(touched, touched_before)
        for plane in range(2):  # the lists name exactly the non-zero nodes of each plane
            for t in range(n_trees):
                listed = np.sort(touched[plane, t, 1:touched[plane, t, 0] + 1])
                np.testing.assert_array_equal(listed, np.flatnonzero(mass[t, :, plane]))
        impl.hst_pivot(mass, 1 - lat, touched)
        assert not mass[:, :, 1 - lat].any() and not touched[1 - lat, :, 0].any()
        results.append((out, counter, first, lat, walked, scored, mass))
        small = np.zeros((2, n_trees, 4), dtype=np.int32)  # room for 3 nodes: overflows, so the pivot clears all
        full = np.zeros((n_trees, n_nodes, 2), dtype=np.int32)
        impl.hst_score_learn_many(split, full, height, 5.0, 1e4, 1000, 0, True, X[:30], 0, small)
        assert (small[0, :, 0] == (-1 if height >= 2 else height + 1)).all() and full[:, :, 0].any()
        impl.hst_pivot(full, 0, small)
        assert not full.any() and not small[0, :, 0].any()
    for r in results[:2]:
        np.testing.assert_array_equal(r[0], results[2][0])  # integer masses: exact, not approximate
        assert r[1:6] == results[2][1:6]
        np.testing.assert_array_equal(r[6], results[2][6])
    out, counter, first, lat, walked, scored, mass = results[2]
    assert (counter, first, lat) == (20, False, 0) and out[50:].max() > 0 and walked == scored
    assert not mass[:, :, 1].any()  # the pivot emptied the new latest plane


# ------------------------------------------------------------------ loader

def test_stale_module_falls_back_to_jit_with_one_logged_reason(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(kernels, "PACKAGE_DIR", tmp_path)
    for name in kernels.SOURCES:
        (tmp_path / name).write_text("changed = True\n")
    (tmp_path / kernels.STAMP).write_text(json.dumps({"source_sha256": "0" * 64}))
    monkeypatch.setattr(kernels, "_loaded", None)
    monkeypatch.delenv("TEACHFAB_KERNELS", raising=False)
    with caplog.at_level(logging.WARNING, logger="edge_agent.kernels"):
        first = kernels.load()
        assert kernels.load() is first
    assert kernels.mode() == "jit"
    assert [r.getMessage() for r in caplog.records if "just in time" in r.getMessage()] == [
        "kernels: compiling just in time with numba (_aot.json was built from other kernel source; rebuild: "
        "python -m edge_agent.kernels.build); an ahead-of-time build takes less memory: "
        "python -m edge_agent.kernels.build"]
    monkeypatch.setattr(kernels, "_loaded", None)
    monkeypatch.setenv("TEACHFAB_KERNELS", "aot")
    with pytest.raises(RuntimeError, match="TEACHFAB_KERNELS=aot but the ahead-of-time kernels cannot be used: "
                                           "_aot.json was built from other kernel source"):
        kernels.load()
    monkeypatch.setenv("TEACHFAB_KERNELS", "fast")
    with pytest.raises(RuntimeError, match="TEACHFAB_KERNELS must be 'aot', 'jit' or unset, got 'fast'"):
        kernels.load()


def test_a_process_on_the_compiled_module_never_imports_numba(aot):
    if kernels._compiled()[0] is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but there is no current AOT build: ./run.sh test builds it at install")
        pytest.skip("this checkout has no current AOT build (python -m edge_agent.kernels.build); "
                    "tests/system/test_install_edge.py checks an installed one")
    code = ("import sys, numpy as np, edge_agent.agent, edge_agent.kernels as k; "
            "from edge_agent.agent import _warm_up_kernels; _warm_up_kernels(); "
            "from edge_agent.bearings import SKF_6205; from edge_agent.diagnosis import diagnose_window; "
            "d = diagnose_window(np.random.default_rng(0).normal(size=8192), 12000.0, 1797.0, SKF_6205); "
            "print(k.mode(), 'numba' in sys.modules, d.fault)")  # an alert's diagnosis too
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["aot", "False", "none"]


def test_a_build_reuses_a_module_only_when_its_stamp_matches(tmp_path):
    from edge_agent.kernels.build import build, reusable

    if kernels._compiled()[0] is None:
        pytest.skip("this checkout has no current AOT build to reuse (python -m edge_agent.kernels.build)")
    built = reusable(kernels.PACKAGE_DIR)
    assert built is not None  # the package's own module and stamp, current
    out = tmp_path / "wheel" / "edge_agent" / "kernels"
    copied = build(out, reuse=kernels.PACKAGE_DIR)  # a copy, not a 25 s compile
    assert copied.read_bytes() == built.read_bytes()
    assert json.loads((out / kernels.STAMP).read_text()) == json.loads((kernels.PACKAGE_DIR / kernels.STAMP).read_text())
    assert reusable(out) == copied
    for field, other in (("source_sha256", "0" * 64), ("numba", "0.1.0"), ("numpy", "1.0.0"), ("python", "3.0.0"),
                         ("backend", "other"), ("cpu", "host:another")):
        stale = tmp_path / field
        stale.mkdir()
        (stale / copied.name).write_bytes(b"")
        stamp = json.loads((out / kernels.STAMP).read_text())
        (stale / kernels.STAMP).write_text(json.dumps({**stamp, field: other}))
        assert reusable(stale) is None, field
    (out / kernels.STAMP).write_text("{not json")
    assert reusable(out) is None
