// Onboarding page (/onboarding): every SME site's onboarding record (an SME partner sees its own), and for hub
// operators the starter kits — issue one (the archive downloads at once: it holds the only copy of the edge's
// broker password), revoke a lost gateway's kit, re-issue with new credentials.
import { $, authFetch, el, errorText, getJSON, guard, logout, show } from "./common.js";

const STEPS = ["registered", "kit_issued", "first_data", "first_challenge_signed", "first_live_window"];
const EXAMPLE = {
  sources: [{ adapter: "opcua", asset: "pump-1",
    options: { url: "opc.tcp://192.168.1.20:4840/", namespace: "urn:teachfab:simulator", browse_path: "Assets/pump-1" } }],
  pipelines: { "pump-1": { rpm: 1797, bearing: "6205" } },
};
const fmt = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
let operator = false;

function download(issued) {
  const bytes = Uint8Array.from(atob(issued.archive_b64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/gzip" }));
  const a = el("a", { href: url, download: issued.filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  $("kit-result").textContent = `kit ${issued.kit.id} issued: ${issued.filename}, short code ${issued.short_code}`;
}

async function drawRecords() {
  const rows = await getJSON("/api/onboarding");
  const body = $("records").querySelector("tbody");
  body.replaceChildren(...rows.map((r) => {
    const at = Object.fromEntries(r.steps.map((s) => [s.step, s]));
    const state = r.done ? "live" : r.overdue ? "overdue" : `next: ${r.next_step.replaceAll("_", " ")}`;
    return el("tr", { class: r.overdue ? "overdue" : "", dataset: { site: r.site } },
      el("td", {}, `${r.name} (${r.site})`),
      ...STEPS.map((s) => el("td", { title: at[s].detail }, fmt(at[s].at))),
      el("td", {}, `${r.elapsed_days.toFixed(1)} / ${r.target_days}`),
      el("td", { class: `state ${r.overdue ? "error-text" : ""}` }, state));
  }));
  const sites = $("kit-site");
  if (operator && !sites.options.length) sites.replaceChildren(...rows.map((r) => el("option", { value: r.site }, r.site)));
}

async function act(url) {
  const res = await authFetch(url, { method: "POST" });
  if (!res.ok) throw new Error(`${url}: ${await errorText(res)}`);
  const answer = await res.json();
  if (answer.archive_b64) download(answer);
  await Promise.all([drawKits(), drawRecords()]);
}

async function drawKits() {
  const kits = await getJSON("/api/kits");
  $("kits").querySelector("tbody").replaceChildren(...kits.map((k) => el("tr", { dataset: { kit: k.id } },
    el("td", {}, k.id), el("td", {}, `${k.site} / ${k.edge}`), el("td", {}, k.assets.join(", ")),
    el("td", {}, el("code", {}, k.username)), el("td", {}, fmt(k.created_at)),
    el("td", {}, k.revoked_at ? `revoked ${fmt(k.revoked_at)}` : "active"),
    el("td", {}, ...(k.revoked_at ? [] : [
      el("button", { type: "button", class: "revoke", onclick: () => guard("kits", act(`/api/kits/${k.id}/revoke`)) },
        "revoke"),
      el("button", { type: "button", class: "reissue", onclick: () => guard("kits", act(`/api/kits/${k.id}/reissue`)) },
        "re-issue")])))));
}

async function issue(ev) {
  ev.preventDefault();
  let spec;
  try { spec = JSON.parse($("kit-spec").value); } catch (e) {
    throw new Error(`sources and pipelines: not JSON (${e.message})`);
  }
  const body = { site: $("kit-site").value, edge: $("kit-edge").value, ...spec };
  const res = await authFetch("/api/kits", { method: "POST", json: body });
  if (!res.ok) throw new Error(`issuing the kit: ${await errorText(res)}`);
  download(await res.json());
  await Promise.all([drawKits(), drawRecords()]);
}

async function main() {
  const me = await getJSON("/api/auth/me");
  $("who").textContent = show(me.email);
  $("logout").hidden = false;
  $("logout").onclick = logout;
  operator = me.roles.includes("hub_operator");
  $("content").hidden = false;
  $("kits-card").hidden = !operator;
  $("kit-spec").value = JSON.stringify(EXAMPLE, null, 2);
  $("kit-form").onsubmit = (ev) => guard("kit", issue(ev));
  await guard("records", drawRecords());
  if (operator) await guard("kits", drawKits());
  setInterval(() => guard("records", drawRecords()), 15_000);
}

guard("page", main());
