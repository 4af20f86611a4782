// TeachFab: an alert's explanation as the mentor page (app.js) and the learner page (session.js) show it —
// what is probably wrong, how sure, the evidence line by line, the features that moved, the ISO 20816-3 zone,
// and the envelope spectrum of the alerting windows with the defect line and its harmonics marked.
// Plain ES module; plotly.js is the global `Plotly`.

import { el, layout, PLOT_CONFIG } from "./common.js";

const FAULT_NAMES = {
  outer_race: "outer-race defect", inner_race: "inner-race defect", ball: "rolling-element (ball) defect",
  none: "no bearing defect found", unknown: "unclear — evidence for more than one defect",
  broken_rotor_bar: "broken rotor bar", supply_imbalance: "supply imbalance", overheating: "overheating",
  cooling_below_model: "colder than the thermal model",
};

/** Human name of a fault code. */
export const faultName = (code) => FAULT_NAMES[code] || code.replaceAll("_", " ");

const num = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));

/** A compact block explaining one alert (or null when it has no explanation). */
export function explanationNode(expl) {
  if (!expl) return null;
  const box = el("div", { class: `explanation fault-${expl.fault}` });
  box.append(el("strong", { class: "explanation-fault" }, `${faultName(expl.fault)} · confidence ${Math.round(100 * expl.confidence)} %`));
  if (expl.summary) box.append(el("div", { class: "muted" }, expl.summary));
  if (expl.defect_hz !== undefined) {
    box.append(el("div", {}, `defect line ${num(expl.defect_hz)} Hz expected, peak at ${num(expl.measured_hz)} Hz, ` +
      `${num(expl.prominence)}× its local background, ${expl.harmonics_found ?? 0} harmonics found`));
  }
  if (expl.lines && expl.lines.length) {
    const rows = expl.lines.map((l) => el("tr", {}, el("td", {}, l.label), el("td", {}, num(l.expected_hz)),
      el("td", {}, num(l.measured_hz)), el("td", {}, num(l.prominence)), el("td", {}, num(l.evidence))));
    box.append(el("table", { class: "evidence" },
      el("thead", {}, el("tr", {}, ...["line", "expected Hz", "measured Hz", "× background", "evidence"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)));
  }
  if (expl.severity) {
    const s = expl.severity;
    box.append(el("div", { class: `iso-zone zone-${s.zone}` }, `ISO 20816-3 zone ${s.zone}: ${num(s.velocity_rms_mm_s, 2)} mm/s RMS ` +
      `(group ${s.group}, ${s.foundation}${s.assumed ? ", assumed" : ""})`));
  }
  if (expl.residual_k !== undefined) box.append(el("div", {}, `thermal residual ${num(expl.residual_k, 2)} K against the model`));
  if (expl.moved && expl.moved.length) {
    box.append(el("div", { class: "muted" }, "moved most: " +
      expl.moved.map((m) => `${m.name} ${Number(m.value).toPrecision(3)} (z ${m.z >= 0 ? "+" : ""}${num(m.z)})`).join(", ")));
  }
  return box;
}

/** Draw the alert's envelope spectrum into `node` with the marked lines; returns false when there is none. */
export function drawEnvelope(node, alert, title = "Envelope spectrum of the alerting windows") {
  const spec = alert && alert.explanation && alert.explanation.spectrum;
  if (!spec) { Plotly.purge(node); node.hidden = true; return false; }
  node.hidden = false;
  const x = spec.values.map((_, k) => spec.f0_hz + k * spec.df_hz);
  const top = Math.max(...spec.values);
  const shapes = spec.marks.map((m) => ({ type: "line", x0: m.hz, x1: m.hz, y0: 0, y1: 1, yref: "paper",
    line: { color: "#c0392b", dash: "dot", width: 1 } }));
  const annotations = spec.marks.map((m) => ({ x: m.hz, y: 1, yref: "paper", text: m.label, showarrow: false,
    font: { size: 10, color: "#c0392b" }, yanchor: "bottom" }));
  const band = spec.band_hz ? ` · band ${num(spec.band_hz[0], 0)}–${num(spec.band_hz[1], 0)} Hz` : "";
  Plotly.react(node, [{ x, y: spec.values, mode: "lines", name: "squared envelope / median", line: { color: "#2c6fbb" } }],
    layout(`${title}${band}`, { shapes, annotations, showlegend: false,
      xaxis: { title: { text: "Hz" } }, yaxis: { title: { text: "× median" }, range: [0, top * 1.1] } }), PLOT_CONFIG);
  return true;
}
