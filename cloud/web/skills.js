// The learner portal (/skills): dashboard, self-assessment (with suggestions from free text), profile matrix with
// source badges and history, skill checks, job matches, gaps, pathway, career view, catalogue and sharing; staff
// see their teams' and companies' views (skills-staff.js). Every text goes through i18n.js (six languages).
import { $, authFetch, el, errorText, getJSON, guard, logout, problem, setDefaultHeaders, setLoginTexts } from "./common.js";
import { applyI18n, currentLanguage, initialLanguage, languageSwitcher, setLanguage, t } from "./i18n.js";
import { api, card, indicator, jobSelect, label, levelText, note, sourceBadge, table } from "./skills-ui.js";
import { companyView, teamView } from "./skills-staff.js";

let me = null;
let jobs = [];
const isLearner = () => me.roles.includes("learner");
const isStaff = () => me.roles.some((r) => ["mentor", "assessor", "hub_operator"].includes(r));
const isCompany = () => me.roles.some((r) => ["sme_partner", "hub_operator"].includes(r));

const VIEWS = {
  dashboard: { key: "nav.dashboard", show: isLearner, render: dashboard },
  self: { key: "nav.self", show: isLearner, render: selfAssessment },
  profile: { key: "nav.profile", show: isLearner, render: () => profileView("/api/skills/me/profile") },
  checks: { key: "nav.checks", show: isLearner, render: checksView },
  matches: { key: "nav.matches", show: isLearner, render: matchesView },
  gaps: { key: "nav.gaps", show: isLearner, render: gapsView },
  pathway: { key: "nav.pathway", show: isLearner, render: pathwayView },
  catalogue: { key: "nav.catalogue", show: () => true, render: catalogueView },
  sharing: { key: "nav.sharing", show: isLearner, render: sharingView },
  team: { key: "nav.team", show: isStaff, render: () => teamView(jobs, profileView) },
  company: { key: "nav.company", show: isCompany, render: () => companyView(jobs) },
};

function route() {
  const [name, query] = location.hash.slice(1).split("?");
  return { name, params: new URLSearchParams(query || "") };
}
const go = (name, params = {}) => { location.hash = `${name}${Object.keys(params).length ? `?${new URLSearchParams(params)}` : ""}`; };

async function render() {
  let { name } = route();
  const visible = Object.entries(VIEWS).filter(([, v]) => v.show());
  if (!VIEWS[name] || !VIEWS[name].show()) { // each role starts on its own view
    name = ["dashboard", "team", "company"].find((v) => VIEWS[v].show()) || visible[0][0];
  }
  $("nav").replaceChildren(...visible.map(([id, v]) => el("a", { href: `#${id}`, class: id === name ? "active" : "",
    dataset: { view: id } }, t(v.key))));
  $("view").replaceChildren(el("p", { class: "muted" }, t("loading")));
  const nodes = await guard("view", VIEWS[name].render());
  if (nodes) $("view").replaceChildren(...[].concat(nodes));
  $("view").dataset.view = name;
  $("view").dataset.ready = String(Date.now());
}

// --------------------------------------------------------------------------------------- dashboard
async function dashboard() {
  const [profile, matches] = await Promise.all([api("/api/skills/me/profile"), api("/api/skills/me/matches")]);
  if (!profile.skills.length) {
    return card("dash.empty.title", el("p", {}, t("dash.empty.text")),
      el("div", { class: "row" }, el("button", { id: "start-self", type: "button", onclick: () => go("self") }, t("dash.empty.start")),
        el("a", { href: "#catalogue" }, t("dash.empty.catalogue"))));
  }
  const c = profile.counts;
  const top = matches.slice(0, 3);
  const best = top[0];
  const path = best ? await api(`/api/skills/me/pathway/${best.job}`) : null;
  return [
    card("dash.profile", el("p", { id: "dash-counts" }, t("dash.counts", { n: profile.skills.length }), " ",
      sourceBadge("assessor"), ` ${c.assessor || 0} · `, sourceBadge("evidence"), ` ${c.evidence || 0} · `,
      sourceBadge("self"), ` ${c.self || 0}`), el("a", { href: "#profile" }, t("dash.see_profile"))),
    card("dash.matches", el("ol", { id: "dash-matches" }, ...top.map((m) => el("li", { dataset: { job: m.job } },
      el("b", {}, m.title), ` — ${t("fit", { fit: m.fit })}`)))),
    path ? card("dash.next", el("p", { id: "dash-pathway" }, t("dash.pathway", { job: path.title, ects: path.total_ects,
      n: path.steps.length })), el("a", { href: `#pathway?job=${best.job}` }, t("dash.see_pathway"))) : "",
  ];
}

