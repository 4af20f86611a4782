"""Simulator sweep of the bearing diagnosis: every fault type over speeds, resonances and noise levels.

Each case is a fresh :class:`simulators.rotating_machine.RotatingMachine`
(its own seed) with one fault — bearing faults (outer race, inner race,
ball), faults that are *not* bearing defects (imbalance, misalignment,
looseness) or none — at a speed, a structural resonance and a broadband
noise level. Two figures per case: the call on single 8192-sample windows
(what the edge does on an alert) and the call on a 4 s recording (what
replay does). Prints a confusion matrix of each and per-class recall.

Usage::

    .venv/bin/python benchmarks/sweep_diagnosis.py [--quick] [--windows N] [--severity G] [--oracle]

``--oracle`` also judges each recording the way nobody can in the field:
a 600 Hz band centred on the resonance the simulator placed, its Hilbert
envelope (scipy), and the prominence of the true family's fundamental over
the envelope spectrum's local median, against the highest such peak of any
family on the healthy recordings at the same noise. A fault case whose
oracle peak is not above the healthy ones is out of reach of envelope
analysis at that noise, whatever the band choice.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.signal import butter, hilbert, sosfiltfilt  # noqa: E402

from edge_agent.diagnosis import diagnose, diagnose_window  # noqa: E402
from simulators.faults import FaultEvent  # noqa: E402
from simulators.rotating_machine import RotatingMachine  # noqa: E402

KINDS = ("outer_race", "inner_race", "ball", "imbalance", "misalignment", "looseness", None)
TRUTH = {"outer_race": "outer_race", "inner_race": "inner_race", "ball": "ball"}
CALLS = ("outer_race", "inner_race", "ball", "none", "unknown")


def truth(kind: str | None) -> str:
    """Expected call: the bearing fault, else ``none`` (not a bearing defect)."""
    return TRUTH.get(kind, "none")


def cases(quick: bool):
    """(kind, rpm, resonance Hz, noise g) of the sweep."""
    rpms = (900.0, 1797.0, 3000.0) if quick else (600.0, 1200.0, 1797.0, 3000.0)
    res = (2500.0, 4500.0) if quick else (1800.0, 3000.0, 4500.0)
    noise = (0.05, 0.3) if quick else (0.03, 0.1, 0.3)
    return list(itertools.product(KINDS, rpms, res, noise))


FAMILY = {"outer_race": "bpfo", "inner_race": "bpfi", "ball": "2bsf"}


def oracle_db(x: np.ndarray, fs: float, res_hz: float, freqs: dict[str, float]) -> dict[str, float]:
    """Envelope-spectrum prominence (dB over the local median) of each family's fundamental, band at ``res_hz``."""
    sos = butter(4, [res_hz - 300.0, res_hz + 300.0], btype="band", fs=fs, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x)))
    spec = np.abs(np.fft.rfft((env - env.mean()) * np.hanning(env.size)))
    f = np.fft.rfftfreq(env.size, 1.0 / fs)
    out = {}
    for family in FAMILY.values():
        i = int(np.argmin(np.abs(f - freqs[family])))
        tol = max(3, int(0.01 * freqs[family] / (f[1] - f[0])))  # 1 % slip
        out[family] = float(20 * np.log10(spec[i - tol:i + tol + 1].max() / np.median(spec[max(1, i - 40):i + 41])))
    return out


def print_oracle(rows: list[tuple[str, float, dict[str, float]]]) -> None:
    """Per noise level: healthy ceiling, and how many fault cases an oracle band lifts above it."""
    print("\noracle band (resonance ± 300 Hz, known to the simulator only): true family's peak over the healthy"
          " ceiling")
    for noise in sorted({r[1] for r in rows}):
        ceiling = max(max(db.values()) for t, nz, db in rows if nz == noise and t == "none")
        cells = []
        for t, family in FAMILY.items():
            peaks = [db[family] for tt, nz, db in rows if nz == noise and tt == t]
            cells.append(f"{t} {sum(p > ceiling for p in peaks)}/{len(peaks)} (median {np.median(peaks):.1f} dB)")
        print(f"  noise {noise:5.2f} g: healthy ceiling {ceiling:.1f} dB; above it: " + ", ".join(cells))


def print_matrix(title: str, conf: dict[str, Counter]) -> None:
    """Confusion matrix (rows: truth, columns: call) and recall per class."""
    print(f"\n{title}\n{'truth / call':14s}" + "".join(f"{c:>11s}" for c in CALLS) + "     recall")
    for t in ("outer_race", "inner_race", "ball", "none"):
        row = conf[t]
        total = sum(row.values())
        rec = row[t] / total if total else float("nan")
        print(f"{t:14s}" + "".join(f"{row[c]:11d}" for c in CALLS) + f"   {100 * rec:6.1f} %")


def main(argv: list[str] | None = None) -> int:
    """Run the sweep; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer speeds, resonances and noise levels")
    ap.add_argument("--windows", type=int, default=3, help="single windows judged per case")
    ap.add_argument("--severity", type=float, default=0.15, help="fault severity (g for bearing faults)")
    ap.add_argument("--oracle", action="store_true", help="also judge each recording in the band the simulator placed")
    args = ap.parse_args(argv)
    fs, n = 12000.0, 8192
    win, rec = {t: Counter() for t in ("outer_race", "inner_race", "ball", "none")}, \
        {t: Counter() for t in ("outer_race", "inner_race", "ball", "none")}
    by_noise: dict[float, Counter] = {}
    oracle: list[tuple[str, float, dict[str, float]]] = []
    for i, (kind, rpm, res_hz, noise) in enumerate(cases(args.quick)):
        faults = [FaultEvent(kind, 0.0, args.severity, ramp_s=0.0)] if kind else []
        m = RotatingMachine("sweep", fs=fs, rpm=rpm, faults=faults, resonance_hz=res_hz, noise_g=noise, seed=100 + i)
        x = m.next_block(int(4 * fs))
        for w in range(min(args.windows, x.size // n)):
            win[truth(kind)][diagnose_window(x[w * n:(w + 1) * n], fs, rpm, m.bearing).fault] += 1
        d = diagnose(x, fs, rpm, m.bearing)
        if args.oracle:
            oracle.append((truth(kind), noise, oracle_db(x, fs, res_hz, m.bearing.frequencies(rpm / 60.0))))
        rec[truth(kind)][d.fault] += 1
        tally = by_noise.setdefault(noise, Counter())
        tally[(truth(kind), d.fault == truth(kind))] += 1
        if d.fault != truth(kind):
            print(f"miss: {kind or 'healthy'} rpm {rpm:.0f} resonance {res_hz:.0f} noise {noise} -> {d.fault} "
                  f"({d.reason})")
    print_matrix(f"single {n}-sample windows ({sum(sum(c.values()) for c in win.values())} windows)", win)
    print_matrix(f"4 s recordings ({sum(sum(c.values()) for c in rec.values())} recordings)", rec)
    print(f"\nrecordings correct by noise level (impact {args.severity} g peak)")
    for noise, tally in sorted(by_noise.items()):
        cells = []
        for t in ("outer_race", "inner_race", "ball", "none"):
            ok, total = tally[(t, True)], tally[(t, True)] + tally[(t, False)]
            cells.append(f"{t} {ok}/{total}")
        print(f"  noise {noise:5.2f} g: " + ", ".join(cells))
    if oracle:
        print_oracle(oracle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
