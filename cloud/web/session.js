// Learner page of one lab session (/session?id=N): live telemetry, alerts, deployments with lineage and a
// deploy form while it runs; evidence, ground truth, submission and outcome once it is closed.
// Log-in, fetch and chart helpers are common.js (shared with the mentor page, app.js); the live stream is
// live-stream.js.
import {
  $, authFetch, drawLines, drawScore, el, errorText, extendLines, extendScore, getJSON, guard, isLearning, logout,
  problem, show, WindowFeed,
} from "./common.js";
import { DeployForm } from "./deploy-form.js";
import { featureNames, featureOrder } from "./feature-charts.js";
import { drawEnvelope, explanationNode } from "./explanation.js";
import { decorateAll } from "./learnflow.js";
import { followStream } from "./live-stream.js";

const SESSION_ID = Number(new URLSearchParams(location.search).get("id"));
const MAX_POINTS = 1500;
const FEATURE_CHARTS = 4; // the few features charted under the score, in the order their feature set shows them
const TIME_AXIS = { xaxis: { title: { text: "scenario time (s)" } } };

let me = null;             // GET /api/auth/me
let teamLabel = null;      // the session's team, named, once GET /api/teams answered
let session = null;        // GET /api/sessions/N, refreshed every few seconds
let edgeAnswers = {};      // bundle_id -> the edge's answer to that deploy command
let asset = null;          // the asset whose telemetry is shown
let features = [];         // features charted for it
let names = new Set();     // features seen in its windows
let windows = 0;           // windows shown
let alertRows = [];
let closedShown = false;
let lastClosedRefresh = 0;
let deployDirty = false;   // the learner edited the pipeline (form or text): do not overwrite it
let deployForm = null;     // the field-by-field form (deploy-form.js), kept in step with the JSON

// --- small helpers --------------------------------------------------------------------------------
const round3 = (x) => Math.round(x * 1000) / 1000;
const tOf = (ns) => round3((ns - session.start_ns) / 1e9); // scenario seconds since the session's t = 0
const fmtT = (ns) => (ns === null || ns === undefined ? "—" : `t = ${tOf(ns)} s`);
const fmtWhen = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

const code = (text) => el("code", {}, text || "—");

function fill(parent, nodes, empty) {
  parent.replaceChildren(...(nodes.length ? nodes : [el("li", { class: "muted" }, empty)]));
}

/** A message that stays in the page's banner (the page cannot show the session). */
const fatal = (message) => problem("page", message);

// --- the session: overview and scenario clock ------------------------------------------------------
async function refreshSession() {
  const res = await authFetch(`/api/sessions/${SESSION_ID}`);
  if (res.status === 404) {
    $("content").hidden = true;
    fatal(`Session ${SESSION_ID} does not exist, or it is not one of your team's (${await errorText(res)}).`);
    return false;
  }
  if (!res.ok) throw new Error(`session: ${await errorText(res)}`);
  const first = session === null;
  session = await res.json();
  $("content").hidden = false;
  if (first) setUp();
  await refreshEdgeAnswers();
  renderOverview();
  renderDeployments();
  renderTruth();
  if (session.status !== "running" && !closedShown) {
    closedShown = true;
    showClosed();
  } else if (closedShown && Date.now() - lastClosedRefresh > 15000) {
    guard("submissions and assessment", refreshAfterClose());
  }
  return true;
}

function setUp() {
  document.title = `TeachFab — lab session ${session.id}`;
  $("title").textContent = `lab session ${session.id}`;
  const options = () => session.assets.map((a) => el("option", { value: a, textContent: a }));
  $("asset-select").replaceChildren(...options());
  $("deploy-asset").replaceChildren(...options());
  $("asset-pick").hidden = session.assets.length < 2;
  $("asset-select").onchange = () => guard("telemetry", selectAsset($("asset-select").value));
  $("deploy-asset").onchange = () => { deployDirty = false; prefillDeploy(); };
  deployForm = new DeployForm({ root: $("deploy-fields"), textarea: $("deploy-pipeline"), diff: $("deploy-diff"),
    authFetch, onEdit: () => { deployDirty = true; } });
  $("deploy-pipeline").oninput = () => { deployDirty = true; deployForm.fromText(); };
  $("deploy-reset").onclick = () => { deployDirty = false; prefillDeploy(); };
  $("deploy").onsubmit = (ev) => {
    ev.preventDefault();
    deploy().catch((e) => showResult("deploy-result", String(e), false));
  };
  $("submit").onsubmit = (ev) => {
    ev.preventDefault();
    submitWork().catch((e) => showResult("submit-result", String(e), false));
  };
  guard("telemetry", selectAsset(session.assets[0]));
  getJSON("/api/teams").then((teams) => { // the team's name and members, when the caller may see them
    const team = teams.find((t) => t.id === session.team);
    if (team) teamLabel = `${team.name} (${team.members.map((m) => m.name || m.email).join(", ")})`;
    renderOverview();
  }).catch((e) => console.warn(e));
}

