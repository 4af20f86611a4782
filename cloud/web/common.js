// TeachFab: what the mentor page (app.js) and the learner page (session.js) share — log-in, authenticated
// fetch with the hub's error messages, a problem banner, a DOM helper, and plotly.js chart helpers.
// Plain ES module, no build step; plotly.js is the global `Plotly` (/vendor/plotly.min.js).

const TOKEN_KEY = "teachfab-token"; // sessionStorage: one log-in per browser tab, shared by both pages

export const $ = (id) => document.getElementById(id);
/** A value as the pages print it: "—" for none. */
export const show = (v) => (v === null || v === undefined ? "—" : String(v));

/** A DOM element with properties (class, dataset, textContent, href, …) and children (nodes or text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : show(c));
  return node;
}

// --- errors ---------------------------------------------------------------------------------------

/** The hub's own words for a refused request: "HTTP 422: pipeline.threshold: …". */
export async function errorText(res) {
  let detail = "";
  try { detail = (await res.json()).detail; } catch { /* not JSON */ }
  if (Array.isArray(detail)) { // FastAPI's validation errors: where, and what is wrong there
    detail = detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
  } else if (detail && typeof detail !== "string") {
    detail = JSON.stringify(detail);
  }
  return `HTTP ${res.status}${detail ? `: ${detail}` : ""}`;
}

const problems = new Map(); // what part of the page -> what went wrong there

/**
 * Show what went wrong with one part of the page (`what`: any key, e.g. "fleet") in the #page-error banner,
 * or clear that part's message (error = null). The banner lists every part's problem until it is cleared.
 */
export function problem(what, error) {
  if (error) {
    console.error(error);
    problems.set(what, error.message || String(error)); // getJSON's errors name the request already
  } else {
    problems.delete(what);
  }
  const banner = $("page-error");
  if (!banner) return;
  banner.textContent = [...problems.values()].join(" · ");
  banner.hidden = problems.size === 0;
}

/** Run `promise` for one part of the page: its error goes to the banner, its success clears it. */
export function guard(what, promise) {
  return promise.then((value) => { problem(what, null); return value; }, (e) => { problem(what, e); });
}

// --- log-in: a bearer token from POST /api/auth/token, or the demo log-in where the hub offers it ----

let token = sessionStorage.getItem(TOKEN_KEY);
let defaultHeaders = {}; // sent with every authenticated request (the portal's Accept-Language)

/** Headers every authFetch sends, e.g. { "Accept-Language": "sl" } so the hub words its refusals in Slovenian. */
export function setDefaultHeaders(headers) { defaultHeaders = { ...headers }; }

/** Use a bearer token obtained elsewhere (the join page's new account) for this tab. */
export function useToken(t) { token = t; sessionStorage.setItem(TOKEN_KEY, t); }
let loggingIn = null;
let demoLogin = false;

/** Let this page log in as the demo mentor when the hub runs in demo mode (GET /api/auth/config). */
export function useDemoLogin() { demoLogin = true; }

let loginTexts = { title: "Log in", email: "e-mail", password: "password", submit: "Log in",
  wrong: "wrong e-mail or password", failed: "log-in failed" };

/** The words of the log-in form (a translated page sets them before its first request). */
export function setLoginTexts(texts) { loginTexts = { ...loginTexts, ...texts }; }

/** The log-in form (every page has the same one), made under the page's header on first use. */
function loginForm() {
  let form = $("login");
  if (!form) {
    const field = (label, id, props) => el("label", {}, `${label} `, el("input", { id, required: true, ...props }));
    form = el("form", { id: "login", class: "login", hidden: true }, el("h2", {}, loginTexts.title),
      field(loginTexts.email, "login-email", { name: "username", type: "email", autocomplete: "username" }),
      field(loginTexts.password, "login-password", { name: "password", type: "password", autocomplete: "current-password" }),
      el("button", { type: "submit" }, loginTexts.submit), el("span", { id: "login-error", class: "error-text" }));
    document.querySelector("header").after(form);
  }
  return form;
}

async function askLogin() {
  if (demoLogin) {
    const cfg = await (await fetch("/api/auth/config")).json();
    if (cfg.demo_login) {
      const res = await fetch("/api/auth/demo-token", { method: "POST" });
      if (res.ok) return (await res.json()).access_token;
    }
  }
  const form = loginForm();
  form.hidden = false;
  $("login-email").focus();
  return new Promise((resolve) => {
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      $("login-error").textContent = "";
      const body = new URLSearchParams({ username: $("login-email").value, password: $("login-password").value });
      const res = await fetch("/api/auth/token", { method: "POST", body });
      if (!res.ok) {
        $("login-error").textContent = res.status === 401 ? loginTexts.wrong
          : `${loginTexts.failed} (${await errorText(res)})`;
        return;
      }
      form.hidden = true;
      $("login-password").value = "";
      resolve((await res.json()).access_token);
    };
  });
}

/** Log in once, however many requests are waiting for it. */
function login() {
  if (!loggingIn) {
    loggingIn = askLogin().then((t) => { token = t; sessionStorage.setItem(TOKEN_KEY, t); loggingIn = null; });
  }
  return loggingIn;
}

/**
 * fetch with the bearer token; a 401 (no token, or an expired one) asks for a log-in and tries again once.
 * `opts.json`: a body sent as JSON. A hub that does not answer at all throws an Error saying so.
 */