// --------------------------------------------------------------------------------------- self-assessment
async function selfAssessment() {
  const [fw, profile] = await Promise.all([api("/api/skills/framework"), api("/api/skills/me/profile")]);
  const mine = Object.fromEntries(profile.skills.map((s) => [s.skill, s]));
  const select = (skill, value) => {
    const sel = el("select", { name: skill, dataset: { skill }, "aria-label": skill },
      el("option", { value: "", textContent: t("self.none") }),
      ...[1, 2, 3, 4].map((n) => el("option", { value: String(n), textContent: levelText(n) })));
    sel.value = value ? String(value) : "";
    return sel;
  };
  const legend = el("dl", { class: "levels" }, ...[1, 2, 3, 4].flatMap((n) =>
    [el("dt", {}, levelText(n)), el("dd", {}, t(`level.${n}.descriptor`))]));
  const form = el("form", { id: "self-form", class: "self" }, ...fw.areas.map((a) => el("fieldset", { dataset: { area: a.area } },
    el("legend", {}, a.name), ...a.skills.map((s) => {
      const row = mine[s.skill];
      const verified = row && row.source !== "self";
      return el("label", { class: "skill-row" }, label(s.label, s.label_source === "fallback"), select(s.skill, row && row.self_level),
        verified ? el("small", {}, t("self.verified", { level: levelText(row.level) }), " ", sourceBadge(row.source)) : "");
    }))), el("label", { class: "wide" }, t("self.note"), el("input", { id: "self-note", maxLength: 2000 })),
  el("div", { class: "row" }, el("button", { type: "submit" }, t("self.save")), el("span", { id: "self-result" })));
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const levels = {};
    for (const sel of form.querySelectorAll("select[data-skill]")) if (sel.value) levels[sel.dataset.skill] = Number(sel.value);
    const res = await authFetch(`/api/skills/me/self-assessment?lang=${currentLanguage()}`,
      { method: "PUT", json: { levels, note: $("self-note").value } });
    $("self-result").replaceChildren(res.ok ? note(t("self.saved", { n: Object.keys(levels).length }))
      : note(`${t("refused")} — ${await errorText(res)}`, false));
  };
  const text = el("textarea", { id: "experience", rows: 4, maxLength: 5000, placeholder: t("suggest.placeholder") });
  const list = el("ul", { id: "suggestions", class: "suggestions" });
  const suggestBtn = el("button", { id: "suggest", type: "button" }, t("suggest.button"));
  suggestBtn.onclick = async () => {
    const res = await authFetch("/api/skills/me/suggestions", { method: "POST", json: { text: text.value, language: currentLanguage() } });
    if (!res.ok) { list.replaceChildren(note(await errorText(res), false)); return; }
    const found = await res.json();
    list.replaceChildren(...(found.length ? found.map((f) => {
      const sel = select(f.skill, (mine[f.skill] && mine[f.skill].self_level) || 2);
      sel.dataset.suggested = f.skill;
      const li = el("li", { dataset: { skill: f.skill } }, el("b", {}, f.label), ` (${t("suggest.matched", { phrase: f.matched })}) `, sel,
        el("button", { type: "button", class: "confirm", onclick: () => {
          const target = form.querySelector(`select[data-skill="${f.skill}"]`);
          target.value = sel.value;
          li.replaceChildren(t("suggest.confirmed", { skill: f.label, level: levelText(Number(sel.value)) }));
        } }, t("suggest.confirm")),
        el("button", { type: "button", class: "remove", onclick: () => li.remove() }, t("suggest.remove")));
      return li;
    }) : [el("li", { class: "muted" }, t("suggest.none"))]));
  };
  return [card("self.title", el("p", {}, t("self.intro")), legend),
    card("suggest.title", el("p", { class: "muted" }, t("suggest.intro")), text, el("div", { class: "row" }, suggestBtn), list),
    card("self.questionnaire", form)];
}