function renderOverview() {
  const s = session;
  $("s-id").textContent = s.id;
  $("s-status").textContent = s.status;
  $("s-status").className = `status ${s.status}`;
  $("s-pack").textContent = s.pack || "—";
  $("s-scenario").textContent = s.kind === "window" ? "real assets (challenge window)" : s.scenario;
  $("s-team").textContent = teamLabel || `team ${s.team}`;
  $("s-assets").textContent = `${s.assets.join(", ")} at site ${s.site}, edge ${s.edge}`;
  $("s-speed").textContent = `${s.speed}× (scenario seconds per wall-clock second)`;
  $("s-started").textContent = fmtWhen(s.started_at) + (s.closed_at ? ` · closed ${fmtWhen(s.closed_at)}` : "");
  $("s-error").hidden = !s.error;
  $("s-error").textContent = s.error ? `This session failed: ${s.error}` : "";
  tick();
}

/** Scenario time = start + (now − start) × speed; a closed session stops at its end. */
function tick() {
  if (!session) return;
  const running = session.status === "running";
  const nowNs = Date.now() * 1e6;
  const scenarioNs = running ? session.start_ns + (nowNs - session.start_ns) * session.speed : session.end_ns;
  if (scenarioNs === null || scenarioNs === undefined) { // failed before it ran: no clock
    $("clock-t").textContent = "—";
    $("clock-of").textContent = `(${session.status})`;
    return;
  }
  const t = Math.max(0, (scenarioNs - session.start_ns) / 1e9);
  const total = session.duration_s || 0;
  $("clock-t").textContent = `t = ${t.toFixed(1)} s`;
  $("clock-t").dataset.t = t.toFixed(3);
  $("clock-t").dataset.at = String(nowNs / 1e6); // the wall-clock time (ms) the value is for
  $("clock-of").textContent = (total ? `of ${total} s` : "") + (running ? "" : ` (${session.status})`);
  $("clock-bar").value = total ? Math.min(1, t / total) : 0;
  $("clock-time").textContent = new Date(scenarioNs / 1e6).toLocaleString();
}

// --- live telemetry --------------------------------------------------------------------------------
const assetUrl = (a) => `/api/assets/${encodeURIComponent(session.site)}/${encodeURIComponent(a)}`;

/** The feature set of the asset's current pipeline (its newest deployment), or null. */
function featureSetOf(name) {
  const deps = session.deployments.filter((d) => d.asset === name);
  const last = deps[deps.length - 1];
  return (last && last.pipeline && last.pipeline.feature_set) || null;
}

const pickFeatures = (seen) => featureOrder(featureSetOf(asset), seen).slice(0, FEATURE_CHARTS);

const feed = new WindowFeed({
  async load() {
    const res = await authFetch(`${assetUrl(asset)}/telemetry?limit=${MAX_POINTS}`);
    if (res.ok) return res.json();
    if (res.status === 404) return []; // the edge has not published a window yet
    throw new Error(`telemetry of ${asset}: ${await errorText(res)}`);
  },
  draw: drawCharts,
  extend: extendCharts,
  // the first windows, or a feature that was not there before (a thermal model fitted): redraw if the
  // features charted change
  stale(records) {
    if (windows === 0) return true;
    const seen = new Set([...names, ...featureNames(records)]);
    if (seen.size === names.size) return false;
    names = seen;
    return pickFeatures(seen).join() !== features.join();
  },
});

