// TeachFab page translations: one messages file per language (/static/i18n/<lang>.json, flat "key": "text"
// with {name} placeholders). t(key, params) looks a key up in the chosen language and falls back to English;
// applyI18n(root) fills every element carrying data-i18n (text), data-i18n-placeholder or data-i18n-title.
// tests/hub/test_skills_i18n.py fails when a key used by a page lacks one of the six translations.

export const LANGUAGES = ["en", "es", "fr", "it", "tr", "sl"];
export const LANGUAGE_NAMES = { en: "English", es: "Español", fr: "Français", it: "Italiano", tr: "Türkçe",
  sl: "Slovenščina" };
const STORE_KEY = "teachfab-lang";

let lang = "en";
let messages = {};
let english = {};

async function load(code) {
  const res = await fetch(`/static/i18n/${code}.json`);
  if (!res.ok) throw new Error(`messages of ${code}: HTTP ${res.status}`);
  return res.json();
}

/** The language chosen in this browser (before the hub says what the user chose), else the browser's. */
export function initialLanguage() {
  const stored = localStorage.getItem(STORE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGUAGES.includes(nav) ? nav : "en";
}

/** Load `code`'s messages (and English, the fallback) and make it the page's language. */
export async function setLanguage(code) {
  if (!LANGUAGES.includes(code)) code = "en";
  if (!Object.keys(english).length) english = await load("en");
  messages = code === "en" ? english : await load(code);
  lang = code;
  localStorage.setItem(STORE_KEY, code);
  document.documentElement.lang = code;
  return code;
}

export const currentLanguage = () => lang;

/** The text of `key` in the page's language with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = messages[key] ?? english[key];
  if (text === undefined) { console.warn(`no message ${key}`); text = key; }
  return text.replace(/\{(\w+)\}/g, (m, name) => (params[name] === undefined ? m : String(params[name])));
}

/** Translate every element under `root` marked with data-i18n, data-i18n-placeholder or data-i18n-title. */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

/** Fill a <select> with the six languages, each named in itself; `onChange(code)` when one is chosen. */
export function languageSwitcher(select, onChange) {
  select.replaceChildren(...LANGUAGES.map((code) => {
    const o = document.createElement("option");
    o.value = code;
    o.textContent = LANGUAGE_NAMES[code];
    return o;
  }));
  select.value = lang;
  select.onchange = () => onChange(select.value);
}
