// The deploy form of the learner page: a declared pipeline edited field by field, built from the hub's
// registries (GET /api/pipelines/registry: feature sets, scalers, detectors with their parameters, threshold
// policies, window, warm-up, drift monitors), each field with its documented range and the hub's validation
// message beside it (POST /api/pipelines/validate, nothing is sent), a preview of the change against the
// current pipeline, and the JSON kept in step for advanced users.
import { el, getJSON } from "./common.js";

const parse = (text) => { // a parameter typed in a box: number, true/false, null, or the text
  const v = text.trim();
  if (v === "") return undefined;
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v)) return Number(v);
  if (v === "true" || v === "false") return v === "true";
  return v === "null" ? null : v;
};
const short = (v) => (v === undefined ? "—" : JSON.stringify(v));

export class DeployForm {
  constructor({ root, textarea, diff, authFetch, onEdit }) {
    Object.assign(this, { root, textarea, diff, authFetch, onEdit });
    this.registry = null;
    this.base = {};      // the pipeline the asset runs now (without lineage)
    this.value = {};     // what the form holds
    this.timer = null;
  }

  async load(pipeline) {
    if (!this.registry) this.registry = await getJSON("/api/pipelines/registry");
    this.base = JSON.parse(JSON.stringify(pipeline));
    this.value = JSON.parse(JSON.stringify(pipeline));
    this.render();
    this.changed(false);
  }

  /** The learner typed JSON: follow it in the form when it parses. */
  fromText() {
    try { this.value = JSON.parse(this.textarea.value); } catch { return; }
    this.render();
    this.check();
  }

  field(name, label, input, note) {
    return el("div", { class: "field", dataset: { field: name } }, el("label", {}, `${label} `, input),
      note ? el("small", { class: "note" }, note) : "", el("span", { class: "field-error", dataset: { field: name } }));
  }

  numberField(name) {
    const f = this.registry.fields[name];
    const range = [f.minimum !== null && f.minimum !== undefined ? `from ${f.minimum}` : "",
      f.maximum !== null && f.maximum !== undefined ? `to ${f.maximum}` : ""].filter(Boolean).join(" ");
    const input = el("input", { type: "number", name, value: this.value[name] ?? f.default ?? "", step: "any" });
    if (f.minimum !== null && f.minimum !== undefined) input.min = f.minimum;
    if (f.maximum !== null && f.maximum !== undefined) input.max = f.maximum;
    input.oninput = () => { this.value[name] = input.value === "" ? undefined : Number(input.value); this.changed(); };
    return this.field(name, name, input, `${f.note}${range ? ` (${range}; default ${f.default})` : ""}`);
  }

  render() {
    const r = this.registry;
    const v = this.value;
    const fset = r.feature_sets[v.feature_set] ? v.feature_set : "bearing";
    const setSel = el("select", { name: "feature_set" }, ...Object.keys(r.feature_sets).map((n) => el("option", { value: n, textContent: n })));
    setSel.value = fset;
    setSel.onchange = () => { v.feature_set = setSel.value; v.features = null; this.render(); this.changed(); };
    const all = r.feature_sets[fset].features;
    const chosen = new Set(v.features || all);
    const feats = el("div", { class: "features" }, ...all.map((f) => {
      const box = el("input", { type: "checkbox", value: f, checked: chosen.has(f) });
      box.onchange = () => { v.features = [...this.root.querySelectorAll(".features input:checked")].map((b) => b.value); this.changed(); };
      return el("label", { class: "feature" }, box, ` ${f}`);
    }));
    const scaler = this.stepBlock("scaler", r.scalers, v.scaler, true);
    const detector = this.stepBlock("detector", r.detectors, v.detector, false);
    const fixed = typeof v.threshold === "number";
    const thSel = el("select", { name: "threshold" }, el("option", { value: "", textContent: "fixed value" }),
      ...r.thresholds.map((o) => el("option", { value: o.name, textContent: o.name })));
    thSel.value = fixed ? "" : (v.threshold && v.threshold.name) || "";
    thSel.onchange = () => { v.threshold = thSel.value ? { name: thSel.value, params: {} } : 8.0; this.render(); this.changed(); };
    const thValue = fixed ? el("input", { type: "number", name: "threshold.value", step: "any", value: v.threshold }) : null;
    if (thValue) thValue.oninput = () => { v.threshold = Number(thValue.value); this.changed(); };
    const thBlock = fixed ? el("div", {}, this.field("threshold", "threshold", thSel, "a fixed score, or a policy learnt from healthy scores"),
      el("label", { class: "param" }, "value ", thValue)) : this.stepBlock("threshold", r.thresholds, v.threshold, false, thSel);
    this.root.replaceChildren(
      this.field("feature_set", "feature set", setSel, `${r.feature_sets[fset].inputs} windows`),
      this.field("features", "features the detector sees", feats, "untick to leave a feature out"),
      ...["window", "warmup", "confirm", "clear", "rpm"].map((n) => this.numberField(n)),
      this.checkField("learn_after_warmup"), scaler, detector, thBlock, this.driftBlock(all));
  }

