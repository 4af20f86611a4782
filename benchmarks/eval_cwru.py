"""Evaluate the replay diagnosis and anomaly detection over the CWRU subset.

Runs ``teachfab edge replay`` logic on every recording in
``../shared/data/cwru/`` (drive-end channel, 6205 bearing, analysis at
12 kHz): the detector learns on the first half of ``Normal_0.mat`` (recorded
at 48 kHz, so it is decimated by 4), scores each file and the diagnosis
names the likely fault. Prints one line per file and a summary; ``--json``
prints the replay objects instead.

Usage::

    .venv/bin/python benchmarks/eval_cwru.py [--data DIR] [--channel DE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.replay import ReplayOptions, run_replay  # noqa: E402

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


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; return 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--channel", default="DE")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    baseline = args.data / "Normal_0.mat"
    files = sorted(args.data.glob("*.mat"))
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
