"""Cost of diagnosing one 8192-sample window against one ``numpy.fft.rfft`` of it (goal ≤ 20×).

Both are timed side by side in one run (best of repeated batches,
interleaved, after loading the kernels), so the ratio holds on any machine; the diagnosis is what the
edge runs on an alert: whitening, kurtogram, squared-envelope spectrum,
evidence for the three bearing families, the call. Its FFTs are
``scipy.fft``'s (the same pocketfft, faster here than numpy's); the ratio
against scipy's own ``rfft`` is printed too, so the gain from the library
and the cost of the method can be told apart.

Usage::

    .venv/bin/python benchmarks/bench_diagnosis.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy import fft as scipy_fft  # noqa: E402

from edge_agent.bearings import SKF_6205  # noqa: E402
from edge_agent.diagnosis import diagnose_window  # noqa: E402
from simulators.faults import FaultEvent  # noqa: E402
from simulators.rotating_machine import RotatingMachine  # noqa: E402


def best_of(fns: dict, numbers: dict, repeat: int) -> dict:
    """Seconds per call of each function, best batch of ``repeat``; the batches interleaved.

    Interleaving puts every function through the same swings of a shared
    machine's speed, so their ratio does not depend on which ran first.
    """
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            best[k] = min(best[k], timeit.timeit(fn, number=numbers[k]) / numbers[k])
    return best


def main(argv: list[str] | None = None) -> int:
    """Print the two timings and their ratio; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    m = RotatingMachine("bench", fs=12000.0, faults=[FaultEvent("outer_race", 0.0, 0.2, ramp_s=0.0)], seed=1)
    x = np.ascontiguousarray(m.next_block(8192))
    diagnose_window(x, 12000.0, 1797.0, SKF_6205)  # compile / load the cache
    t = best_of({"fft": lambda: np.fft.rfft(x), "sfft": lambda: scipy_fft.rfft(x), "diag": lambda: diagnose_window(x, 12000.0, 1797.0, SKF_6205),
                 "est": lambda: diagnose_window(x, 12000.0, None, SKF_6205)},
                {"fft": 200, "sfft": 200, "diag": 20, "est": 5}, args.repeat)
    t_fft, t_diag, t_est = t["fft"], t["diag"], t["est"]
    print(f"rfft of 8192 samples (numpy):         {1e6 * t_fft:9.1f} µs")
    print(f"rfft of 8192 samples (scipy.fft, which the diagnosis uses): {1e6 * t['sfft']:7.1f} µs")
    print(f"diagnosis of the window (rpm given):  {1e6 * t_diag:9.1f} µs  = {t_diag / t_fft:5.1f} × rfft (goal ≤ 20×)")
    print(f"diagnosis with speed estimated:       {1e6 * t_est:9.1f} µs  = {t_est / t_fft:5.1f} × rfft")
    print(f"against scipy.fft's rfft:             {t_diag / t['sfft']:5.1f} × (rpm given), {t_est / t['sfft']:5.1f} × "
          "(speed estimated)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