async function selectAsset(name) {
  asset = name;
  await feed.reload();
}

function drawCharts(rows) {
  names = featureNames(rows);
  features = pickFeatures(names);
  const x = rows.map((r) => tOf(r.ts));
  drawScore($("chart-score"), x, rows, `Anomaly score vs threshold — ${asset}`, TIME_AXIS);
  $("feature-charts").replaceChildren(...features.map((f) => el("div", { id: `chart-f-${f}`, class: "chart" })));
  for (const f of features) drawLines($(`chart-f-${f}`), x, rows, [f], f, TIME_AXIS);
  $("latest-head").replaceChildren(...["score", "threshold", "state", ...features].map((h) => el("th", {}, h)));
  windows = rows.length;
  showLatest(rows[rows.length - 1]);
  drawShapes();
}

function extendCharts(records) {
  const x = records.map((r) => tOf(r.ts));
  extendScore($("chart-score"), x, records, MAX_POINTS);
  for (const f of features) extendLines($(`chart-f-${f}`), x, records, [f], MAX_POINTS);
  windows = Math.min(MAX_POINTS, windows + records.length);
  showLatest(records[records.length - 1]);
}

function showLatest(r) {
  if (!r) return;
  const num = (v) => (typeof v === "number" ? v.toPrecision(4) : "—");
  const learning = isLearning(r);
  const above = !learning && r.score > r.threshold;
  $("live-t").textContent = `t = ${tOf(r.ts).toFixed(2)} s`;
  $("live-t").dataset.ts = String(r.ts);
  $("live-t").dataset.windows = String(windows);
  const cells = [
    el("td", { id: "live-score", class: above ? "above" : "", dataset: { value: learning ? "" : String(r.score) } },
      learning ? "—" : num(r.score)),
    el("td", { id: "live-threshold" }, num(r.threshold)),
    el("td", { id: "live-state", class: above ? "above" : "" },
      learning ? "learning the healthy machine (warm-up)" : above ? "above the threshold" : "scoring"),
    ...features.map((f) => el("td", { dataset: { feature: f } }, num(r[f]))),
  ];
  $("latest-row").replaceChildren(...cells);
}

/** Alerts as red lines on the score chart; once revealed, the ground truth as shaded spans. */
function drawShapes() {
  if (!$("chart-score").data) return;
  const line = (t, color) => ({ type: "line", xref: "x", yref: "paper", x0: t, x1: t, y0: 0, y1: 1,
    line: { color, width: 1, dash: "dot" } });
  const shapes = alertRows.filter((a) => a.asset === asset).map((a) => line(tOf(a.ts), "#c0392b"));
  for (const e of (session && session.ground_truth) || []) {
    if (e.asset && e.asset !== asset) continue;
    const end = e.end_ns === null || e.end_ns === undefined ? session.start_ns + session.duration_s * 1e9 : e.end_ns;
    shapes.push({ type: "rect", xref: "x", yref: "paper", x0: tOf(e.start_ns), x1: tOf(end), y0: 0, y1: 1,
      fillcolor: e.category === "fault" ? "#c0392b" : "#7f8c8d", opacity: 0.12, line: { width: 0 } });
  }
  Plotly.relayout("chart-score", { shapes });
}

// --- alerts and drift of the session's site --------------------------------------------------------
let eventsTimer = null;
function scheduleEvents() {
  clearTimeout(eventsTimer);
  eventsTimer = setTimeout(() => guard("alerts and drift", refreshEvents()), 300);
}