export async function authFetch(url, opts = {}) {
  if (!token) await login();
  const hasJson = opts.json !== undefined;
  const init = () => ({ ...opts, headers: { ...defaultHeaders, ...(opts.headers || {}), Authorization: `Bearer ${token}`,
    ...(hasJson ? { "Content-Type": "application/json" } : {}) }, ...(hasJson ? { body: JSON.stringify(opts.json) } : {}) });
  const send = () => fetch(url, init()).catch((e) => {
    throw new Error(`${url}: the hub did not answer (${e.message})`);
  });
  let res = await send();
  if (res.status === 401) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    await login();
    res = await send();
  }
  return res;
}

/** GET a JSON answer; a refusal throws an Error with the hub's message ("url: HTTP 404: no asset …"). */
export async function getJSON(url) {
  const res = await authFetch(url);
  if (!res.ok) throw new Error(`${url}: ${await errorText(res)}`);
  return res.json();
}

export async function logout() {
  await authFetch("/api/auth/logout", { method: "POST" }).catch(() => {});
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// --- charts (plotly.js) -----------------------------------------------------------------------------

export const PLOT_CONFIG = { displaylogo: false, responsive: true };
const MARGIN = { l: 50, r: 10, t: 30, b: 35 };

/** Layout defaults with a title; `extra` (e.g. the page's x axis) is merged in, axes key by key. */
export function layout(title, extra = {}) {
  const out = { margin: MARGIN, legend: { orientation: "h" }, ...extra, title: { text: title, font: { size: 13 } } };
  for (const axis of ["xaxis", "yaxis"]) if (extra[axis]) out[axis] = { ...extra[axis] };
  return out;
}

export const isLearning = (r) => r.learning === true || r.learning === 1;
/** A feature's values, null where a window lacks it (a gap in the line). */
export const column = (rows, name) => rows.map((r) => (r[name] === undefined ? null : r[name]));
// no score is plotted while the detector is still learning (it is 0 then)
const scoreOf = (rows) => rows.map((r) => (isLearning(r) || r.score === undefined ? null : r.score));

/** The anomaly score (log scale) with the threshold as a dashed line, over the windows `rows` at `x`. */
export function drawScore(node, x, rows, title, extra = {}) {
  Plotly.newPlot(node, [
    { x, y: scoreOf(rows), name: "anomaly score", mode: "lines", line: { color: "#2c6fbb" } },
    { x, y: column(rows, "threshold"), name: "threshold", mode: "lines", line: { color: "#c0392b", dash: "dash" } },
  ], layout(title, { ...extra, yaxis: { type: "log" } }), PLOT_CONFIG);
}

/** Append windows to a drawScore chart, keeping the last `max` points. */
export function extendScore(node, x, records, max) {
  Plotly.extendTraces(node, { x: [x, x], y: [scoreOf(records), column(records, "threshold")] }, [0, 1], max);
}

/** One line per feature in `series`, over the windows `rows` at `x`. */
export function drawLines(node, x, rows, series, title, extra = {}) {
  Plotly.newPlot(node, series.map((s) => ({ x, y: column(rows, s), name: s, mode: "lines" })),
    layout(title, { showlegend: series.length > 1, ...extra }), PLOT_CONFIG);
}

/** Append windows to a drawLines chart, keeping the last `max` points. */
export function extendLines(node, x, records, series, max) {
  Plotly.extendTraces(node, { x: series.map(() => x), y: series.map((s) => column(records, s)) },
    series.map((_, i) => i), max);
}

/**
 * Feature windows of one asset: the history first, then the live ones, each drawn once.
 *
 * Windows that arrive while the history loads are kept and drawn with it. When live windows need
 * other charts (`hooks.stale`, e.g. a feature appeared), the history is loaded and drawn again.
 * hooks: load() -> Promise<rows, oldest first>; draw(rows); extend(records); stale(records) -> boolean.
 */
export class WindowFeed {
  constructor(hooks) {
    this.hooks = hooks;
    this.drawnUpTo = null; // ts of the last window drawn; null while (re)loading
    this.pending = [];
    this.generation = 0;   // a newer reload makes an older one's answer obsolete
  }

  /** (Re)load and draw the history; `keep`: live windows that must not be lost meanwhile. */
  async reload(keep = []) {
    const generation = ++this.generation;
    this.drawnUpTo = null;
    this.pending = keep;
    let rows = [];
    let failure = null;
    try { rows = await this.hooks.load(); } catch (e) { failure = e; }
    if (generation !== this.generation) return;
    const last = rows.length ? rows[rows.length - 1].ts : 0;
    rows = rows.concat(this.pending.filter((r) => r.ts > last));
    this.pending = [];
    this.drawnUpTo = rows.length ? rows[rows.length - 1].ts : 0;
    this.hooks.draw(rows); // also after a failure: the page shows what it has, the next windows retry
    if (failure) throw failure;
  }

  /** Live windows (oldest first). */
  push(records) {
    if (this.drawnUpTo === null) { this.pending.push(...records); return; }
    records = records.filter((r) => r.ts > this.drawnUpTo);
    if (!records.length) return;
    if (this.hooks.stale(records)) { this.reload(records).catch((e) => problem("telemetry", e)); return; }
    this.drawnUpTo = records[records.length - 1].ts;
    this.hooks.extend(records);
  }
}
