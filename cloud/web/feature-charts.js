// Which charts show which features, per family of feature sets (edge_agent/features/sets.py, FEATURE_SETS).
// Data and pure functions only, no DOM: the mentor page lays its charts out with chartPlan(), the learner
// page orders its few feature charts with featureOrder(). A new feature set: add its catalogue and a line
// in FAMILIES; until then its assets get generic charts of whatever features they send.

/** Keys of a telemetry window that are not features: the detector's output and bookkeeping. */
export const NOT_FEATURES = new Set(["ts", "score", "threshold", "learning",
  "block_sequence"]); // the OPC UA simulator's block counter, relayed as a scalar: a count, not a measurement

/** Feature charts a mentor page holds at most; the features left out are named under them. */
export const MAX_CHARTS = 8;

// A chart: a stable id (the element is chart-<id>), a title, and the features it draws — `series` by name,
// in that order, then those whose name matches `match`. A feature goes to the first chart that claims it;
// a chart none of whose features arrive is not drawn.
const VIBRATION = [ // time, spectral, envelope, bearing, vibration_full: a vibration channel in g
  { id: "rms", title: "RMS (g)", series: ["rms"] },
  { id: "kurtosis", title: "Kurtosis", series: ["kurtosis"] },
  { id: "crest", title: "Crest factor", series: ["crest"] },
  { id: "env", title: "Envelope amplitude at defect frequencies (g)", series: ["env_bpfo", "env_bpfi", "env_2bsf"] },
  { id: "env-snr", title: "Defect lines above their background (envelope SNR, ×)",
    series: ["env_bpfo_hsnr", "env_bpfi_hsnr", "env_2bsf_hsnr", "env_ftf_hsnr"], match: /^env_\w+_h?snr$/ },
  { id: "peak", title: "Peak (g)", series: ["peak"] },
  { id: "temperature", title: "Bearing temperature (°C)", series: ["temperature"] },
  { id: "env-sb", title: "Defect-line sidebands (envelope)", match: /^env_\w+_sb$/ },
  { id: "bands", title: "Band energy (g²)", match: /^band_energy_/ },
  { id: "orders", title: "Shaft orders (g)", match: /^order_\d+x$/ },
];

const THERMAL = [ // thermal: a temperature with the load (and ambient) that drive it
  { id: "residual", title: "Temperature residual: what load and ambient do not explain (K)",
    series: ["temperature_residual"] },
  // the measured channels, e.g. winding_temperature, and an ambient sensor if the edge relays one
  { id: "temperature", title: "Temperature (°C)", series: ["temperature"], match: /(^|_)temp(erature)?$|^ambient/ },
  { id: "rate", title: "Temperature rate of change (K/min)", series: ["temperature_rate_k_per_min"] },
  { id: "load", title: "Load", match: /(^|_)load($|_)/ },
];

const MOTOR_CURRENT = [ // motor_current: three phase currents of an induction motor
  { id: "sidebands", title: "Rotor-bar sidebands (1 ± 2s)·f (dB below the supply line)",
    series: ["sideband_db", "sideband_lower_db", "sideband_upper_db"] },
  { id: "phase-rms", title: "Phase current RMS (A)", series: ["rms_a", "rms_b", "rms_c"] },
  { id: "imbalance", title: "Current imbalance (NEMA) and I2/I1", series: ["imbalance", "i2_i1"] },
  { id: "thd", title: "Current THD", match: /^thd_\d+_\d+$/ },
  { id: "supply", title: "Supply frequency (Hz)", series: ["supply_hz"] },
];

const CATALOGUES = { vibration: VIBRATION, thermal: THERMAL, motor_current: MOTOR_CURRENT };

/** A pipeline's feature_set -> the family whose charts it gets. */
const FAMILIES = { time: "vibration", spectral: "vibration", envelope: "vibration", bearing: "vibration",
  vibration_full: "vibration", motor_current: "motor_current", thermal: "thermal" };

/** The family the feature names look like, for an asset whose edge has not said (null: none). */
export function guessFamily(names) {
  const has = (re) => [...names].some((n) => re.test(n));
  if (has(/^temperature_(residual|rate_k_per_min)$/)) return "thermal";
  if (has(/^(sideband_(lower_|upper_)?db|rms_[abc]|i2_i1)$/)) return "motor_current";
  if (has(/^(rms|kurtosis|crest|peak)$|^env_|^band_energy_/)) return "vibration";
  return null;
}

/** The features (keys that are not score, threshold, …) in these windows. */
export function featureNames(rows) {
  const seen = new Set();
  for (const r of rows) for (const k of Object.keys(r)) if (!NOT_FEATURES.has(k)) seen.add(k);
  return seen;
}

/**
 * The charts of an asset from its feature set and the features that arrived.
 *
 * @param {string|null} featureSet  the pipeline's feature_set as the edge announced it (null: unknown)
 * @param {Iterable<string>} names  features present in the asset's windows
 * @returns {{family: string|null, guessed: boolean, charts: {id: string, title: string, series: string[]}[],
 *   unplotted: string[]}}  the family's charts that have data, then one generic chart per other feature (by
 *   name) up to MAX_CHARTS; `unplotted` names what did not fit. A set the page does not know gets only generic
 *   charts; an unannounced one the family its names look like (`guessed`).
 */
export function chartPlan(featureSet, names) {
  const free = new Set([...names].filter((n) => !NOT_FEATURES.has(n)));
  const guessed = !featureSet;
  const family = featureSet ? FAMILIES[featureSet] || null : guessFamily(free);
  const charts = [];
  for (const spec of CATALOGUES[family] || []) {
    const series = (spec.series || []).filter((n) => free.has(n));
    if (spec.match) series.push(...[...free].filter((n) => spec.match.test(n) && !series.includes(n)).sort());
    if (!series.length) continue;
    for (const n of series) free.delete(n);
    charts.push({ id: spec.id, title: spec.title, series });
  }
  const rest = [...free].sort();
  while (charts.length < MAX_CHARTS && rest.length) {
    const n = rest.shift();
    charts.push({ id: `f-${n}`, title: n, series: [n] });
  }
  return { family, guessed, charts, unplotted: rest };
}

/** Whether two plans draw the same charts with the same features (no redraw needed). */
export function samePlan(a, b) {
  const key = (p) => JSON.stringify(p.charts.map((c) => [c.id, c.series]));
  return key(a) === key(b);
}

/** Feature names in the order the feature set's charts show them, then the rest by name (learner page). */
export function featureOrder(featureSet, names) {
  const plan = chartPlan(featureSet, names);
  return [...plan.charts.flatMap((c) => c.series), ...plan.unplotted];
}