async function refreshEvents() {
  const q = (a) => `site=${encodeURIComponent(session.site)}&asset=${encodeURIComponent(a)}&limit=500`;
  const [alerts, drift] = await Promise.all(["alerts", "drift"].map(async (kind) => {
    const lists = await Promise.all(session.assets.map((a) => getJSON(`/api/${kind}?${q(a)}`).catch(() => [])));
    return lists.flat().filter((r) => r.site === session.site).sort((a, b) => b.ts - a.ts);
  }));
  alertRows = alerts;
  const several = session.assets.length > 1;
  $("n-alerts").textContent = alerts.length;
  $("n-drift").textContent = drift.length;
  const alertItems = alerts.map((a) => {
    const li = el("li", { dataset: { ts: String(a.ts) }, class: a.explanation ? "explained" : "" },
      `${fmtT(a.ts)}${several ? ` · ${a.asset}` : ""} · score ${Number(a.score).toFixed(2)}`, el("small", {}, a.message));
    const why = explanationNode(a.explanation);
    if (why) li.append(why);
    li.addEventListener("click", () => drawEnvelope($("chart-alert-envelope"), a)); // show this alert's spectrum
    return [li, a];
  });
  drawEnvelope($("chart-alert-envelope"), alerts.find((a) => a.explanation && a.explanation.spectrum));
  const driftItems = drift.map((d) => [el("li", { dataset: { ts: String(d.ts) } },
    `${fmtT(d.ts)}${several ? ` · ${d.asset}` : ""} · ${d.target} (${d.detector})`,
    el("small", {}, d.message)), d]);
  fill($("alerts"), alertItems.map(([li]) => li), "no alerts");
  fill($("drift"), driftItems.map(([li]) => li), "no drift");
  decorateAll(alertItems, "alert"); // the learning unit that teaches what the event shows
  decorateAll(driftItems, "drift");
  drawShapes();
}

// --- deployments with lineage, and the deploy form -------------------------------------------------
async function refreshEdgeAnswers() {
  const waiting = session.deployments.some((d) => d.bundle_id && !edgeAnswers[d.bundle_id]);
  if (!waiting || session.kind === "window") return;
  const res = await authFetch(`/api/edges/${encodeURIComponent(session.site)}/${encodeURIComponent(session.edge)}`);
  if (!res.ok) return; // the edge has not reported yet
  for (const r of (await res.json()).command_results || []) if (r.bundle_id) edgeAnswers[r.bundle_id] = r;
}

function renderDeployments() {
  const current = {};
  for (const d of session.deployments) current[d.asset] = d.deployment; // the newest per asset runs
  const rows = session.deployments.map((d) => {
    const answer = d.bundle_id ? edgeAnswers[d.bundle_id] : null;
    const edge = !d.bundle_id ? "starter" : !answer ? "waiting for the edge…"
      : answer.status + (answer.reason ? `: ${answer.reason}` : "");
    const note = (d.pipeline && d.pipeline.lineage && d.pipeline.lineage.note) || "";
    const isCurrent = current[d.asset] === d.deployment;
    return el("tr", { class: isCurrent ? "current" : "", dataset: { deployment: String(d.deployment), hash: d.hash } },
      el("td", {}, d.deployment),
      el("td", {}, d.asset),
      el("td", { class: "name" }, d.name, isCurrent ? el("span", { class: "tag" }, "current") : "",
        note ? el("small", {}, note) : ""),
      el("td", { class: "hash" }, code(d.hash)),
      el("td", { class: "parent" }, code(d.parent)),
      el("td", { class: "author" }, d.author),
      el("td", {}, fmtT(d.active_ns)),
      el("td", {}, fmtWhen(d.created_at)),
      el("td", { class: `edge ${answer ? answer.status : ""}` }, edge));
  });
  $("deployments").replaceChildren(...rows);
  const running = session.status === "running";
  const mayDeploy = running && me && me.roles.some((r) => ["learner", "mentor", "hub_operator"].includes(r));
  $("deploy").hidden = !mayDeploy;
  $("deploy-closed").hidden = running;
  if (mayDeploy && !deployDirty) prefillDeploy();
}

/** The current pipeline of the chosen asset, without its lineage (the hub fills that in). */
function prefillDeploy() {
  const a = $("deploy-asset").value || session.assets[0];
  const deps = session.deployments.filter((d) => d.asset === a);
  const last = deps[deps.length - 1];
  const pipeline = { ...((last && last.pipeline) || {}) };
  delete pipeline.lineage;
  const text = JSON.stringify(pipeline, null, 2);
  if (text === $("deploy-pipeline").value && deployForm.registry) return; // unchanged: leave the form as it is
  $("deploy-pipeline").value = text;
  deployForm.load(pipeline).catch((e) => problem("deploy form", e));
}

function showResult(id, text, ok) {
  $(id).textContent = text;
  $(id).className = `result ${ok ? "ok" : "error"}`;
}

