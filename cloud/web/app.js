// Mentor live view: initial state from the JSON API, then server-sent events (live-stream.js).
// The selected asset's charts follow its feature set (feature-charts.js): the one its edge announced in its
// birth message (GET /api/edges/{site}/{edge}), or, before that, the one its features look like.
import {
  $, authFetch, drawLines, drawScore, el, errorText, extendLines, extendScore, getJSON, guard, isLearning, layout,
  PLOT_CONFIG, useDemoLogin, WindowFeed,
} from "./common.js";
import { chartPlan, featureNames, samePlan } from "./feature-charts.js";
import { drawEnvelope, explanationNode } from "./explanation.js";
import { decorateAll } from "./learnflow.js";
import { followStream } from "./live-stream.js";

const MAX_POINTS = 600;
const TIME_AXIS = { xaxis: { type: "date" } };

let selected = null;   // {site, asset, edge, featureSet}
let knownAssets = [];  // the last GET /api/assets
let plan = null;       // the selected asset's charts (chartPlan)
let names = new Set(); // features seen in its windows
let shown = 0;         // windows shown

const toDate = (ns) => new Date(ns / 1e6);
const key = (site, asset) => `${site}/${asset}`;
const enc = encodeURIComponent;
const assetQuery = () => `site=${enc(selected.site)}&asset=${enc(selected.asset)}`;
const assetPath = () => `/api/assets/${enc(selected.site)}/${enc(selected.asset)}`;
const isSelected = (site, asset) => selected && key(site, asset) === key(selected.site, selected.asset);

// --- telemetry charts of the selected asset ----------------------------------------------------------

/** The feature set the asset's edge announced for its pipeline (birth message), or null if it has not. */
async function featureSetOf(sel) {
  if (!sel.edge) return null;
  const res = await authFetch(`/api/edges/${enc(sel.site)}/${enc(sel.edge)}`);
  if (res.status === 404) return null; // no birth retained yet: the charts follow the features' names
  if (!res.ok) throw new Error(`edge ${sel.edge}: ${await errorText(res)}`);
  const pipeline = (((await res.json()).birth || {}).pipelines || {})[sel.asset];
  return pipeline && typeof pipeline.feature_set === "string" ? pipeline.feature_set : null;
}

const feed = new WindowFeed({
  async load() {
    const sel = selected;
    const [featureSet, rows] = await Promise.all([featureSetOf(sel),
      getJSON(`${assetPath()}/telemetry?limit=${MAX_POINTS}`)]);
    sel.featureSet = featureSet;
    return rows;
  },
  draw: drawCharts,
  extend: extendCharts,
  // a feature that was not there before may need a chart: redraw only if the plan changes
  stale(records) {
    const seen = new Set([...names, ...featureNames(records)]);
    if (seen.size === names.size) return false;
    names = seen;
    return !samePlan(plan, chartPlan(selected.featureSet, seen));
  },
});

function drawCharts(rows) {
  names = featureNames(rows);
  plan = chartPlan(selected.featureSet, names);
  const x = rows.map((r) => toDate(r.ts));
  drawScore($("chart-score"), x, rows, "Anomaly score", TIME_AXIS);
  $("feature-charts").replaceChildren(...plan.charts.map((c) =>
    el("div", { id: `chart-${c.id}`, class: "chart", dataset: { series: c.series.join(" ") } })));
  for (const c of plan.charts) drawLines($(`chart-${c.id}`), x, rows, c.series, c.title, TIME_AXIS);
  showPlan();
  shown = rows.length;
  updateHead(rows[rows.length - 1]);
}

function extendCharts(records) {
  const x = records.map((r) => toDate(r.ts));
  extendScore($("chart-score"), x, records, MAX_POINTS);
  for (const c of plan.charts) extendLines($(`chart-${c.id}`), x, records, c.series, MAX_POINTS);
  shown = Math.min(MAX_POINTS, shown + records.length);
  updateHead(records[records.length - 1]);
}

/** Say which feature set the charts follow, and which features have no chart. */
function showPlan() {
  const fs = selected.featureSet;
  const label = $("feature-set");
  label.dataset.featureSet = fs || "";
  label.dataset.family = plan.family || "generic";
  label.textContent = fs ? `feature set ${fs}${plan.family ? "" : " (one chart per feature)"}`
    : plan.family ? `feature set not announced; charts for ${plan.family.replace("_", " ")} features`
      : "feature set not announced (one chart per feature)";
  const note = $("unplotted");
  note.hidden = plan.charts.length > 0 && !plan.unplotted.length;
  note.textContent = !plan.charts.length ? "no feature has arrived yet"
    : `${plan.unplotted.length} more feature(s) not charted: ${plan.unplotted.join(", ")}`;
}

function updateHead(last) {
  $("n-points").textContent = shown;
  if (!last) return;
  $("last-update").textContent = toDate(last.ts).toLocaleTimeString();
  $("last-update").dataset.ts = String(last.ts);
  $("phase").textContent = isLearning(last) ? "detector learning the healthy machine" : "detector scoring";
}