// --------------------------------------------------------------------------------------- profile
function refText(h) {
  const r = h.ref || {};
  if (r.kind === "evidence") {
    const met = (r.met || []).flatMap((a) => a.criteria.map((c) => `${c.metric} ${c.op} ${c.value} (${c.measured})`));
    return t("ref.evidence", { session: r.session, credential: r.credential, criteria: met.join("; ") });
  }
  if (r.kind === "outcome") {
    return t("ref.outcome", { session: r.session, level: r.weighted_level,
      criteria: (r.criteria || []).map((c) => `${c.name} ${c.level}`).join("; ") });
  }
  return r.kind === "self-assessment" ? t("ref.self") : (r.kind || "—");
}

export async function profileView(url) {
  const p = await api(url);
  if (!p.skills.length) return card("profile.title", el("p", { class: "muted", id: "profile-empty" }, t("profile.empty")));
  const rows = p.skills.map((s) => el("tr", { dataset: { skill: s.skill, source: s.source || "" } },
    el("td", {}, label(s.label, s.label_source === "fallback")), el("td", { class: "level" }, levelText(s.level)),
    el("td", {}, sourceBadge(s.source)), el("td", { class: "self-level" }, levelText(s.self_level)),
    el("td", { class: "check" }, s.check ? t("profile.check", { correct: s.check.correct, total: s.check.total, level: s.check.level }) : "—"),
    el("td", {}, el("details", { class: "history" }, el("summary", {}, t("profile.history", { n: s.history.length })),
      el("ol", {}, ...s.history.map((h) => el("li", { class: h.applied ? "applied" : "kept", dataset: { source: h.source } },
        `${new Date(h.at).toLocaleString(currentLanguage())} · ${levelText(h.level)} `, sourceBadge(h.source),
        ` ${h.applied ? "" : t("profile.kept")} — ${refText(h)}`)))))));
  return card("profile.title", el("p", { class: "muted" }, t("profile.intro")),
    table("profile-matrix", ["profile.skill", "profile.level", "profile.source", "profile.self", "profile.checked", "profile.changes"], rows));
}

// --------------------------------------------------------------------------------------- checks
async function checksView() {
  const [available, report] = await Promise.all([api("/api/skills/checks"), api("/api/skills/me/report")]);
  const area = el("div", { id: "check-area" });
  const start = async (skill) => {
    const res = await authFetch("/api/skills/checks", { method: "POST", json: { skill } });
    if (!res.ok) { area.replaceChildren(note(await errorText(res), false)); return; }
    const c = await res.json();
    const form = el("form", { id: "check-form" }, currentLanguage() !== "en" ? el("p", { class: "muted" }, t("check.english")) : "",
      ...c.questions.map((q, i) => el("fieldset", { dataset: { question: q.id } }, el("legend", {}, `${i + 1}. ${q.question}`),
        ...q.options.map((o, k) => el("label", { class: "option" }, el("input", { type: "radio", name: `q${i}`, value: String(k), required: true }), ` ${o}`)))),
      el("button", { type: "submit" }, t("check.submit")));
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const answers = c.questions.map((_, i) => Number(form.querySelector(`input[name=q${i}]:checked`).value));
      const r = await authFetch(`/api/skills/checks/${c.check}/answers`, { method: "POST", json: { answers } });
      if (!r.ok) { area.append(note(await errorText(r), false)); return; }
      const out = await r.json();
      area.replaceChildren(el("p", { id: "check-result" }, t("check.result", { correct: out.correct, total: out.total, level: levelText(out.level) })),
        el("ol", {}, ...out.items.map((it) => el("li", { class: it.ok ? "ok" : "bad" }, it.ok ? t("check.right") : t("check.wrong"), " — ", it.explanation))),
        el("button", { type: "button", onclick: () => render() }, t("check.again")));
    };
    area.replaceChildren(form);
  };
  const rep = report.evaluated ? el("div", { id: "report" },
    el("p", {}, t("report.summary", { n: report.evaluated, avg: report.average_level })),
    el("p", {}, t("report.strongest", { skill: (report.skills.find((s) => s.skill === report.strongest_skill) || {}).label,
      area: report.strongest_area_name })),
    table("report", ["profile.skill", "report.check", "profile.self"], report.skills.map((s) =>
      [s.label, `${levelText(s.level)} (${s.correct}/${s.total})`, levelText(s.self_level)])))
    : el("p", { class: "muted" }, t("report.none"));
  return [card("check.title", el("p", {}, t("check.intro")), el("ul", { class: "checks" }, ...available.map((a) =>
    el("li", {}, a.label, " ", el("button", { type: "button", dataset: { skill: a.skill }, onclick: () => start(a.skill) }, t("check.start"))))), area),
  card("report.title", rep)];
}