  checkField(name) {
    const box = el("input", { type: "checkbox", name, checked: this.value[name] ?? this.registry.fields[name].default });
    box.onchange = () => { this.value[name] = box.checked; this.changed(); };
    return this.field(name, name, box, this.registry.fields[name].note);
  }

  stepBlock(name, options, spec, optional, selectOverride) {
    const sel = selectOverride || el("select", { name }, ...(optional ? [el("option", { value: "", textContent: "none" })] : []),
      ...options.map((o) => el("option", { value: o.name, textContent: o.name })));
    if (!selectOverride) {
      sel.value = spec ? spec.name : "";
      sel.onchange = () => { this.value[name] = sel.value ? { name: sel.value, params: {} } : null; this.render(); this.changed(); };
    }
    const entry = options.find((o) => o.name === sel.value);
    const current = (spec && spec.params) || {};
    const params = (entry ? entry.params : []).map((p) => {
      const input = el("input", { name: `${name}.${p.name}`, placeholder: p.required ? "required" : `default ${short(p.default)}`,
        value: current[p.name] === undefined ? "" : String(current[p.name]) });
      input.oninput = () => {
        const ps = { ...((this.value[name] && this.value[name].params) || {}) };
        const val = parse(input.value);
        if (val === undefined) delete ps[p.name]; else ps[p.name] = val;
        this.value[name] = { name: sel.value, params: ps };
        this.changed();
      };
      return el("label", { class: "param" }, `${p.name} `, input);
    });
    return el("div", { class: "step" }, this.field(name, name, sel, null), el("div", { class: "params" }, ...params));
  }

  driftBlock(features) {
    const monitors = this.value.drift || [];
    const targets = ["score", ...features, ...((this.value.thermal && ["load"]) || [])];
    const rows = monitors.map((m, i) => {
      const target = el("select", { name: `drift.${i}.target` }, ...targets.map((x) => el("option", { value: x, textContent: x })));
      target.value = m.target;
      const det = el("select", { name: `drift.${i}.detector` }, ...this.registry.drift_detectors.map((d) => el("option", { value: d.name, textContent: d.name })));
      det.value = m.detector || "adwin";
      target.onchange = () => { monitors[i] = { ...monitors[i], target: target.value }; this.value.drift = monitors; this.changed(); };
      det.onchange = () => { monitors[i] = { ...monitors[i], detector: det.value, params: {} }; this.value.drift = monitors; this.changed(); };
      const remove = el("button", { type: "button", onclick: () => { monitors.splice(i, 1); this.value.drift = monitors; this.render(); this.changed(); } }, "remove");
      return el("li", { dataset: { monitor: String(i) } }, "on ", target, " with ", det, " ", remove);
    });
    const add = el("button", { type: "button", class: "add-drift", onclick: () => {
      this.value.drift = [...monitors, { target: "score", detector: "adwin" }]; this.render(); this.changed();
    } }, "add a drift monitor");
    return this.field("drift", "drift monitors", el("div", {}, el("ol", { class: "drift-rows" }, ...rows), add),
      "report a change of a feature or of the score (a regime change is drift, not a fault)");
  }

  /** The form changed: the JSON follows, the change is previewed and checked by the hub. */
  changed(edited = true) {
    const clean = Object.fromEntries(Object.entries(this.value).filter(([, x]) => x !== undefined));
    this.value = clean;
    this.textarea.value = JSON.stringify(clean, null, 2);
    if (edited && this.onEdit) this.onEdit();
    const keys = [...new Set([...Object.keys(this.base), ...Object.keys(clean)])].filter((k) => k !== "lineage");
    const changes = keys.filter((k) => JSON.stringify(this.base[k]) !== JSON.stringify(clean[k]));
    this.diff.replaceChildren(changes.length
      ? el("ul", {}, ...changes.map((k) => el("li", { dataset: { key: k } }, el("b", {}, k), `: ${short(this.base[k])} → ${short(clean[k])}`)))
      : el("p", { class: "muted" }, "no change from the current pipeline"));
    this.diff.dataset.changes = String(changes.length);
    this.check();
  }

  check() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      let pipeline;
      try { pipeline = JSON.parse(this.textarea.value); } catch { return; }
      const res = await this.authFetch("/api/pipelines/validate", { method: "POST", json: { pipeline } });
      if (!res.ok) return;
      const out = await res.json();
      for (const span of this.root.querySelectorAll(".field-error")) span.textContent = "";
      const rest = [];
      for (const e of out.errors) {
        const span = this.root.querySelector(`.field-error[data-field="${e.field}"]`);
        if (span) span.textContent = span.textContent ? `${span.textContent}; ${e.message}` : e.message;
        else rest.push(`${e.field}: ${e.message}`);
      }
      this.diff.dataset.valid = String(out.ok);
      this.diff.dataset.hash = out.hash || "";
      const verdict = this.diff.querySelector(".verdict-line") || this.diff.appendChild(el("p", { class: "verdict-line" }));
      verdict.textContent = out.ok ? `valid: the hub would deploy it as ${out.hash}` : `not valid${rest.length ? `: ${rest.join("; ")}` : " (see the fields above)"}`;
      verdict.className = `verdict-line ${out.ok ? "ok" : "bad"}`;
    }, 250);
  }
}