async function selectAsset(site, asset) {
  const known = knownAssets.find((a) => key(a.site, a.asset) === key(site, asset));
  selected = { site, asset, edge: known ? known.edge : null, featureSet: null };
  $("asset-title").textContent = `${asset} @ ${site}`;
  await feed.reload();
  await refreshEvents();
  guard("snapshot", refreshSnapshot());
  guard("fleet", refreshFleet());
}

// --- alerts and drift of the selected asset: lists on the left, one timeline under the charts ---------
async function refreshEvents() {
  if (!selected) return;
  const [alerts, drift] = await Promise.all([getJSON(`/api/alerts?${assetQuery()}&limit=50`),
    getJSON(`/api/drift?${assetQuery()}&limit=50`)]);
  renderAlerts(alerts);
  renderDrift(drift);
  const marks = (rows, y, color, text) => ({ x: rows.map((r) => toDate(r.ts)), y: rows.map(() => y), text: rows.map(text),
    mode: "markers", type: "scatter", marker: { color, size: 11, symbol: "diamond" }, hoverinfo: "x+text" });
  // same time span as the telemetry charts, so a lone event is not zoomed to milliseconds
  const xs = ($("chart-score").data || [{ x: [] }])[0].x;
  const span = xs.length ? [xs[0], new Date(Math.max(+xs[xs.length - 1], ...[...alerts, ...drift].map((r) => r.ts / 1e6)))] : undefined;
  Plotly.react("chart-events", [
    { ...marks(alerts, "alerts", "#c0392b", (a) => a.message), name: "alerts" },
    { ...marks(drift, "drift", "#b9770e", (d) => d.message), name: "drift" },
  ], layout("Alert and drift timeline", { xaxis: { type: "date", range: span }, showlegend: false,
    yaxis: { type: "category", categoryarray: ["drift", "alerts"] } }), PLOT_CONFIG);
}

function renderAlerts(alerts) {
  const ol = $("alerts");
  ol.innerHTML = "";
  drawEnvelope($("chart-alert-envelope"), alerts.find((a) => a.explanation && a.explanation.spectrum));
  if (!alerts.length) { ol.innerHTML = '<li class="muted">no alerts</li>'; return; }
  const items = alerts.map((a) => {
    const li = el("li", { dataset: { ts: String(a.ts) }, class: a.explanation ? "explained" : "" },
      `${toDate(a.ts).toLocaleTimeString()} ${a.asset}: score ${a.score.toFixed(1)}`, el("small", {}, a.message));
    const why = explanationNode(a.explanation);
    if (why) li.append(why);
    li.addEventListener("click", () => drawEnvelope($("chart-alert-envelope"), a)); // show this alert's spectrum
    return [li, a];
  });
  for (const [li] of items) ol.appendChild(li);
  decorateAll(items, "alert"); // the learning unit that teaches what the alert shows
}

function renderDrift(events) {
  const ol = $("drift");
  ol.innerHTML = "";
  if (!events.length) { ol.innerHTML = '<li class="muted">no drift</li>'; return; }
  const items = events.map((d) => {
    const det = d.detail || {};
    return [el("li", { dataset: { ts: String(d.ts) } }, `${toDate(d.ts).toLocaleTimeString()} ${d.message}`,
      el("small", {}, "mean_before" in det
        ? `mean ${Number(det.mean_before).toPrecision(3)} → ${Number(det.mean_recent).toPrecision(3)}` : d.detector)), d];
  });
  for (const [li] of items) ol.appendChild(li);
  decorateAll(items, "drift");
}

// --- the latest raw-waveform snapshot with its amplitude and envelope spectra (computed by the hub) -----
async function refreshSnapshot() {
  if (!selected) return;
  const snaps = await getJSON(`${assetPath()}/waveforms?limit=1&spectra=true`);
  if (!snaps.length) { $("snapshot-info").textContent = "no snapshot yet"; return; }
  const s = snaps[0];
  $("snapshot-info").textContent = `${s.channel}, ${s.n} samples at ${s.rate} Hz, ${toDate(s.ts).toLocaleTimeString()}` +
    ` · RMS ${s.rms.toPrecision(3)} ${s.units} · ${s.resolution_hz.toPrecision(3)} Hz bins`;
  const t = s.values.map((_, i) => i / s.rate);
  const plot = (id, x, y, title, xtitle) => Plotly.react(id, [{ x, y, mode: "lines", line: { width: 1 } }],
    layout(title, { xaxis: { title: { text: xtitle } } }), PLOT_CONFIG);
  plot("chart-wave", t, s.values, `Waveform (${s.units})`, "s");
  plot("chart-spectrum", s.spectrum.freqs, s.spectrum.amplitude, "Amplitude spectrum", "Hz");
  plot("chart-envelope", s.envelope.freqs, s.envelope.amplitude,
    `Envelope spectrum (${s.envelope.band_hz.map((v) => Math.round(v)).join("–")} Hz band)`, "Hz");
}

