"""Evaluate the replay diagnosis and anomaly detection over the CWRU subset.

Runs ``teachfab edge replay`` logic on every recording in
``../shared/data/cwru/`` (drive-end channel, 6205 bearing, analysis at
12 kHz): the detector learns on the first half of ``Normal_0.mat`` (recorded
at 48 kHz, so it is decimated by 4), scores each file and the diagnosis
names the likely fault. Prints one line per file and a summary; ``--json``
prints the replay objects instead.

``--bands`` asks how much a call depends on the band the kurtogram picks:
it judges each file's averaged squared-envelope spectrum in every band of a
grid (500-6000 Hz, widths 0.5-1.5 kHz) and prints how many give the
expected call — a method that is right only in its chosen band of one
recording is tuned to it.

Usage::

    .venv/bin/python benchmarks/eval_cwru.py [--data DIR] [--channel DE] [--json] [--bands]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402

from edge_agent.bearings import SKF_6205  # noqa: E402
from edge_agent.diagnosis import decide, spectra  # noqa: E402
from edge_agent.diagnosis.evidence import bearing_families  # noqa: E402
from edge_agent.diagnosis.method import min_band_hz, window_length  # noqa: E402
from edge_agent.replay import ReplayOptions, parse_range, resample, run_replay  # noqa: E402
from firmware_adapters.recording import read_recording  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cwru"
#: Expected fault from the CWRU file-name convention (used only to print agreement).
EXPECTED = {"Normal": "none", "IR": "inner_race", "OR": "outer_race", "B": "ball"}
RATES = {"Normal_0.mat": 48000.0}  # record 97 is sampled at 48 kHz (see the data README)


def expected(name: str) -> str:
    """Fault named by a CWRU file name (``IR007_0.mat`` → ``inner_race``)."""
    for prefix, fault in EXPECTED.items():
        if name.startswith(prefix):
            return fault
    return "?"


def band_grid(fs: float = 12000.0) -> list[tuple[float, float]]:
    """Bands judged by ``--bands``: low edges every 250 Hz from 500 Hz, widths 500-1500 Hz, below fs/2."""
    return [(lo, lo + w) for lo in range(500, int(fs / 2) - 400, 250) for w in (500, 750, 1000, 1500)
            if lo + w <= fs / 2]


def calls_over_bands(path: Path, channel: str, fs: float, rng: str | None, fs_out: float = 12000.0) -> Counter:
    """The call in every band of :func:`band_grid` on the whitened windows of one recording (speed from the file)."""
    x, file_fs, meta = read_recording(path, channel, rate=fs)
    a, b = parse_range(rng)
    x = resample(x[int(a * x.size):int(b * x.size)], file_fs, fs_out)
    shaft = float(meta.get("rpm") or 1797.0) / 60.0
    n = window_length(fs_out)
    width = min_band_hz(shaft, SKF_6205)
    specs = []
    for i in range(x.size // n):
        s, _ = spectra.spectrum(x[i * n:(i + 1) * n])
        specs.append(spectra.high_pass(spectra.whiten_spectrum(s, n), n, fs_out, width))
    calls = Counter()
    for band in band_grid(fs_out):
        power = np.mean([spectra.ses_power_of_spectrum(s, n, fs_out, band) for s in specs], axis=0)
        calls[decide(bearing_families(power, fs_out / n, shaft, SKF_6205, len(specs)))[0]] += 1
    return calls


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--channel", default="DE")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--bands", action="store_true", help="the call in every band of a grid, per file")
    args = ap.parse_args(argv)
    baseline = args.data / "Normal_0.mat"
    files = sorted(args.data.glob("*.mat"))
    if args.bands:
        for path in files:
            calls = calls_over_bands(path, args.channel, RATES.get(path.name, 12000.0),
                                     "0.5:1" if path == baseline else None)
            want = expected(path.name)
            print(f"{path.name:14s} expected {want:10s} right in {calls[want]:2d}/{sum(calls.values())} bands  "
                  + ", ".join(f"{k} {v}" for k, v in calls.most_common()))
        return 0
    rows, agree = [], 0
    for path in files:
        t0 = time.perf_counter()
        # the baseline file itself is scored on its second half, the part the detector did not learn
        rng = "0.5:1" if path == baseline else None
        res = run_replay(ReplayOptions(file=str(path), fs=RATES.get(path.name, 12000.0), channel=args.channel,
                                       bearing="6205", range=rng, baseline=str(baseline), baseline_fs=48000.0,
                                       baseline_range="0:0.5", analysis_fs=12000.0))
        res["elapsed_s"] = round(time.perf_counter() - t0, 2)
        rows.append(res)
        agree += res["diagnosis"]["fault"] == expected(path.name)
        if args.json:
            print(json.dumps(res))
        else:
            d = res["diagnosis"]
            print(f"{path.name:14s} expected {expected(path.name):10s} diagnosis {d['fault']:10s} "
                  f"confidence {d['confidence']:.2f}  band {d['band_hz'][0]:.0f}-{d['band_hz'][1]:.0f} Hz  "
                  f"anomalous {res['anomalous_windows']}/{res['windows']} ({100 * res['anomaly_fraction']:.0f} %)  "
                  f"{res['elapsed_s']} s")
    if not args.json:
        print(f"diagnosis agrees with the file name on {agree}/{len(rows)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
