"""A diagnosis report a person reads: one self-contained HTML page (no scripts, no network).

The page shows the call and its confidence in words, the envelope
spectrum as an inline SVG with the defect line and its harmonics marked,
the evidence line by line, the ISO 20816-3 zone and what the recording and
the settings were. ``teachfab edge replay FILE --report PATH`` writes it.

Examples
--------
>>> html = report_html({"file": "x.mat", "explanation": {"kind": "bearing", "fault": "none", "confidence": 0.9,
...     "summary": "no bearing defect found", "lines": [], "moved": []}})
>>> "<h1>" in html and "no bearing defect found" in html
True
"""

from __future__ import annotations

from html import escape

FAULT_WORDS = {"outer_race": "Outer-race defect", "inner_race": "Inner-race defect",
               "ball": "Rolling-element (ball) defect", "none": "No bearing defect found",
               "unknown": "Unclear: evidence for more than one defect"}
ZONE_WORDS = {"A": "newly commissioned condition", "B": "unrestricted long-term operation",
              "C": "restricted operation: plan maintenance", "D": "vibration may damage the machine"}


def _svg(spec: dict, width: int = 760, height: int = 260) -> str:
    vals = spec["values"]
    f_max = spec["f0_hz"] + spec["df_hz"] * (len(vals) - 1)
    top = max(max(vals), 1e-12) * 1.1
    left, bottom = 50, 30
    w, h = width - left - 10, height - bottom - 20
    x = lambda f: left + w * (f - spec["f0_hz"]) / max(f_max - spec["f0_hz"], 1e-12)  # noqa: E731
    y = lambda v: 20 + h * (1 - v / top)  # noqa: E731
    pts = " ".join(f"{x(spec['f0_hz'] + k * spec['df_hz']):.1f},{y(v):.1f}" for k, v in enumerate(vals))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="envelope spectrum">',
             f'<rect x="{left}" y="20" width="{w}" height="{h}" fill="#fff" stroke="#ccc"/>',
             f'<polyline fill="none" stroke="#2c6fbb" stroke-width="1.2" points="{pts}"/>']
    for m in spec.get("marks", []):
        xm = x(m["hz"])
        parts.append(f'<line x1="{xm:.1f}" y1="20" x2="{xm:.1f}" y2="{20 + h}" stroke="#c0392b" stroke-dasharray="3,3"/>'
                     f'<text x="{xm + 2:.1f}" y="32" font-size="11" fill="#c0392b">{escape(m["label"])}</text>')
    for i in range(6):
        f = spec["f0_hz"] + i * (f_max - spec["f0_hz"]) / 5
        parts.append(f'<text x="{x(f):.1f}" y="{height - 10}" font-size="11" text-anchor="middle">{f:.0f}</text>')
    parts.append(f'<text x="{left + w / 2:.0f}" y="{height}" font-size="11" text-anchor="middle">Hz</text>'
                 f'<text x="12" y="{20 + h / 2:.0f}" font-size="11" transform="rotate(-90 12 {20 + h / 2:.0f})" '
                 f'text-anchor="middle">× median</text></svg>')
    return "".join(parts)


def report_html(result: dict) -> str:
    """HTML page of a replay result (``run_replay``'s dict with its ``explanation``)."""
    e = result["explanation"]
    title = FAULT_WORDS.get(e["fault"], e["fault"].replace("_", " ").capitalize())
    rows = "".join(f"<tr><td>{escape(ln['label'])}</td><td>{ln['expected_hz']:.1f}</td><td>{ln['measured_hz']:.1f}</td>"
                   f"<td>{ln['prominence']:.1f}</td><td>{ln['evidence']:.1f}</td></tr>" for ln in e.get("lines", []))
    sev = e.get("severity")
    zone = (f"<p class='zone zone-{sev['zone']}'>ISO 20816-3 zone <b>{sev['zone']}</b> — {ZONE_WORDS[sev['zone']]}: "
            f"velocity {sev['velocity_rms_mm_s']:.2f} mm/s RMS over 10–1000 Hz (group {sev['group']}, "
            f"{sev['foundation']} foundation{', assumed' if sev.get('assumed') else ''}).</p>") if sev else ""
    line = (f"<p>The defect line was expected at <b>{e['defect_hz']:.1f} Hz</b>; the strongest peak near it is at "
            f"<b>{e['measured_hz']:.1f} Hz</b>, {e.get('prominence') or 0:.1f} times its local background, with "
            f"{e.get('harmonics_found', 0)} harmonics found.</p>") if e.get("defect_hz") is not None else ""
    spec = e.get("spectrum")
    band = f" (demodulation band {spec['band_hz'][0]:.0f}–{spec['band_hz'][1]:.0f} Hz, chosen by the kurtogram)" \
        if spec and spec.get("band_hz") else ""
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(result[k]))}</td></tr>"
                    for k in ("file", "channel", "fs", "analysis_fs", "rpm", "rpm_source", "bearing", "seconds",
                              "windows", "anomalous_windows", "anomaly_fraction") if k in result)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Diagnosis: {escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{padding:2px 8px;text-align:right}}th{{text-align:left}}
.zone-A,.zone-B{{color:#1e8449}}.zone-C{{color:#b9770e}}.zone-D{{color:#c0392b}}.muted{{color:#666}}</style>
</head><body>
<h1>{escape(title)}</h1>
<p>Confidence <b>{100 * e['confidence']:.0f} %</b>. {escape(e.get('summary', ''))}</p>
{line}{zone}
<h2>Envelope spectrum{escape(band)}</h2>
{_svg(spec) if spec else "<p class='muted'>no spectrum</p>"}
<p class="muted">Squared envelope of the pre-whitened signal in the chosen band, divided by its median; dashed lines
mark the measured defect line and its harmonics.</p>
<h2>Evidence</h2>
<table><thead><tr><th>line</th><th>expected Hz</th><th>measured Hz</th><th>× background</th>
<th>evidence (−log₁₀ p)</th></tr></thead><tbody>{rows}</tbody></table>
<p class="muted">Evidence is −log₁₀ of the chance that noise alone puts a peak this high there: 2 is a line found,
3 and more for a whole family is a defect signature.</p>
<h2>Recording</h2><table>{facts}</table>
</body></html>
"""
