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

// --- log-in: a bearer token from POST /api/auth/token (or the demo log-in in demo mode) ---
let token = sessionStorage.getItem("teachfab-token");
let loggingIn = null;

async function obtainToken() {
  const cfg = await (await fetch("/api/auth/config")).json();
  if (cfg.demo_login) {
    const res = await fetch("/api/auth/demo-token", { method: "POST" });
    if (res.ok) return (await res.json()).access_token;
  }
  const form = $("login");
  form.hidden = false;
  return new Promise((resolve) => {
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const body = new URLSearchParams({ username: $("login-email").value, password: $("login-password").value });
      const res = await fetch("/api/auth/token", { method: "POST", body });
      if (!res.ok) { $("login-error").textContent = "wrong e-mail or password"; return; }
      form.hidden = true;
      resolve((await res.json()).access_token);
    };
  });
}

async function login() {
  if (!loggingIn) {
    loggingIn = obtainToken().then((t) => { token = t; sessionStorage.setItem("teachfab-token", t); loggingIn = null; });
  }
  return loggingIn;
}

async function authFetch(url, opts = {}) {
  if (!token) await login();
  const headers = () => ({ Authorization: `Bearer ${token}`, ...(opts.contentType ? { "Content-Type": opts.contentType } : {}) });
  let res = await fetch(url, { ...opts, headers: headers() });
  if (res.status === 401) {
    token = null;
    await login();
    res = await fetch(url, { ...opts, headers: headers() });
  }
  return res;
}

async function getJSON(url) {
  const res = await authFetch(url);
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
  await refreshEvents();
  refreshSnapshot();
  refreshFleet();
}

const assetQuery = () => `site=${encodeURIComponent(selected.site)}&asset=${encodeURIComponent(selected.asset)}`;
const assetPath = () => `/api/assets/${encodeURIComponent(selected.site)}/${encodeURIComponent(selected.asset)}`;

// alerts and drift of the selected asset: lists on the left, one timeline under the charts
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
  ], { ...LAYOUT, xaxis: { type: "date", range: span }, title: { text: "Alert and drift timeline", font: { size: 13 } },
    showlegend: false,
    yaxis: { type: "category", categoryarray: ["drift", "alerts"] } }, PLOT_CONFIG);
}

function renderDrift(events) {
  const ol = $("drift");
  ol.innerHTML = "";
  if (!events.length) { ol.innerHTML = '<li class="muted">no drift</li>'; return; }
  for (const d of events) {
    const li = document.createElement("li");
    li.textContent = `${toDate(d.ts).toLocaleTimeString()} ${d.message}`;
    const small = document.createElement("small");
    const det = d.detail || {};
    small.textContent = "mean_before" in det ? `mean ${Number(det.mean_before).toPrecision(3)} → ${Number(det.mean_recent).toPrecision(3)}` : d.detector;
    li.appendChild(small);
    ol.appendChild(li);
  }
}

// the latest raw-waveform snapshot with its amplitude and envelope spectra (computed by the hub)
async function refreshSnapshot() {
  if (!selected) return;
  const snaps = await getJSON(`${assetPath()}/waveforms?limit=1&spectra=true`);
  if (!snaps.length) { $("snapshot-info").textContent = "no snapshot yet"; return; }
  const s = snaps[0];
  $("snapshot-info").textContent = `${s.channel}, ${s.n} samples at ${s.rate} Hz, ${toDate(s.ts).toLocaleTimeString()}` +
    ` · RMS ${s.rms.toPrecision(3)} ${s.units} · ${s.resolution_hz.toPrecision(3)} Hz bins`;
  const t = s.values.map((_, i) => i / s.rate);
  const plot = (id, x, y, title, xtitle) => Plotly.react(id, [{ x, y, mode: "lines", line: { width: 1 } }],
    { margin: LAYOUT.margin, title: { text: title, font: { size: 13 } }, xaxis: { title: { text: xtitle } } }, PLOT_CONFIG);
  plot("chart-wave", t, s.values, `Waveform (${s.units})`, "s");
  plot("chart-spectrum", s.spectrum.freqs, s.spectrum.amplitude, "Amplitude spectrum", "Hz");
  plot("chart-envelope", s.envelope.freqs, s.envelope.amplitude,
    `Envelope spectrum (${s.envelope.band_hz.map((v) => Math.round(v)).join("–")} Hz band)`, "Hz");
}