async function requestSnapshot() {
  const a = (await getJSON("/api/assets")).find((r) => isSelected(r.site, r.asset));
  if (!a) return;
  const res = await authFetch(`/api/edges/${enc(a.site)}/${enc(a.edge)}/commands`, {
    method: "POST", json: { cmd: "snapshot", asset: a.asset, duration_s: 1.0 } });
  $("snapshot-info").textContent = res.ok ? "snapshot requested…" : `request refused (${await errorText(res)})`;
}

// --- edges and assets in scope, fleet-wide counts -------------------------------------------------------
async function refreshFleet() {
  // fleet-wide counts are for staff; learners and SME partners see their own assets only
  const [edges, assets, counts] = await Promise.all([getJSON("/api/edges"), getJSON("/api/assets"),
    getJSON("/api/summary").catch(() => null)]);
  knownAssets = assets;
  if (counts) {
    $("n-messages").textContent = counts.messages;
    $("n-alerts").textContent = counts.alerts;
    $("n-quarantined").textContent = counts.quarantined;
  }
  const ul = $("edges");
  ul.innerHTML = edges.length ? "" : '<li class="muted">no edge has reported yet</li>';
  for (const e of edges) {
    ul.appendChild(el("li", { class: e.state },
      `${e.edge} @ ${e.site}: ${e.state} (v${e.version || "?"}, last seen ${toDate(e.last_seen_ns).toLocaleTimeString()})`));
  }
  const al = $("assets");
  al.innerHTML = assets.length ? "" : '<li class="muted">no asset has reported yet</li>';
  for (const a of assets) {
    const li = el("li", { dataset: { site: a.site, asset: a.asset } }, `${a.asset} @ ${a.site} — ${a.alerts} alert(s)`);
    if (isSelected(a.site, a.asset)) li.classList.add("selected");
    li.onclick = () => guard("asset", selectAsset(a.site, a.asset));
    al.appendChild(li);
  }
  if (!selected && assets.length) guard("asset", selectAsset(assets[0].site, assets[0].asset));
}

// --- lab sessions in scope (each links to its learner page) and the service levels staff answer for ---
const SLA_KIND = { mentor_feedback: "mentor feedback", credential_decision: "credential decision" };
const SLA_FLAG = { overdue: "OVERDUE", due_soon: "due soon" };

async function refreshSessions() {
  const [sessions, slaRes] = await Promise.all([getJSON("/api/sessions"), authFetch("/api/sla")]);
  const ul = $("sessions");
  ul.innerHTML = sessions.length ? "" : '<li class="muted">no lab session yet</li>';
  for (const s of sessions) {
    const evidence = s.evidence.length ? ` · acceptance ${s.evidence.every((e) => e.met) ? "met" : "not met"}` : "";
    ul.appendChild(el("li", { dataset: { session: String(s.id) } },
      el("a", { href: `/session?id=${s.id}`, textContent: `session ${s.id}` }), ` ${s.status}`,
      el("small", {}, `${s.pack || s.kind} · team ${s.team}${evidence}`)));
  }
  const ol = $("sla");
  if (!slaRes.ok) { ol.hidden = true; return; } // service levels are for staff (403 for others)
  const items = (await slaRes.json()).filter((i) => !i.done_at);
  ol.hidden = false;
  ol.innerHTML = items.length ? "" : '<li class="muted">nothing due</li>';
  for (const i of items) { // overdue first, then by deadline (the hub sorts them)
    const li = el("li", { class: i.state });
    if (SLA_FLAG[i.state]) li.appendChild(el("span", { class: `flag ${i.state}` }, SLA_FLAG[i.state]));
    li.append(`${SLA_KIND[i.kind] || i.kind}, session ${i.session}`,
      el("small", {}, `team ${i.team} · deadline ${new Date(i.deadline).toLocaleString()}`));
    ol.appendChild(li);
  }
}

// --- live stream: what each event type updates ------------------------------------------------------------
const handlers = {
  features: (msg) => {
    if (!selected) { guard("fleet", refreshFleet()); return; }
    if (isSelected(msg.site, msg.asset)) feed.push(msg.records);
    $("n-messages").textContent = Number($("n-messages").textContent) + 1;
  },
  alert: () => { if (selected) guard("alerts and drift", refreshEvents()); guard("fleet", refreshFleet()); },
  drift: () => { if (selected) guard("alerts and drift", refreshEvents()); },
  waveform: (msg) => { if (isSelected(msg.site, msg.asset)) guard("snapshot", refreshSnapshot()); },
  // an edge announces its pipelines again after a deploy: the feature set may have changed
  birth: (msg) => {
    if (selected && msg.site === selected.site && msg.edge === selected.edge) guard("telemetry", feed.reload());
  },
  status: () => guard("fleet", refreshFleet()),
  quarantine: () => guard("fleet", refreshFleet()),
};

useDemoLogin();
$("snapshot-request").onclick = () => guard("snapshot", requestSnapshot());
getJSON("/api/auth/me").then((me) => { $("snapshot-request").hidden = !me.roles.includes("hub_operator"); })
  .catch(() => {});
guard("fleet", refreshFleet());
setInterval(() => guard("fleet", refreshFleet()), 5000);
guard("sessions", refreshSessions());
setInterval(() => guard("sessions", refreshSessions()), 15000);
followStream(authFetch, handlers);