// --------------------------------------------------------------------------------------- matches, gaps, career
async function matchesView() {
  const matches = await api("/api/skills/me/matches");
  return card("matches.title", el("p", { class: "muted" }, t("matches.intro")), el("ol", { id: "matches", class: "matches" },
    ...matches.map((m) => el("li", { dataset: { job: m.job, fit: String(m.fit) } },
      el("div", { class: "match-head" }, el("b", {}, m.title), ` · EQF ${m.eqf_level} · `,
        el("meter", { min: 0, max: 100, value: m.fit }), ` ${t("fit", { fit: m.fit })} `,
        el("a", { href: `#gaps?job=${m.job}` }, t("nav.gaps")), " · ", el("a", { href: `#pathway?job=${m.job}` }, t("nav.pathway"))),
      el("div", { class: "inds" }, ...m.skills.filter((s) => s.status !== "not_required").map(indicator))))));
}

async function gapsView() {
  const job = route().params.get("job") || jobs[0].id;
  const [g, career] = await Promise.all([api(`/api/skills/me/gaps/${job}`), api(`/api/jobs/${job}/career`)]);
  const rows = g.gaps.map((s) => el("tr", { dataset: { skill: s.skill } }, el("td", {}, s.label), el("td", {}, levelText(s.required)),
    el("td", {}, levelText(s.level)), el("td", { class: "short" }, String(s.short_by)), el("td", {}, s.essential ? t("essential") : t("optional"))));
  return [card("gaps.title", jobSelect(jobs, job, (v) => go("gaps", { job: v })), el("p", {}, t("fit", { fit: g.fit })),
    rows.length ? table("gaps", ["profile.skill", "gaps.required", "gaps.yours", "gaps.short", "gaps.kind"], rows)
      : el("p", { id: "no-gaps" }, t("gaps.none"))),
  card("career.title", career.successors.length ? el("ul", { id: "career" }, ...career.successors.map((s) => el("li", {},
    el("b", {}, s.title), ` · EQF ${s.eqf_level} · ${t("fit", { fit: s.fit })} — ${t("career.adds")} `,
    s.adds.map((a) => `${a.label} ${a.from || 0}→${a.to}`).join(", ")))) : el("p", { class: "muted" }, t("career.none")))];
}

