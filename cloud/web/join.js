// Joining by invitation (/join?token=…): the learner sets a password, picks a language and the companies that
// may see their profile; the hub creates the account and the portal opens.
import { $, el, errorText, problem, useToken } from "./common.js";
import { applyI18n, initialLanguage, languageSwitcher, setLanguage, t } from "./i18n.js";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
let invitation = null;

async function use(code) {
  await setLanguage(code);
  applyI18n();
  document.title = `TeachFab — ${t("join.title")}`;
  languageSwitcher($("lang"), (c) => use(c).catch((e) => problem("language", e)));
  if (invitation) $("join-for").textContent = t("join.for", { email: invitation.email, team: invitation.team || "—" });
}

async function main() {
  const res = await fetch(`/api/invitations/${encodeURIComponent(TOKEN)}`, { headers: { "Accept-Language": initialLanguage() } });
  if (!res.ok) {
    await use(initialLanguage());
    problem("page", await errorText(res));
    return;
  }
  invitation = await res.json();
  await use(localStorage.getItem("teachfab-lang") ? initialLanguage() : invitation.language);
  $("join-companies").append(...invitation.companies.map((c) => el("label", { class: "option" },
    el("input", { type: "checkbox", value: c.site }), ` ${c.name}`)));
  $("join-card").hidden = false;
  $("join-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const lang = $("lang").value;
    const body = { password: $("join-password").value, display_name: $("join-name").value, language: lang,
      share_with: [...document.querySelectorAll("#join-companies input:checked")].map((i) => i.value) };
    const r = await fetch(`/api/invitations/${encodeURIComponent(TOKEN)}/accept`, { method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": lang }, body: JSON.stringify(body) });
    if (!r.ok) { $("join-result").replaceChildren(el("span", { class: "result error" }, await errorText(r))); return; }
    useToken((await r.json()).access_token);
    location.href = "/skills#dashboard";
  };
}

main().catch((e) => { console.error(e); problem("page", e.message); });