async function requestSnapshot() {
  const assets = await getJSON("/api/assets");
  const a = assets.find((r) => key(r.site, r.asset) === key(selected.site, selected.asset));
  if (!a) return;
  const res = await authFetch(`/api/edges/${encodeURIComponent(a.site)}/${encodeURIComponent(a.edge)}/commands`, {
    method: "POST", body: JSON.stringify({ cmd: "snapshot", asset: a.asset, duration_s: 1.0 }),
    contentType: "application/json" });
  $("snapshot-info").textContent = res.ok ? "snapshot requested…" : `request refused (HTTP ${res.status})`;
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
  // fleet-wide counts are for staff; learners and SME partners see their own assets only
  const [edges, assets, counts] = await Promise.all([getJSON("/api/edges"), getJSON("/api/assets"),
    getJSON("/api/summary").catch(() => null)]);
  if (counts) {
    $("n-messages").textContent = counts.messages;
    $("n-alerts").textContent = counts.alerts;
    $("n-quarantined").textContent = counts.quarantined;
  }
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

// lab sessions in scope (each links to its learner page) and the service levels staff answer for
const SLA_KIND = { mentor_feedback: "mentor feedback", credential_decision: "credential decision" };
const SLA_FLAG = { overdue: "OVERDUE", due_soon: "due soon" };

async function refreshSessions() {
  const [sessions, slaRes] = await Promise.all([getJSON("/api/sessions"), authFetch("/api/sla")]);
  const ul = $("sessions");
  ul.innerHTML = sessions.length ? "" : '<li class="muted">no lab session yet</li>';
  for (const s of sessions) {
    const li = document.createElement("li");
    li.dataset.session = String(s.id);
    const a = document.createElement("a");
    a.href = `/session?id=${s.id}`;
    a.textContent = `session ${s.id}`;
    const small = document.createElement("small");
    small.textContent = `${s.pack || s.kind} · team ${s.team}` + (s.evidence.length ?
      ` · acceptance ${s.evidence.every((e) => e.met) ? "met" : "not met"}` : "");
    li.append(a, ` ${s.status}`, small);
    ul.appendChild(li);
  }
  const ol = $("sla");
  if (!slaRes.ok) { ol.hidden = true; return; } // service levels are for staff (403 for others)
  const items = (await slaRes.json()).filter((i) => !i.done_at);
  ol.hidden = false;
  ol.innerHTML = items.length ? "" : '<li class="muted">nothing due</li>';
  for (const i of items) { // overdue first, then by deadline (the hub sorts them)
    const li = document.createElement("li");
    li.className = i.state;
    if (SLA_FLAG[i.state]) {
      const flag = document.createElement("span");
      flag.className = `flag ${i.state}`;
      flag.textContent = SLA_FLAG[i.state];
      li.appendChild(flag);
    }
    li.append(`${SLA_KIND[i.kind] || i.kind}, session ${i.session}`);
    const small = document.createElement("small");
    small.textContent = `team ${i.team} · deadline ${new Date(i.deadline).toLocaleString()}`;
    li.appendChild(small);
    ol.appendChild(li);
  }
}

// Live stream (live-stream.js): what each event type updates.
const handlers = {
  features: (msg) => {
    if (!selected) { refreshFleet(); return; }
    if (key(msg.site, msg.asset) === key(selected.site, selected.asset)) extendCharts(msg.records);
    $("n-messages").textContent = Number($("n-messages").textContent) + 1;
  },
  alert: () => { if (selected) refreshEvents(); refreshFleet(); },
  drift: () => { if (selected) refreshEvents(); },
  waveform: (msg) => { if (selected && key(msg.site, msg.asset) === key(selected.site, selected.asset)) refreshSnapshot(); },
  status: () => refreshFleet(),
  quarantine: () => refreshFleet(),
};

$("snapshot-request").onclick = () => requestSnapshot().catch((e) => console.error(e));
getJSON("/api/auth/me").then((me) => { $("snapshot-request").hidden = !me.roles.includes("hub_operator"); })
  .catch(() => {});
refreshFleet().catch((e) => console.error(e));
setInterval(() => refreshFleet().catch((e) => console.error(e)), 5000);
refreshSessions().catch((e) => console.error(e));
setInterval(() => refreshSessions().catch((e) => console.error(e)), 15000);
followStream(authFetch, handlers);
