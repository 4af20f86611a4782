"""Offline replay: run a recording through the edge pipeline and the bearing diagnosis.

``teachfab edge replay FILE --fs HZ --rpm RPM --bearing 6205 --channel DE``
reads one channel through the replay adapter's reader, resamples it to the
analysis rate, optionally lets the detector learn on a baseline recording,
scores the file window by window and diagnoses the bearing. It prints one
JSON object; mentors use it to judge a pipeline on real data before it is
deployed, and the evaluation script in ``benchmarks/`` runs it over a data set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import yaml

from edge_agent.bearings import bearing_by_name
from edge_agent.diagnosis import diagnose
from edge_agent.diagnosis.explain import explain_diagnosis, text_lines
from edge_agent.diagnosis.report import report_html
from edge_agent.diagnosis.speed import estimate_shaft_hz
from edge_agent.pipeline import AssetPipeline, FeatureRecord, PipelineConfig
from firmware_adapters.recording import read_recording
from firmware_adapters.sample import Sample


@dataclass
class ReplayOptions:
    """What ``teachfab edge replay`` reads and how it analyses it (see the module docstring)."""

    file: str
    fs: float | None = None
    rpm: float | None = None
    bearing: str = "6205"
    channel: str | None = "DE"
    range: str | None = None
    baseline: str | None = None
    baseline_fs: float | None = None
    baseline_range: str | None = None
    analysis_fs: float | None = None
    pipeline: str | None = None
    window: int = 4096


def parse_range(text: str | None) -> tuple[float, float]:
    """``"A:B"`` fractions of a record (either side may be empty) → (a, b).

    Examples
    --------
    >>> parse_range("0:0.5"), parse_range(":0.25"), parse_range(None)
    ((0.0, 0.5), (0.0, 0.25), (0.0, 1.0))
    """
    if text is None:
        return 0.0, 1.0
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        a = float(parts[0]) if parts[0].strip() else 0.0
        b = float(parts[1]) if parts[1].strip() else 1.0
    except ValueError:
        raise ValueError(f"range {text!r} must be 'A:B' with fractions of the record, e.g. '0:0.5'") from None
    if not 0.0 <= a < b <= 1.0:
        raise ValueError(f"range {text!r} must satisfy 0 <= A < B <= 1")
    return a, b


def resample(x: np.ndarray, fs: float, target: float) -> np.ndarray:
    """Resample ``x`` from ``fs`` to ``target`` Hz with a polyphase anti-alias FIR (scipy)."""
    if math.isclose(fs, target, rel_tol=1e-9):
        return x
    from scipy.signal import resample_poly  # scipy.signal only when a recording needs resampling (RSS on a Pi)

    ratio = Fraction(target / fs).limit_denominator(1000)
    if not math.isclose(ratio.numerator / ratio.denominator, target / fs, rel_tol=1e-6):
        raise ValueError(f"cannot resample {fs} Hz to {target} Hz with a rational factor of small terms")
    return resample_poly(x, ratio.numerator, ratio.denominator)


def _load(path: str, channel, fs: float | None, rng: str | None, target: float | None):
    x, file_fs, meta = read_recording(path, channel, rate=fs)
    if file_fs is None:
        raise ValueError(f"{path}: the file gives no sample rate; pass it with --fs / --baseline-fs")
    a, b = parse_range(rng)
    x = x[int(a * x.size):int(b * x.size)]
    return x, file_fs, meta


def _pipeline_config(opts: ReplayOptions, rpm: float, warmup: int) -> PipelineConfig:
    base = {}
    if opts.pipeline:
        base = yaml.safe_load(Path(opts.pipeline).read_text(encoding="utf-8")) or {}
        if not isinstance(base, dict):
            raise ValueError(f"{opts.pipeline}: expected a mapping of pipeline settings")
    base.update({"channel": "x", "rpm": rpm, "bearing": opts.bearing, "warmup": max(2, warmup)})
    base.setdefault("window", opts.window)
    return PipelineConfig(**base)


def _score(pipeline: AssetPipeline, x: np.ndarray, fs: float, start_ns: int) -> list[FeatureRecord]:
    out = pipeline.push(Sample("replay", "x", start_ns, fs, x, "g"))
    return [r for r in out if isinstance(r, FeatureRecord)]


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def run_replay(opts: ReplayOptions) -> dict:
    """Run the replay; return the JSON-ready result (see ``teachfab edge replay --help``)."""
    geometry = bearing_by_name(opts.bearing)
    x, fs, meta = _load(opts.file, opts.channel, opts.fs, opts.range, opts.analysis_fs)
    rpm = opts.rpm if opts.rpm is not None else meta.get("rpm")
    rpm_source = "given" if opts.rpm is not None else "file"
    if rpm is None:  # neither given nor in the file: from the shaft lines of the spectrum
        rpm, rpm_source = round(60.0 * estimate_shaft_hz(x, fs), 1), "estimated"
    base = None
    if opts.baseline:
        bx, bfs, _ = _load(opts.baseline, opts.channel, opts.baseline_fs, opts.baseline_range, opts.analysis_fs)
        base = (bx, bfs)
    analysis_fs = opts.analysis_fs or min([fs] + ([base[1]] if base else []))
    x = resample(x, fs, analysis_fs)
    result = {"file": str(opts.file), "channel": meta["selected"], "fs": fs, "analysis_fs": analysis_fs,
              "rpm": rpm, "bearing": geometry.name, "seconds": round(x.size / analysis_fs, 3),
              "windows": x.size // opts.window, "anomalous_windows": None, "anomaly_fraction": None}
    if base is not None:
        bx = resample(base[0], base[1], analysis_fs)
        n_base = bx.size // opts.window
        if n_base < 2:
            raise ValueError(f"baseline range holds {n_base} windows of {opts.window} samples; need at least 2")
        pipeline = AssetPipeline("replay", _pipeline_config(opts, rpm, n_base))
        _score(pipeline, bx[:n_base * opts.window], analysis_fs, 0)
        start_ns = int(round(n_base * opts.window / analysis_fs * 1e9))
        records = _score(pipeline, x, analysis_fs, start_ns)
        anomalous = sum(1 for r in records if r.score > r.threshold)
        result.update(windows=len(records), anomalous_windows=anomalous,
                      anomaly_fraction=round(anomalous / len(records), 4) if records else None,
                      baseline={"file": str(opts.baseline), "fs": base[1], "windows": n_base,
                                "range": opts.baseline_range or "0:1"},
                      threshold=_finite_or_none(pipeline.threshold.value), pipeline=pipeline.config.describe())
    d = diagnose(x, analysis_fs, rpm, geometry)
    result["rpm_source"] = rpm_source
    result["diagnosis"] = d.as_dict()
    result["explanation"] = explain_diagnosis(d, x, analysis_fs)
    return result


def main(opts: ReplayOptions, as_json: bool = True, report: str | None = None) -> int:
    """Entry point of ``teachfab edge replay``: print the result (and write the HTML report to ``report``)."""
    result = run_replay(opts)
    if report is not None:
        Path(report).write_text(report_html(result), encoding="utf-8")
    if as_json:
        print(json.dumps(result))
    else:
        d = result["diagnosis"]
        print(f"{result['file']} ({result['channel']}, {result['seconds']} s at {result['analysis_fs']:g} Hz, "
              f"{result['rpm']:g} rpm {result['rpm_source']}): {d['fault']} (confidence {d['confidence']:.2f})")
        for line in text_lines(result["explanation"]):
            print(line)
        if result["anomaly_fraction"] is not None:
            print(f"anomalous windows: {result['anomalous_windows']}/{result['windows']} "
                  f"({100 * result['anomaly_fraction']:.1f} %)")
        if report is not None:
            print(f"report written to {report}")
    return 0