// --------------------------------------------------------------------------------------- pathway
async function pathwayView() {
  const params = route().params;
  const job = params.get("job") || jobs[0].id;
  const filters = { max_eqf: params.get("max_eqf"), mode: params.getAll("mode"), language: params.getAll("language") };
  const p = await api(`/api/skills/me/pathway/${job}`, filters);
  const eqf = el("select", { id: "f-eqf" }, el("option", { value: "", textContent: t("filter.any") }),
    ...[3, 4, 5, 6, 7].map((n) => el("option", { value: String(n), textContent: `≤ EQF ${n}` })));
  eqf.value = filters.max_eqf || "";
  const mode = el("select", { id: "f-mode" }, el("option", { value: "", textContent: t("filter.any") }),
    ...["online", "on-site", "hybrid"].map((m) => el("option", { value: m, textContent: t(`mode.${m}`) })));
  mode.value = filters.mode[0] || "";
  const apply = () => go("pathway", Object.fromEntries(Object.entries({ job, max_eqf: eqf.value, mode: mode.value }).filter(([, v]) => v)));
  eqf.onchange = apply;
  mode.onchange = apply;
  const steps = p.steps.map((s) => el("li", { dataset: { entry: s.entry } }, el("b", {}, s.title),
    ` · ${s.ects} ECTS · EQF ${s.eqf_level} · ${t(`mode.${s.mode}`)} · ${s.language.toUpperCase()}`,
    s.prerequisites.length ? el("small", {}, t("pathway.after", { list: s.prerequisites.map((g) => g.join(` ${t("or")} `)).join(", ") })) : "",
    s.closes.length ? el("small", { class: "closes" }, t("pathway.closes", { list: s.closes.map((c) => `${c.label} (${c.level})`).join(", ") }))
      : el("small", { class: "needed" }, t("pathway.needed_for", { list: s.needed_for.join(", ") }))));
  return card("pathway.title", el("div", { class: "row" }, jobSelect(jobs, job, (v) => go("pathway", { job: v })),
    el("label", {}, t("filter.eqf"), " ", eqf), el("label", {}, t("filter.mode"), " ", mode)),
  el("p", { id: "pathway-total" }, t("pathway.total", { ects: p.total_ects, n: p.steps.length })),
  steps.length ? el("ol", { id: "pathway", class: "pathway" }, ...steps) : el("p", { id: "pathway-none" }, t("pathway.none")),
  p.unclosable.length ? el("div", { id: "unclosable", class: "bad" }, el("h3", {}, t("pathway.unclosable")),
    el("ul", {}, ...p.unclosable.map((u) => el("li", {}, `${u.label}: ${u.reason}`)))) : "",
  p.recognised.length ? el("p", { class: "muted", id: "recognised" }, t("pathway.recognised", { list: p.recognised.join(", ") })) : "",
  el("p", { class: "muted" }, t("pathway.how")), steps.length ? adoptButton(job, filters) : "");
}

/** Adopt the pathway shown (the hub recomputes it with the same filters; the pathway KPIs count it). */
function adoptButton(job, filters) {
  const done = el("p", { id: "pathway-adopted", class: "ok", hidden: true });
  const button = el("button", { id: "pathway-adopt", type: "button", textContent: t("pathway.adopt") });
  button.onclick = () => guard("pathway", (async () => {
    const body = { job_id: job, max_eqf: filters.max_eqf ? Number(filters.max_eqf) : null, modes: filters.mode,
      languages: filters.language };
    const res = await authFetch("/api/pathways/adopt", { method: "POST", json: body });
    if (!res.ok) throw new Error(await errorText(res));
    const a = await res.json();
    done.textContent = t("pathway.adopted", { date: a.adopted_at.slice(0, 10), n: a.credentials.length });
    done.hidden = false;
  })());
  return el("div", { class: "row" }, button, done);
}

