// The KPI page (/kpis) for hub operators and SME partners (their own sites): learning, pathway and
// learn-in-the-flow figures per month against a baseline, onboarding, operations per asset and the remote-lab
// uptime, plotted over time with plotly.js; CSV export; the ledgered closes of past months.
import { $, authFetch, el, errorText, getJSON, guard, layout, logout, PLOT_CONFIG, show } from "./common.js";

const LEARNING = {
  credential_attainment: "credential attainment within planned duration",
  challenge_closure: "challenge closure (acceptance criteria met)",
  credential_on_time: "credentials issued by their due date",
  feedback_within_24h: "mentor feedback within 24 h",
  feedback_within_48h: "mentor feedback within 48 h",
  cross_recognition: "cross-recognition by other hubs",
  pathway_acceptance: "pathway recommendation accepted",
  pathway_completion: "adopted pathways completed",
  learnflow_opened: "learning units opened when offered",
  learnflow_completed: "follow-ups answered after opening",
  signoff_to_credential_h: "sign-off → credential (h)",
  skill_change_after_credential: "skill-level change after a credential",
  learnflow_offered: "learning units offered beside live events",
  learnflow_skill_change: "verified skill change after a unit",
};
const OPERATIONS = {
  unplanned_downtime_h: "unplanned downtime (h)",
  downtime_per_100_running_h: "downtime per 100 running h",
  failures: "failures",
  mtbf_h: "MTBF (h)",
  mttr_h: "MTTR (h)",
  first_time_fix: "first-time fix rate",
  alert_precision: "alerts with a confirmed finding",
  thermal_rise_k: "temperature above ambient (K)",
};
const RATES = ["credential_attainment", "challenge_closure", "feedback_within_48h", "pathway_acceptance",
  "learnflow_opened"];

let me = null;
let report = null;

const pct = (f) => (f.unit === "ratio" ? `${(100 * f.value).toFixed(1)} %`
  : f.unit === "count" ? String(Math.round(f.value)) : `${f.value.toFixed(2)} ${f.unit}`);
function value(f) {
  if (!f || f.value === null) return f && f.note ? `— (${f.note})` : "—";
  const ci = f.low !== null && f.high !== null ? ` [${pct({ ...f, value: f.low })} – ${pct({ ...f, value: f.high })}]` : "";
  return `${pct(f)}${ci}`;
}
const target = (f) => (f.target === null ? "" : `${f.direction === "min" ? "≥" : "≤"} ${pct({ ...f, value: f.target })}`);
const meets = (f) => el("td", { class: f.meets === true ? "ok" : f.meets === false ? "bad" : "muted" },
  f.meets === true ? "met" : f.meets === false ? "not met" : "");

function figureTable(names, series, baseline, id) {
  const head = el("tr", {}, ...["KPI", "latest", "n", "target", "", "baseline"].map((h) => el("th", {}, h)));
  const rows = Object.entries(names).filter(([k]) => series[k]).map(([k, label]) => {
    const f = series[k][series[k].length - 1];
    const b = baseline[k];
    return el("tr", { dataset: { kpi: k } }, el("td", {}, label), el("td", { class: "kpi-value" }, value(f)),
      el("td", {}, f.n), el("td", {}, target(f)), meets(f), el("td", {}, b ? value(b) : "—"));
  });
  return el("table", { class: "kpi-table", id }, el("thead", {}, head), el("tbody", {}, ...rows));
}

function lines(node, keys, names, series, title, yaxis = {}) {
  const x = report.periods;
  Plotly.newPlot(node, keys.filter((k) => series[k]).map((k) => ({
    x, name: names[k], mode: "lines+markers", type: "scatter",
    y: series[k].map((f) => f.value),
    error_y: { type: "data", symmetric: false, visible: true,
      array: series[k].map((f) => (f.high === null || f.value === null ? null : f.high - f.value)),
      arrayminus: series[k].map((f) => (f.low === null || f.value === null ? null : f.value - f.low)) },
  })), layout(title, { xaxis: { type: "category" }, yaxis }), PLOT_CONFIG);
}

function renderLearning() {
  const { series, baseline } = report.learning;
  $("learning-table").replaceChildren(figureTable(LEARNING, series, baseline, "learning-kpis"));
  lines($("chart-learning"), RATES, LEARNING, series, "Rates per month (95 % Wilson intervals)",
    { range: [0, 1.05], tickformat: ".0%" });
  lines($("chart-times"), ["signoff_to_credential_h"], LEARNING, series, "Sign-off → credential (h)");
  const up = report.lab_uptime[report.lab_uptime.length - 1];
  $("lab-uptime").textContent = `Remote-lab uptime in teaching windows (target ≥ 99 %), latest: ${value(up)}, `
    + `${up.n} window-minute(s)`;
}

