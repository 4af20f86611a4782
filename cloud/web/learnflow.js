// Learning in the flow of work: beside an alert or drift event the hub offers the learning unit that teaches
// what it shows (POST /api/learnflow/offers, in the user's language); opening the unit is recorded, and its
// follow-up self-assessment item is offered in the panel. Used by the live page (app.js) and the session page.
import { $, authFetch, el, errorText, problem } from "./common.js";

const offers = new Map(); // "site|asset|kind|ts" -> Promise of the offer (or null): asked once per page
const LEVELS = { 1: "Beginner", 2: "Intermediate", 3: "Advanced", 4: "Expert" };

async function post(url, json) {
  const res = await authFetch(url, { method: "POST", json });
  if (!res.ok) throw new Error(`${url}: ${await errorText(res)}`);
  return res.json();
}

function offerFor(site, asset, kind, ts) {
  const key = `${site}|${asset}|${kind}|${ts}`;
  if (!offers.has(key)) {
    offers.set(key, post("/api/learnflow/offers", { site, asset, kind, ts }).then((a) => a.offer, (e) => {
      offers.delete(key); // asked again with the next refresh
      throw e;
    }));
  }
  return offers.get(key);
}

/** Append the unit offered for this event to `li` (a list item of the alert or drift list), if one fits. */
export async function decorate(li, site, asset, kind, ts) {
  let offer;
  try { offer = await offerFor(site, asset, kind, ts); } catch (e) { problem("learning units", e); return; }
  problem("learning units", null);
  if (!offer || !li.isConnected) return;
  const button = el("button", { type: "button", class: "open-unit", dataset: { offer: String(offer.id) } },
    offer.unit.title);
  button.onclick = () => openUnit(offer.id).catch((e) => problem("learning unit", e));
  li.append(el("span", { class: "unit-offer", dataset: { unit: offer.unit.id } }, "📘 ", button,
    ` · ${offer.unit.minutes} min`));
}

/** Offer units beside the `limit` newest events of a list: `items` are [li, {site, asset, ts}] pairs. */
export function decorateAll(items, kind, limit = 5) {
  for (const [li, ev] of items.slice(0, limit)) decorate(li, ev.site, ev.asset, kind, ev.ts);
}

function panel() {
  let node = $("unit-panel");
  if (!node) {
    node = el("aside", { id: "unit-panel", class: "unit-panel", hidden: true });
    document.body.append(node);
  }
  return node;
}

async function openUnit(offerId) {
  const offer = await post(`/api/learnflow/offers/${offerId}/open`, undefined);
  const u = offer.unit;
  const node = panel();
  const close = el("button", { type: "button", class: "close-unit" }, "close");
  close.onclick = () => { node.hidden = true; };
  const parts = [el("h3", {}, u.title), el("p", { class: "muted" }, u.summary)];
  if (u.body) parts.push(el("p", { class: "unit-body" }, u.body));
  if (u.url) parts.push(el("p", {}, el("a", { href: u.url, target: "_blank", rel: "noopener" }, "watch the video")));
  if (u.entries.length) {
    parts.push(el("p", { class: "muted" }, "Goes further: ", u.entries.map((e) => e.title).join(" · ")));
  }
  parts.push(followUp(offer));
  node.dataset.offer = String(offer.id);
  node.dataset.opened = offer.opened_at || "";
  node.replaceChildren(close, ...parts);
  node.hidden = false;
}

function followUp(offer) {
  const f = offer.follow_up;
  const box = el("form", { class: "follow-up" }, el("h4", {}, `Your level now in “${f.label}”?`));
  if (f.answered) {
    box.append(el("p", { class: "ok follow-up-done" }, `Thank you: ${LEVELS[f.answered]} (${f.answered}) recorded.`));
    return box;
  }
  const levels = el("div", { class: "levels" }, ...f.levels.map((n) => el("label", {},
    el("input", { type: "radio", name: "level", value: String(n), required: true }), ` ${n} · ${LEVELS[n]}`)));
  box.append(levels, el("button", { type: "submit" }, "save"));
  box.onsubmit = async (ev) => {
    ev.preventDefault();
    const level = Number(new FormData(box).get("level"));
    try {
      const done = await post(`/api/learnflow/offers/${offer.id}/follow-up`, { level });
      box.replaceWith(followUp(done));
      problem("learning unit", null);
    } catch (e) { problem("learning unit", e); }
  };
  return box;
}