// --------------------------------------------------------------------------------------- catalogue
async function catalogueView() {
  const params = route().params;
  const fw = await api("/api/skills/framework");
  const f = { q: params.get("q") || "", eqf: params.get("eqf") || "", max_ects: params.get("max_ects") || "",
    language: params.get("language") || "", mode: params.get("mode") || "", skill: params.get("skill") || "" };
  const entries = await api("/api/catalogue", f);
  const input = (id, props) => Object.assign(el("input", { id, ...props }), { value: f[id.slice(2)] });
  const sel = (id, options) => { const s = el("select", { id }, el("option", { value: "", textContent: t("filter.any") }), ...options); s.value = f[id.slice(2)]; return s; };
  const form = el("form", { id: "cat-filters", class: "row wrap" },
    el("label", {}, t("filter.search"), " ", input("c-q", { type: "search", placeholder: t("filter.search_hint") })),
    el("label", {}, "EQF ", sel("c-eqf", [3, 4, 5, 6].map((n) => el("option", { value: String(n), textContent: String(n) })))),
    el("label", {}, t("filter.max_ects"), " ", input("c-max_ects", { type: "number", min: 0.5, step: 0.5 })),
    el("label", {}, t("filter.language"), " ", sel("c-language", ["en", "es", "fr", "it", "tr", "sl"].map((l) => el("option", { value: l, textContent: l.toUpperCase() })))),
    el("label", {}, t("filter.mode"), " ", sel("c-mode", ["online", "on-site", "hybrid"].map((m) => el("option", { value: m, textContent: t(`mode.${m}`) })))),
    el("label", {}, t("filter.skill"), " ", sel("c-skill", fw.areas.flatMap((a) => a.skills).map((s) => el("option", { value: s.skill, textContent: s.label })))),
    el("button", { type: "submit" }, t("filter.apply")));
  form.onsubmit = (ev) => {
    ev.preventDefault();
    go("catalogue", Object.fromEntries(Object.keys(f).map((k) => [k, $(`c-${k}`).value]).filter(([, v]) => v)));
  };
  const cards = entries.map((e) => el("article", { class: "entry", dataset: { entry: e.id } },
    el("h3", {}, label(e.title, e.title_fallback)),
    el("p", {}, `${e.awarding_body} · ${e.issuer_country} · ${e.location}`),
    el("p", { class: "facts-line" }, `EQF ${e.eqf_level} · ${e.ects} ECTS · ${t(`mode.${e.mode}`)} · ${e.language.toUpperCase()} · ${e.assessment_type}`),
    el("p", { class: "muted" }, `${t("entry.participation")}: ${e.form_of_participation} · ${t("entry.qa")}: ${e.quality_assurance}`),
    el("ul", {}, ...e.learning_outcomes.map((o) => el("li", {}, o))),
    el("p", {}, t("entry.skills"), " ", e.skills.map((s) => `${s.label} (${s.required})`).join(", ")),
    e.prerequisites.length ? el("p", { class: "muted" }, t("pathway.after", { list: e.prerequisites.map((g) => g.join(` ${t("or")} `)).join(", ") })) : ""));
  return card("catalogue.title", form, el("p", { id: "cat-count" }, t("catalogue.count", { n: entries.length })),
    el("div", { id: "catalogue", class: "entries" }, ...cards));
}

// --------------------------------------------------------------------------------------- sharing
async function sharingView() {
  const list = await getJSON("/api/skills/me/consents");
  const form = el("form", { id: "consents" }, ...list.map((c) => el("label", { class: "option" },
    el("input", { type: "checkbox", value: c.site, checked: c.shared }), ` ${c.name}`,
    c.history.length ? el("small", {}, t("sharing.since", { when: new Date(c.history[c.history.length - 1].granted_at).toLocaleDateString(currentLanguage()) })) : "")),
  el("button", { type: "submit" }, t("sharing.save")), el("span", { id: "consent-result" }));
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const sites = [...form.querySelectorAll("input:checked")].map((i) => i.value);
    const res = await authFetch("/api/skills/me/consents", { method: "PUT", json: { sites } });
    $("consent-result").replaceChildren(res.ok ? note(t("sharing.saved")) : note(await errorText(res), false));
  };
  return card("sharing.title", el("p", {}, t("sharing.intro")), list.length ? form : el("p", { class: "muted" }, t("sharing.none")));
}

// --------------------------------------------------------------------------------------- start
async function useLanguage(code, remember) {
  await setLanguage(code);
  setDefaultHeaders({ "Accept-Language": code });
  setLoginTexts({ title: t("login.title"), email: t("login.email"), password: t("login.password"),
    submit: t("login.submit"), wrong: t("login.wrong"), failed: t("login.failed") });
  applyI18n();
  document.title = `TeachFab — ${t("portal.title")}`;
  languageSwitcher($("lang"), (c) => useLanguage(c, true).catch((e) => problem("language", e)));
  if (remember && me) await authFetch("/api/me/language", { method: "PUT", json: { language: code } });
  $("attribution").textContent = t("esco.attribution");
  if (me) {
    $("who").textContent = `${me.email} (${me.roles.map((r) => t(`role.${r}`)).join(", ")})`;
    jobs = await api("/api/jobs");
    await render();
  }
}

async function main() {
  await useLanguage(initialLanguage(), false);
  me = await getJSON("/api/auth/me");
  const chosen = (await getJSON("/api/me/language")).language;
  $("logout").hidden = false;
  $("logout").onclick = logout;
  $("nav").hidden = false;
  $("view").hidden = false;
  window.addEventListener("hashchange", () => render());
  await useLanguage(chosen, false);
}

main().catch((e) => { console.error(e); problem("page", `${t("page.failed")}: ${e.message}`); });