function renderOnboarding() {
  const rows = report.sites.filter((s) => s.kind === "sme").map((s) => {
    const f = s.onboarding.figures;
    return el("tr", {}, el("td", {}, s.name), el("td", {}, show(s.onboarding.dates.registered_at)),
      ...["registration_to_first_data_days", "registration_to_charter_signed_days", "registration_to_first_live_days"]
        .map((k) => el("td", {}, value(f[k]))), meets(f.registration_to_first_live_days));
  });
  const hub = report.onboarding;
  $("onboarding").replaceChildren(
    el("p", {}, `first live challenge within 8 weeks: ${value(hub.live_within_8_weeks)} of ${hub.live_within_8_weeks.n} site(s); `,
      `mean ${value(hub.first_live_days)}`),
    el("table", { class: "kpi-table" }, el("thead", {}, el("tr", {}, ...["SME site", "registered",
      "→ first data (days)", "→ charter signed (days)", "→ first live (days)", "< 8 weeks"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows)));
}

function renderSites() {
  // SME sites in full; a lab site (one per lab session) only with its teaching-window uptime, when it has one
  const shown = report.sites.filter((s) => s.kind !== "lab" || s.lab_uptime.some((f) => f.n > 0));
  $("sites").replaceChildren(...shown.map((s) => {
    const card = el("section", { class: "card", dataset: { site: s.site } },
      el("h2", {}, `${s.name} (${s.site})`),
      el("p", { class: "muted" }, `${s.operating_hours_per_week} operating h/week · baseline `,
        s.baseline_period ? `${s.baseline_period[0].slice(0, 10)} – ${s.baseline_period[1].slice(0, 10)}` : "none set"));
    if (s.lab_uptime.some((f) => f.n > 0)) {
      const chart = el("div", { class: "chart short" });
      card.append(el("p", { class: "lab-uptime" }, `remote-lab uptime in teaching windows, latest: ${value(s.lab_uptime[s.lab_uptime.length - 1])}`), chart);
      requestAnimationFrame(() => lines(chart, ["u"], { u: "lab uptime" }, { u: s.lab_uptime }, "Remote-lab uptime (target 99 %)",
        { range: [0, 1.05], tickformat: ".0%" }));
    }
    for (const [asset, block] of Object.entries(s.kind === "lab" ? {} : s.assets)) {
      const chart = el("div", { class: "chart" });
      card.append(el("h3", {}, asset), figureTable(OPERATIONS, block.series, block.baseline, `ops-${s.site}-${asset}`), chart);
      requestAnimationFrame(() => lines(chart, ["unplanned_downtime_h", "mttr_h", "thermal_rise_k"], OPERATIONS,
        block.series, `${asset}: downtime, repair and thermal rise per month`));
    }
    return card;
  }));
}

async function renderCloses() {
  const closes = await getJSON("/api/kpis/closes");
  $("closes").replaceChildren(closes.length ? el("ul", {}, ...closes.map((c) => el("li", { class: c.ok ? "ok" : "bad" },
    `${c.period} · ${c.scope} · ${c.rows} figures · ledger ${c.ledger_hash.slice(0, 12)}… · `,
    c.ok ? "verified" : `NOT verified: ${c.problem}`))) : el("p", { class: "muted" }, "no period published yet"));
}

function query() {
  const q = new URLSearchParams({ first: $("first").value, last: $("last").value });
  for (const [id, key] of [["site", "site"], ["pack", "pack"], ["team", "team_id"], ["baseline-from", "baseline_from"],
    ["baseline-to", "baseline_to"]]) if ($(id).value) q.set(key, $(id).value);
  return q;
}

async function load() {
  report = await getJSON(`/api/kpis?${query()}`);
  $("scope").textContent = `${report.scope} · ${report.periods[0]} – ${report.periods[report.periods.length - 1]}`;
  renderLearning();
  renderOnboarding();
  renderSites();
  document.body.dataset.loaded = String(Date.now());
}

async function downloadCsv() {
  const res = await authFetch(`/api/kpis/export?${query()}`);
  if (!res.ok) throw new Error(`CSV export: ${await errorText(res)}`);
  const doc = await res.json();
  const url = URL.createObjectURL(new Blob([doc.text], { type: "text/csv" }));
  const a = el("a", { href: url, download: doc.filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function closePeriod(ev) {
  ev.preventDefault();
  const res = await authFetch("/api/kpis/closes", { method: "POST",
    json: { scope: $("close-scope").value, period: $("close-period").value } });
  if (!res.ok) throw new Error(`closing: ${await errorText(res)}`);
  await renderCloses();
}

async function start() {
  me = await getJSON("/api/auth/me");
  $("who").textContent = me.email;
  $("logout").hidden = false;
  $("logout").onclick = logout;
  if (!me.roles.some((r) => r === "hub_operator" || r === "sme_partner")) {
    throw new Error("the KPI page is for hub operators and SME partners");
  }
  const now = new Date();
  const month = (d) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
  $("last").value = month(now);
  $("first").value = month(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1)));
  const [sites, teams, cat] = await Promise.all([getJSON("/api/sites"), getJSON("/api/teams").catch(() => []),
    getJSON("/api/catalogue")]);
  for (const s of sites) {
    $("site").append(el("option", { value: s.slug }, s.name));
    $("close-scope").append(el("option", { value: `site:${s.slug}` }, s.name));
  }
  for (const t of teams) $("team").append(el("option", { value: String(t.id) }, t.name));
  for (const e of cat.filter((c) => c.pack)) $("pack").append(el("option", { value: e.pack }, e.pack));
  if (me.roles.includes("hub_operator")) {
    $("close-form").hidden = false;
    $("close-period").value = month(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)));
    $("close-form").onsubmit = (ev) => guard("close", closePeriod(ev));
  }
  $("filters").onsubmit = (ev) => { ev.preventDefault(); guard("report", load()); };
  $("csv").onclick = () => guard("csv", downloadCsv());
  $("view").hidden = false;
  await Promise.all([guard("report", load()), guard("closes", renderCloses())]);
}

guard("page", start());
