// The learner's wallet (/wallet): my credentials with their status, what each raised in my skill profile, the signed
// JSON to download, the Europass (ELM) export, and a public share link that opens the verifier without a log-in.
import { $, authFetch, el, errorText, getJSON, guard, logout, setDefaultHeaders, setLoginTexts } from "./common.js";
import { applyI18n, currentLanguage, initialLanguage, languageSwitcher, setLanguage, t } from "./i18n.js";

let creds = [];
const links = new Map(); // credential id -> share URL made in this visit (the hub shows a token only once)

async function download(c, kind) {
  const res = await authFetch(`/api/credentials/me/${encodeURIComponent(c.id)}/${kind}`);
  if (!res.ok) throw new Error(await errorText(res));
  const blob = await res.blob();
  const a = el("a", { href: URL.createObjectURL(blob),
    download: `${kind === "europass" ? "europass" : "credential"}-${c.id.slice(9)}.json` });
  document.body.append(a);
  a.click();
  a.remove();
}

async function share(c, on) {
  const res = await authFetch(`/api/credentials/me/${encodeURIComponent(c.id)}/share`, { method: on ? "POST" : "DELETE" });
  if (!res.ok) throw new Error(await errorText(res));
  if (on) links.set(c.id, (await res.json()).url); else links.delete(c.id);
  await load();
}

function card(c) {
  const link = links.get(c.id);
  return el("section", { class: "card credential", dataset: { id: c.id, status: c.status } },
    el("h2", {}, c.title),
    el("p", {}, el("span", { class: `badge status-${c.status}` }, t(`verify.status.${c.status}`)), " ",
      t("wallet.issued", { date: c.issued_at.slice(0, 10) }), c.status_reason ? ` — ${c.status_reason}` : ""),
    el("h3", {}, t("wallet.raised")),
    el("ul", { class: "raised" }, ...c.raised.map((r) => el("li", {}, `${r.skill}: ${t(`level.${r.level}.name`)} (${t("source.assessor")})`))),
    el("div", { class: "row" },
      el("button", { type: "button", class: "download", onclick: () => guard("download", download(c, "download")) }, t("wallet.download")),
      el("button", { type: "button", class: "europass", onclick: () => guard("download", download(c, "europass")) }, t("wallet.europass")),
      c.shared && !link ? el("button", { type: "button", class: "unshare", onclick: () => guard("share", share(c, false)) }, t("wallet.unshare")) : "",
      el("button", { type: "button", class: "share", onclick: () => guard("share", share(c, true)) }, t("wallet.share"))),
    link ? el("p", { class: "share-link" }, `${t("wallet.shared_at")} `, el("a", { href: link, target: "_blank" }, link)) : "");
}

function draw() {
  const box = $("wallet");
  box.replaceChildren(...(creds.length ? creds.map(card) : [el("p", { class: "muted", id: "empty" }, t("wallet.empty"))]));
  box.dataset.ready = String(Date.now());
}

async function load() {
  creds = await getJSON("/api/credentials/me");
  draw();
}

async function main() {
  await setLanguage(initialLanguage());
  applyI18n();
  const texts = () => setLoginTexts({ title: t("login.title"), email: t("login.email"), password: t("login.password"),
    submit: t("login.submit"), wrong: t("login.wrong"), failed: t("login.failed") });
  texts();
  setDefaultHeaders({ "Accept-Language": currentLanguage() });
  languageSwitcher($("lang"), async (code) => {
    await setLanguage(code); applyI18n(); texts(); setDefaultHeaders({ "Accept-Language": code }); draw();
  });
  $("logout").onclick = logout;
  await guard("wallet", load());
}

main();
