// Mentor live view: initial state from the JSON API, then server-sent events.
"use strict";

const MAX_POINTS = 600;
const CHARTS = {
  "chart-rms": { title: "RMS (g)", series: ["rms"] },
  "chart-kurtosis": { title: "Kurtosis", series: ["kurtosis"] },
  "chart-crest": { title: "Crest factor", series: ["crest"] },
  "chart-env": { title: "Envelope amplitude at defect frequencies (g)", series: ["env_bpfo", "env_bpfi", "env_2bsf"] },
  "chart-peak": { title: "Peak (g)", series: ["peak"] },
  "chart-temperature": { title: "Bearing temperature (°C)", series: ["temperature"] },
};
const LAYOUT = { margin: { l: 50, r: 10, t: 30, b: 30 }, xaxis: { type: "date" }, legend: { orientation: "h" } };
const PLOT_CONFIG = { displaylogo: false, responsive: true };

let selected = null; // {site, asset}
let shown = 0;
let drawnUpTo = null; // ts of the last window drawn; null while (re)drawing
let pending = []; // live records that arrived while the history was loading

const $ = (id) => document.getElementById(id);
const toDate = (ns) => new Date(ns / 1e6);
const key = (site, asset) => `${site}/${asset}`;
const isLearning = (r) => r.learning === true || r.learning === 1;
// no score is plotted while the detector is still learning (it is 0 then)
const scoreOf = (rows) => rows.map((r) => (isLearning(r) || r.score === undefined ? null : r.score));

function drawCharts(rows) {
  const x = rows.map((r) => toDate(r.ts));
  const col = (name) => rows.map((r) => (name in r ? r[name] : null));
  Plotly.newPlot("chart-score", [
    { x, y: scoreOf(rows), name: "anomaly score", mode: "lines", line: { color: "#2c6fbb" } },
    { x, y: col("threshold"), name: "threshold", mode: "lines", line: { color: "#c0392b", dash: "dash" } },
  ], { ...LAYOUT, title: { text: "Anomaly score", font: { size: 13 } }, yaxis: { type: "log" } }, PLOT_CONFIG);
  for (const [id, spec] of Object.entries(CHARTS)) {
    const traces = spec.series.map((s) => ({ x, y: col(s), name: s, mode: "lines" }));
    Plotly.newPlot(id, traces, { ...LAYOUT, title: { text: spec.title, font: { size: 13 } },
      showlegend: spec.series.length > 1 }, PLOT_CONFIG);
  }
  shown = rows.length;
  drawnUpTo = rows.length ? rows[rows.length - 1].ts : 0;
  updateHead(rows[rows.length - 1]);
  const late = pending.filter((r) => r.ts > drawnUpTo);
  pending = [];
  if (late.length) extendCharts(late);
}

function extendCharts(records) {
  if (drawnUpTo === null) { pending.push(...records); return; }
  records = records.filter((r) => r.ts > drawnUpTo);
  if (!records.length) return;
  drawnUpTo = records[records.length - 1].ts;
  const x = records.map((r) => toDate(r.ts));
  const col = (name) => records.map((r) => (name in r && r[name] !== undefined ? r[name] : null));
  Plotly.extendTraces("chart-score", { x: [x, x], y: [scoreOf(records), col("threshold")] }, [0, 1], MAX_POINTS);
  for (const [id, spec] of Object.entries(CHARTS)) {
    Plotly.extendTraces(id, { x: spec.series.map(() => x), y: spec.series.map(col) },
      spec.series.map((_, i) => i), MAX_POINTS);
  }
  shown = Math.min(MAX_POINTS, shown + records.length);
  updateHead(records[records.length - 1]);
}

function updateHead(last) {
  $("n-points").textContent = shown;
  if (!last) return;
  $("last-update").textContent = toDate(last.ts).toLocaleTimeString();
  $("last-update").dataset.ts = String(last.ts);
  $("phase").textContent = isLearning(last) ? "detector learning the healthy machine" : "detector scoring";
}

async function getJSON(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function selectAsset(site, asset) {
  selected = { site, asset };
  drawnUpTo = null;
  pending = [];
  $("asset-title").textContent = `${asset} @ ${site}`;
  const rows = await getJSON(`/api/assets/${encodeURIComponent(site)}/${encodeURIComponent(asset)}/telemetry?limit=${MAX_POINTS}`);
  drawCharts(rows);
  renderAlerts(await getJSON(`/api/alerts?site=${encodeURIComponent(site)}&asset=${encodeURIComponent(asset)}&limit=50`));
  refreshFleet();
}

function renderAlerts(alerts) {
  const ol = $("alerts");
  ol.innerHTML = "";
  if (!alerts.length) { ol.innerHTML = '<li class="muted">no alerts</li>'; return; }
  for (const a of alerts) {
    const li = document.createElement("li");
    li.textContent = `${toDate(a.ts).toLocaleTimeString()} ${a.asset}: score ${a.score.toFixed(1)}`;
    const small = document.createElement("small");
    small.textContent = a.message;
    li.appendChild(small);
    ol.appendChild(li);
  }
}

async function refreshFleet() {
  const [edges, assets, counts] = await Promise.all([getJSON("/api/edges"), getJSON("/api/assets"), getJSON("/api/summary")]);
  $("n-messages").textContent = counts.messages;
  $("n-alerts").textContent = counts.alerts;
  $("n-quarantined").textContent = counts.quarantined;
  const ul = $("edges");
  ul.innerHTML = edges.length ? "" : '<li class="muted">no edge has reported yet</li>';
  for (const e of edges) {
    const li = document.createElement("li");
    li.className = e.state;
    li.textContent = `${e.edge} @ ${e.site}: ${e.state} (v${e.version || "?"}, last seen ${toDate(e.last_seen_ns).toLocaleTimeString()})`;
    ul.appendChild(li);
  }
  const al = $("assets");
  al.innerHTML = assets.length ? "" : '<li class="muted">no asset has reported yet</li>';
  for (const a of assets) {
    const li = document.createElement("li");
    li.textContent = `${a.asset} @ ${a.site} — ${a.alerts} alert(s)`;
    if (selected && key(a.site, a.asset) === key(selected.site, selected.asset)) li.classList.add("selected");
    li.onclick = () => selectAsset(a.site, a.asset);
    al.appendChild(li);
  }
  if (!selected && assets.length) selectAsset(assets[0].site, assets[0].asset);
}

function connect() {
  const es = new EventSource("/api/stream");
  es.onopen = () => { $("conn").textContent = "live"; $("conn").className = "badge on"; };
  es.onerror = () => { $("conn").textContent = "reconnecting…"; $("conn").className = "badge off"; };
  es.addEventListener("features", (ev) => {
    const msg = JSON.parse(ev.data);
    if (!selected) { refreshFleet(); return; }
    if (key(msg.site, msg.asset) === key(selected.site, selected.asset)) extendCharts(msg.records);
    $("n-messages").textContent = Number($("n-messages").textContent) + 1;
  });
  es.addEventListener("alert", () => { if (selected) selectAsset(selected.site, selected.asset); });
  es.addEventListener("status", () => refreshFleet());
  es.addEventListener("quarantine", () => refreshFleet());
}

refreshFleet().catch((e) => console.error(e));
setInterval(() => refreshFleet().catch((e) => console.error(e)), 5000);
connect();
