"""Explanations of alerts: what is probably wrong, how sure, and the evidence (the wire form of
:class:`contract.explanation.Explanation`).

- vibration: the bearing diagnosis of the alerting windows
  (:func:`explain_bearing`), with the ISO 20816-3 zone of their velocity RMS
  and the compact envelope spectrum with the defect line and its harmonics
  marked;
- motor current: the (1 ± 2s)·f rotor-bar sidebands in dB below the supply
  line (:func:`explain_current`), judged on the widely used MCSA severity
  scale (Thomson & Fenger, IEEE Ind. Appl. Mag. 2001: > 54 dB down
  excellent … < 36 dB broken bars);
- thermal: the residual of the measured temperature against the
  first-order model (:func:`explain_thermal`).

Every explanation also names the features that moved most from what the
detector learnt (:func:`moved_features`).

Examples
--------
>>> e = explain_current({"sideband_db": -33.0, "sideband_lower_db": -34.0, "i2_i1": 0.01}, [])
>>> e["fault"], e["confidence"] > 0.5
('broken_rotor_bar', True)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contract.explanation import Explanation
from edge_agent.diagnosis.severity import iso_zone, velocity_rms

if TYPE_CHECKING:
    from edge_agent.diagnosis.method import Diagnosis

#: MCSA rotor condition by sideband level (dB below the supply line); Thomson & Fenger 2001.
ROTOR_SCALE = ((54.0, "excellent"), (48.0, "good"), (42.0, "moderate"), (36.0, "bar crack or high-resistance joint"),
               (30.0, "two bars broken"), (0.0, "multiple bars broken"))
#: Thermal residual (K) at which friction or lost cooling is called whatever the learnt spread
#: (a residual 4 learnt standard deviations out is called too).
THERMAL_RESIDUAL_K = 5.0


def moved_features(detector, feats: dict[str, float], top: int = 5) -> list[dict]:
    """The ``top`` features farthest from what the detector learnt, as signed z-scores (empty if it cannot say)."""
    z = detector.z_scores(feats) if hasattr(detector, "z_scores") else {}
    ranked = sorted((k for k in z if math.isfinite(z[k]) and math.isfinite(feats.get(k, math.nan))),
                    key=lambda k: abs(z[k]), reverse=True)[:top]
    return [{"name": k[:128], "value": float(feats[k]), "z": round(float(z[k]), 2)} for k in ranked]


def _bearing_dict(d: Diagnosis) -> dict:
    fam = d.evidence or max(d.families.values(), key=lambda f: f.evidence)
    lines = [*fam.harmonics, *fam.sidebands][:16]
    first = fam.harmonics[0] if fam.harmonics else None
    raw = d.as_dict()["spectrum"]
    values = raw["values"][:512]
    marks = [{"label": f"{h}×{fam.line}", "hz": round(h * fam.measured_hz, 2)} for h in range(1, 6)
             if h * fam.measured_hz <= raw["f0_hz"] + raw["df_hz"] * (len(values) - 1)]
    return {
        "kind": "bearing", "fault": d.fault, "confidence": round(float(d.confidence), 3), "summary": d.reason[:500],
        "defect_hz": round(fam.expected_hz, 2), "measured_hz": round(fam.measured_hz, 2),
        "prominence": round(min(first.prominence, 1e9), 2) if first else None,
        "harmonics_found": fam.harmonics_found, "lines": [ln.as_dict() for ln in lines],
        "spectrum": {"f0_hz": raw["f0_hz"], "df_hz": raw["df_hz"], "values": values,
                     "band_hz": [round(d.band[0], 1), round(d.band[1], 1)], "marks": marks}
        if len(values) >= 2 and raw["df_hz"] > 0 else None,
    }


def severity(x: np.ndarray, fs: float, group: int | None, foundation: str | None) -> dict | None:
    """ISO 20816-3 velocity RMS and zone of acceleration ``x`` (g), or ``None`` when fs is below 2 kHz."""
    if fs < 2000.0:
        return None
    v = velocity_rms(x, fs)
    g, fnd = group or 2, foundation or "rigid"
    return {"velocity_rms_mm_s": round(v, 3), "zone": iso_zone(v, g, fnd), "group": g, "foundation": fnd,
            "assumed": group is None}


def explain_diagnosis(d: Diagnosis, x: np.ndarray, fs: float, moved: list[dict] | None = None,
                      group: int | None = None, foundation: str | None = None) -> dict:
    """Explanation of a bearing :class:`Diagnosis` of acceleration ``x`` (g) — what replay prints and reports."""
    out = {**_bearing_dict(d), "moved": moved or [], "severity": severity(x, fs, group, foundation)}
    return Explanation.model_validate(out).model_dump(mode="json", exclude_none=True)


def explain_bearing(windows: list[np.ndarray], fs: float, rpm: float | None, bearing, moved: list[dict],
                    group: int | None = None, foundation: str | None = None) -> dict:
    """Explanation of a vibration alert from its alerting windows (each the pipeline's window length)."""
    n = windows[-1].size
    x = np.concatenate(windows)
    # imported here: the method's numba kernels compile on the first alert, not when an edge starts
    from edge_agent.diagnosis.method import diagnose, diagnose_window

    # side by side, not overlapped: the alerting windows need not follow one another
    d = diagnose(x, fs, rpm, bearing, window=n, overlap=0.0) if len(windows) > 1 \
        else diagnose_window(x, fs, rpm, bearing)
    return explain_diagnosis(d, x, fs, moved, group, foundation)


def explain_current(feats: dict[str, float], moved: list[dict]) -> dict:
    """Explanation of a motor-current alert from the rotor-bar sideband and supply-imbalance features."""
    sb = feats.get("sideband_db")
    if sb is None or not math.isfinite(sb):
        return explain_features(moved, "no sideband features (configure rpm or pole pairs for the slip)")
    down = -float(sb)
    condition = next(label for limit, label in ROTOR_SCALE if down > limit)
    fault = "broken_rotor_bar" if down <= 42.0 else ("supply_imbalance" if feats.get("i2_i1", 0.0) > 0.03 else "none")
    conf = 1.0 / (1.0 + math.exp((down - 39.0) / 2.0)) if fault == "broken_rotor_bar" else \
        (min(1.0, feats.get("i2_i1", 0.0) / 0.06) if fault == "supply_imbalance" else 0.6)
    summary = f"(1 ± 2s)·f sidebands {down:.1f} dB below the supply line: rotor {condition}"
    if "i2_i1" in feats:
        summary += f"; negative/positive sequence {100 * feats['i2_i1']:.1f} %"
    return Explanation.model_validate({"kind": "motor_current", "fault": fault, "confidence": round(conf, 3),
                                       "summary": summary, "moved": moved}).model_dump(mode="json", exclude_none=True)


def explain_thermal(feats: dict[str, float], moved: list[dict]) -> dict:
    """Explanation of a thermal alert from the residual against the first-order model."""
    r = float(feats.get("temperature_residual", 0.0))
    z = next((m["z"] for m in moved if m["name"] == "temperature_residual"), 0.0)
    # called when the residual is large in kelvin or against the spread the detector learnt in health
    strength = max(abs(r) / THERMAL_RESIDUAL_K, abs(z) / 4.0 if z * r > 0 else 0.0)
    fault = "none" if strength < 1.0 else ("overheating" if r > 0 else "cooling_below_model")
    conf = 1.0 / (1.0 + math.exp(-4.0 * (strength - 1.0)))
    conf = conf if fault != "none" else 1.0 - conf
    summary = (f"temperature {r:+.1f} K from the first-order model at this load and ambient "
               f"({'friction or lost cooling' if r > 0 else 'sensor or model'} suspected)"
               if fault != "none" else f"residual {r:+.1f} K: close to the model")
    return Explanation.model_validate({"kind": "thermal", "fault": fault, "confidence": round(conf, 3),
                                       "summary": summary, "residual_k": round(r, 3), "moved": moved}
                                      ).model_dump(mode="json", exclude_none=True)


def explain_features(moved: list[dict], why: str = "") -> dict:
    """Explanation naming only the features that moved (no physical model applies)."""
    summary = ", ".join(f"{m['name']} z = {m['z']:+.1f}" for m in moved[:3]) or "no feature deviation available"
    return Explanation.model_validate({"kind": "features", "fault": "unknown", "confidence": 0.0,
                                       "summary": (f"{why}; " if why else "") + summary, "moved": moved}
                                      ).model_dump(mode="json", exclude_none=True)


def text_lines(expl: dict) -> list[str]:
    """The explanation as lines a person reads in a terminal."""
    out = [f"{expl['fault']} (confidence {expl['confidence']:.2f}): {expl.get('summary', '')}"]
    if expl.get("defect_hz") is not None:
        out.append(f"  defect line {expl['defect_hz']:.1f} Hz expected, peak at {expl['measured_hz']:.1f} Hz, "
                   f"{expl.get('prominence') or 0:.1f}× its local background, "
                   f"{expl.get('harmonics_found', 0)} harmonics found")
    for ln in expl.get("lines", []):
        out.append(f"    {ln['label']:14s} expected {ln['expected_hz']:8.1f} Hz  measured {ln['measured_hz']:8.1f} Hz  "
                   f"prominence {ln['prominence']:8.1f}  evidence {ln['evidence']:6.1f}")
    if expl.get("severity"):
        s = expl["severity"]
        out.append(f"  ISO 20816-3: velocity {s['velocity_rms_mm_s']:.2f} mm/s RMS (10-1000 Hz) → zone {s['zone']} "
                   f"(group {s['group']}, {s['foundation']}{', assumed' if s.get('assumed') else ''})")
    if expl.get("residual_k") is not None:
        out.append(f"  thermal residual {expl['residual_k']:+.2f} K")
    for m in expl.get("moved", []):
        out.append(f"  moved: {m['name']} = {m['value']:.4g} (z = {m['z']:+.1f})")
    return out