async function deploy() {
  let pipeline;
  try {
    pipeline = JSON.parse($("deploy-pipeline").value);
  } catch (e) {
    showResult("deploy-result", `not deployed: the pipeline is not valid JSON (${e.message})`, false);
    return;
  }
  showResult("deploy-result", "deploying…", true);
  const body = { asset: $("deploy-asset").value, pipeline, note: $("deploy-note").value };
  const res = await authFetch(`/api/sessions/${SESSION_ID}/deployments`, { method: "POST", json: body });
  if (!res.ok) {
    showResult("deploy-result", `refused — ${await errorText(res)}`, false);
    return;
  }
  const d = await res.json();
  showResult("deploy-result", `deployed ${d.name} (${d.hash}), parent ${d.parent}; the edge confirms in the list above`, true);
  deployDirty = false;
  $("deploy-note").value = "";
  await refreshSession();
}

// --- after the session closed: ground truth, evidence, submission, assessment ----------------------
function renderTruth() {
  const truth = session.ground_truth;
  $("truth-hidden").hidden = Array.isArray(truth);
  $("truth-table").hidden = !Array.isArray(truth);
  if (!Array.isArray(truth)) return;
  const rows = [...truth].sort((a, b) => a.start_ns - b.start_ns).map((e) => el("tr", { dataset: { event: e.event } },
    el("td", {}, e.event), el("td", {}, e.category), el("td", {}, e.asset || "—"),
    el("td", { class: "from" }, fmtT(e.start_ns)),
    el("td", {}, e.end_ns === null || e.end_ns === undefined ? "the end" : fmtT(e.end_ns))));
  $("truth").replaceChildren(...rows);
  const variant = session.variant;
  $("truth-variant").hidden = !variant;
  if (variant) {
    $("truth-variant").textContent = `This session ran an assessed variant the hub drew (seed ${variant.seed}): ` +
      "its onsets and timings differ from the pack's public script, which is what rehearsal runs.";
  }
  drawShapes();
}

function showClosed() {
  $("evidence-card").hidden = false;
  $("submission-card").hidden = false;
  $("assessment-card").hidden = false;
  guard("alerts and drift", refreshEvents());
  loadEvidence().catch((e) => { $("evidence").textContent = String(e); });
  guard("submissions and assessment", refreshAfterClose());
}

async function refreshAfterClose() {
  lastClosedRefresh = Date.now();
  await Promise.all([loadSubmissions(), loadAssessment()]);
}

async function loadEvidence() {
  const docs = await getJSON(`/api/sessions/${SESSION_ID}/evidence`);
  if (!docs.length) {
    $("evidence").replaceChildren(el("p", { class: "muted" },
      session.status === "failed" ? "No evidence: the session failed." : "No evidence was computed."));
    return;
  }
  $("evidence").replaceChildren(...docs.map(evidenceBlock));
}

const verdict = (met, cls = "") => el("span", { class: `verdict ${met ? "met" : "not-met"} ${cls}` }, met ? "met" : "not met");
const pipelineRef = (p) => (p ? [el("b", {}, p.name), " ", code(p.hash), " (parent ", code(p.parent),
  `, by ${show(p.author)})`] : ["—"]);

function figures(ev, prefix) {
  const f = (cls, label, value) => el("span", { class: `${prefix}-${cls}` }, label, el("b", {}, show(value)));
  return el("p", { class: "figures" },
    f("false-alarms", "false alarms ", ev.false_alarms), " · ",
    f("fa-per-hour", "per healthy hour ", ev.false_alarms_per_hour), ` (over ${show(ev.healthy_hours)} h) · `,
    f("delay", "detection delay (s) ", ev.detection_delay_s), " · ",
    f("missed", "missed faults ", ev.missed_faults), " · ",
    `precision ${show(ev.precision)} · recall ${show(ev.recall)} · F1 ${show(ev.f1)} · `,
    `drift events ${show(ev.drift_events)} (${show(ev.drift_events_handled)} regime changes handled, `,
    `${show(ev.false_drift_alarms)} false drift alarms)`);
}

