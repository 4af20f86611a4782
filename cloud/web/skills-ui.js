// Small pieces the skills pages share: localized data requests, level and source badges, tables, job pickers.
import { el, getJSON } from "./common.js";
import { currentLanguage, t } from "./i18n.js";

/** GET a JSON answer with the page's language (?lang=) added. */
export function api(path, params = {}) {
  const q = new URLSearchParams({ lang: currentLanguage() });
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v !== null && v !== undefined && v !== "") q.set(k, v);
  }
  return getJSON(`${path}${path.includes("?") ? "&" : "?"}${q}`);
}

/** A level as "3 · Advanced" (— when none). */
export const levelText = (n) => (n ? `${n} · ${t(`level.${n}.name`)}` : "—");

/** A source badge: self, evidence or assessor (their trust rising in that order). */
export const sourceBadge = (src) => (src ? el("span", { class: `src ${src}`, dataset: { source: src },
  title: t(`source.${src}.help`) }, t(`source.${src}`)) : el("span", { class: "muted" }, "—"));

/** A label with a marker when the hub had to show English for the chosen language. */
export function label(text, fallback) {
  return fallback ? el("span", {}, text, el("sup", { class: "fallback", title: t("fallback.help") }, t("fallback.mark")))
    : el("span", {}, text);
}

/** A table with a header row of translated keys and `rows` (arrays of cells). */
export function table(cls, headKeys, rows) {
  return el("table", { class: cls },
    el("thead", {}, el("tr", {}, ...headKeys.map((k) => el("th", {}, k ? t(k) : "")))),
    el("tbody", {}, ...rows.map((cells) => (cells instanceof Node ? cells : el("tr", {}, ...cells.map((c) => el("td", {}, c)))))));
}

/** Per-skill indicator of a match: met, under (by n), missing. */
export function indicator(s) {
  const text = s.status === "met" ? t("status.met") : s.status === "under" ? t("status.under", { n: s.short_by })
    : s.status === "missing" ? t("status.missing") : t("status.not_required");
  return el("span", { class: `ind ${s.status}${s.essential ? " essential" : ""}`, dataset: { skill: s.skill, status: s.status },
    title: `${s.label}: ${levelText(s.level)} / ${levelText(s.required)}` }, `${s.label} `, el("b", {}, text));
}

/** A <select> of job profiles (titles in the page's language). */
export function jobSelect(jobs, value, onChange) {
  const sel = el("select", { class: "job-select", "aria-label": t("job.pick") },
    ...jobs.map((j) => el("option", { value: j.id, textContent: `${j.title} (EQF ${j.eqf_level})` })));
  if (value) sel.value = value;
  sel.onchange = () => onChange(sel.value);
  return sel;
}

/** A section card with a translated heading. */
export const card = (titleKey, ...children) => el("section", { class: "card" }, el("h2", {}, t(titleKey)), ...children);

/** A paragraph saying what a result was; `ok` false for a refusal. */
export const note = (text, ok = true) => el("p", { class: `result ${ok ? "ok" : "error"}` }, text);
