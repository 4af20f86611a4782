// The public credential verifier (/verify): paste or upload an Open Badges 3.0 credential, or open a share link
// (/verify?share=TOKEN); the hub (POST /api/credentials/verify) checks signature, issuer, status and validity, and
// the page shows each check with the achievement and its evidence. No log-in; texts in the portal's six languages.
import { $, el, errorText, guard } from "./common.js";
import { applyI18n, initialLanguage, languageSwitcher, setLanguage, t } from "./i18n.js";

let last = null; // the last {credential, verification}, re-drawn when the language changes

function row(check, label, ok, text) {
  return el("div", { class: `check ${ok ? "ok" : "bad"}`, dataset: { check, ok: String(ok) } },
    el("strong", {}, `${label}: `), el("span", {}, text));
}

function statusText(v) {
  const set = (p) => v.status.some((s) => s.purpose === p && s.set);
  if (set("revocation")) return ["revoked", false];
  if (set("suspension")) return ["suspended", false];
  return ["active", v.status.length > 0 && v.status.every((s) => s.set === false)];
}

function draw() {
  if (!last) return;
  const v = last.verification;
  const box = $("result");
  const sig = v.signature.valid ? t("verify.signature.ok", { key: (v.signature.method || "").split("#").pop().slice(0, 12) })
    : t("verify.signature.bad");
  const issuer = v.issuer.known ? `${v.issuer.name || v.issuer.id} (${v.issuer.country || "—"})` : t("verify.issuer.unknown");
  const [state, stateOk] = statusText(v);
  const until = v.validity.valid_until || t("verify.validity.open");
  const validity = `${t("verify.validity.range", { from: v.validity.valid_from || "—", until })}`
    + (v.validity.current ? "" : ` — ${t("verify.validity.outside")}`);
  const a = v.achievement;
  const nodes = [
    el("h2", { id: "verdict", class: v.verified ? "ok" : "bad" }, v.verified ? t("verify.verified") : t("verify.failed")),
    row("signature", t("verify.signature"), v.signature.valid, sig),
    row("issuer", t("verify.issuer"), v.issuer.known, issuer),
    row("status", t("verify.status"), stateOk, t(`verify.status.${state}`)),
    row("validity", t("verify.validity"), v.validity.current, validity),
  ];
  if (a) {
    nodes.push(el("h3", {}, t("verify.achievement")), el("p", { id: "achievement-name" }, el("strong", {}, a.name || "—")),
      el("p", { class: "muted" }, a.description || ""),
      el("p", {}, [a.credits != null ? t("verify.credits", { credits: a.credits }) : "", a.eqf || ""].filter(Boolean).join(" · ")),
      el("p", {}, `${t("verify.skills")}: ${(a.skills || []).join(", ") || "—"}`));
  }
  if (v.evidence.length) {
    nodes.push(el("h3", {}, t("verify.evidence")),
      el("ul", { id: "evidence" }, ...v.evidence.map((e) => el("li", {}, `${e.name}: `, el("code", {}, e.sha256)))));
  }
  if (v.errors.length) {
    nodes.push(el("h3", {}, t("verify.errors")), el("ul", { id: "errors" }, ...v.errors.map((e) => el("li", {}, e))));
  }
  box.replaceChildren(...nodes);
  box.hidden = false;
  box.dataset.verified = String(v.verified);
  box.dataset.status = state;
  box.dataset.ready = String(Date.now());
}

async function verifyText(text) {
  let credential;
  try { credential = JSON.parse(text); } catch (e) { throw new Error(t("verify.bad_json", { error: e.message })); }
  const res = await fetch("/api/credentials/verify", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(credential) });
  if (!res.ok) throw new Error(await errorText(res));
  last = { credential, verification: await res.json() };
  draw();
}

async function openShare(token) {
  const res = await fetch(`/api/credentials/shared/${encodeURIComponent(token)}`);
  if (!res.ok) throw new Error(await errorText(res));
  last = await res.json();
  $("credential").value = JSON.stringify(last.credential, null, 2);
  draw();
}

async function main() {
  await setLanguage(initialLanguage());
  applyI18n();
  languageSwitcher($("lang"), async (code) => { await setLanguage(code); applyI18n(); draw(); });
  $("verify").onclick = () => guard("verify", verifyText($("credential").value));
  $("file").onchange = async () => {
    const f = $("file").files[0];
    if (!f) return;
    $("credential").value = await f.text();
    guard("verify", verifyText($("credential").value));
  };
  const share = new URLSearchParams(location.search).get("share");
  if (share) await guard("share", openShare(share));
  document.body.dataset.ready = "true";
}

main();