function faultTable(ev) {
  const rows = ev.faults.map((f) => el("tr", { dataset: { event: f.event } },
    el("td", {}, f.event), el("td", {}, fmtT(f.start_ns)),
    el("td", { class: f.detected ? "ok" : "bad" }, f.detected ? "detected" : "missed"),
    el("td", { class: "delay" }, f.detection_delay_s === null ? "—" : `${f.detection_delay_s} s`),
    el("td", {}, f.alerts)));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 5, class: "muted" }, "no fault began before the end")));
  return el("table", { class: "faults" },
    el("thead", {}, el("tr", {}, ...["fault", "onset", "", "detection delay", "alerts"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows));
}

function criteriaTable(acceptance) {
  return el("table", { class: "criteria" },
    el("thead", {}, el("tr", {}, ...["acceptance criterion", "measured", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...acceptance.criteria.map((c) => el("tr", { dataset: { metric: c.metric } },
      el("td", {}, `${c.metric} ${c.op} ${c.value}`, c.required === false ? " (not required)" : "",
        c.note ? el("small", {}, c.note) : ""),
      el("td", { class: "measured" }, c.measured === null ? "not measured" : String(c.measured)),
      el("td", {}, verdict(c.met))))));
}

function evidenceBlock(e) {
  const doc = e.document;
  const final = doc.final;
  const block = el("article", { class: "evidence", dataset: { asset: e.asset } });
  block.append(el("h3", {}, `${e.asset} — final pipeline: acceptance `,
    final ? verdict(final.acceptance.met, "final-verdict") : "—"));
  if (final) {
    block.append(
      el("p", { class: "final-pipeline" }, "final pipeline ", ...pipelineRef(final.pipeline),
        `, scored from ${fmtT(final.start_ns)} to ${fmtT(final.end_ns)}`),
      faultTable(final.evidence), figures(final.evidence, "final"), criteriaTable(final.acceptance));
  }
  const whole = doc.whole_session;
  block.append(el("h4", {}, "Whole session (every pipeline, start to end): acceptance ",
    verdict(whole.acceptance.met, "whole-verdict")), figures(whole.evidence, "whole"));
  if (doc.segments.length > 1) {
    block.append(el("h4", {}, "Every pipeline of the session"), el("table", { class: "segments" },
      el("thead", {}, el("tr", {}, ...["pipeline", "from", "to", "detection delay (s)", "false alarms", "acceptance"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, ...doc.segments.map((s) => el("tr", {},
        el("td", {}, s.pipeline.name, " ", code(s.pipeline.hash)), el("td", {}, fmtT(s.start_ns)), el("td", {}, fmtT(s.end_ns)),
        el("td", {}, show(s.evidence.detection_delay_s)), el("td", {}, s.evidence.false_alarms),
        el("td", {}, verdict(s.acceptance.met)))))));
  }
  if ((doc.not_applied || []).length) {
    block.append(el("p", { class: "bad" }, "Not scored (the edge did not confirm them): ",
      doc.not_applied.map((p) => `${p.name} ${p.hash} (${p.edge_answer})`).join(", ")));
  }
  block.append(el("p", { class: "muted" }, `computed ${fmtWhen(e.computed_at)} · SHA-256 `, code(e.sha256),
    e.intact ? " · intact" : el("b", { class: "bad" }, " · DOES NOT MATCH ITS SHA-256")));
  return block;
}

const SLA_TEXT = {
  on_track: "feedback due within 24 h", due_soon: "feedback due soon (24–48 h)", overdue: "feedback overdue",
  done: "answered in time", done_late: "answered late",
};

/** A link a learner handed in: clickable only when it is http(s), never javascript: or the like. */
const link = (url) => (/^https?:\/\//i.test(url) ? el("a", { href: url, target: "_blank", rel: "noopener", textContent: url }) : url);

async function loadSubmissions() {
  const subs = await getJSON(`/api/sessions/${SESSION_ID}/submissions`);
  fill($("submissions"), subs.map((s) => el("li", { dataset: { submission: String(s.id) } },
    el("div", {}, `submitted ${fmtWhen(s.submitted_at)} `, el("span", { class: `sla ${s.sla}` }, SLA_TEXT[s.sla] || s.sla)),
    s.note ? el("p", { class: "note" }, s.note) : "",
    el("ul", {}, ...s.links.map((l) => el("li", {}, link(l)))),
    s.feedback
      ? el("blockquote", { class: "feedback" }, el("b", {}, `mentor's feedback (${fmtWhen(s.feedback_at)}): `), s.feedback)
      : el("p", { class: "muted" }, "waiting for the mentor's feedback"))), "nothing handed in yet");
  $("submit").hidden = !(me && me.roles.includes("learner") && session.status === "closed");
}

async function submitWork() {
  const links = $("submit-links").value.split("\n").map((l) => l.trim()).filter(Boolean);
  const res = await authFetch(`/api/sessions/${SESSION_ID}/submissions`, { method: "POST",
    json: { note: $("submit-note").value, links } });
  if (!res.ok) { showResult("submit-result", `not submitted — ${await errorText(res)}`, false); return; }
  showResult("submit-result", "submitted: your mentor answers within 24–48 h", true);
  $("submit-note").value = "";
  $("submit-links").value = "";
  await loadSubmissions();
}

const STAGE_TEXT = {
  open: "the session still runs", awaiting_scores: "waiting for the assessors' scores",
  needs_moderation: "the assessors disagree; a mentor moderates", ready_for_signoff: "scored; waiting for sign-off",
  signed_off: "signed off",
};

async function loadAssessment() {
  const st = await getJSON(`/api/sessions/${SESSION_ID}/assessment`);
  $("assessment-stage").textContent = STAGE_TEXT[st.stage] || st.stage;
  $("assessment-stage").dataset.stage = st.stage;
  const o = st.outcome;
  if (!o) { $("outcome").replaceChildren(); return; }
  $("outcome").replaceChildren(
    el("p", {}, "outcome ", el("b", { id: "outcome-result", class: o.result === "pass" ? "ok" : "bad" },
      o.result === "pass" ? "pass" : "not yet"), ` · weighted level ${o.weighted_level} (pass from ${o.pass_level})`,
      ` · signed off ${fmtWhen(o.signed_off_at)} by ${o.signed_off_by.email}`),
    o.reasons.length ? el("ul", { class: "reasons" }, ...o.reasons.map((r) => el("li", {}, r))) : "",
    el("table", { class: "rubric" },
      el("thead", {}, el("tr", {}, ...["criterion", "side", "level", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...o.criteria.map((c) => el("tr", {}, el("td", {}, c.name), el("td", {}, c.side),
        el("td", {}, c.level, c.moderated ? " (moderated)" : ""), el("td", {}, el("small", {}, c.descriptor)))))),
    o.note ? el("p", {}, `note: ${o.note}`) : "",
    o.result === "pass" && o.credentials.length
      ? el("p", {}, "credential(s): ", o.credentials.map((c) => c.title).join(", "), o.eqf_level ? ` (EQF ${o.eqf_level})` : "")
      : "");
}

// --- live stream (live-stream.js) ---------------------------------------------------------------------
const mine = (msg) => session && msg.site === session.site;
const handlers = {
  features: (msg) => { if (mine(msg) && msg.asset === asset) feed.push(msg.records); },
  alert: (msg) => { if (mine(msg)) scheduleEvents(); },
  drift: (msg) => { if (mine(msg)) scheduleEvents(); },
  cmd_result: (msg) => { if (mine(msg)) guard("session", refreshSession()); },
  // the edge announces its pipelines again after a deploy: redraw, the new pipeline may compute other features
  birth: (msg) => { if (mine(msg) && session.status === "running") guard("telemetry", selectAsset(asset)); },
};

async function main() {
  if (!Number.isInteger(SESSION_ID) || SESSION_ID <= 0) {
    fatal("This page shows one lab session: open /session?id=N (your mentor or `teachfab lab up` gives the address).");
    return;
  }
  me = await getJSON("/api/auth/me");
  $("who").textContent = `${me.email} (${me.roles.join(", ")})`;
  $("logout").hidden = false;
  $("logout").onclick = logout;
  if (!(await refreshSession())) return;
  await refreshEvents();
  setInterval(tick, 250);
  setInterval(() => guard("session", refreshSession()), 5000);
  followStream(authFetch, handlers);
}

main().catch((e) => { console.error(e); fatal(`The page could not load: ${e.message}`); });
