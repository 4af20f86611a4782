// Staff views of the skills portal: a mentor's or operator's teams (members' fit, gaps and profiles, aggregated
// gaps, inviting learners) and an SME partner's company (gaps aggregated over consenting learners only).
import { authFetch, el, errorText, getJSON } from "./common.js";
import { currentLanguage, t } from "./i18n.js";
import { api, card, jobSelect, levelText, note, table } from "./skills-ui.js";

const aggregateTable = (rows) => table("aggregate", ["profile.skill", "gaps.required", "agg.short", "agg.missing", "agg.mean_short"],
  rows.map((r) => el("tr", { dataset: { skill: r.skill } }, el("td", {}, r.label, r.essential ? ` (${t("essential")})` : ""),
    el("td", {}, levelText(r.required)), el("td", { class: "short" }, String(r.short)), el("td", {}, String(r.missing)),
    el("td", {}, String(r.mean_short_by)))));

export async function teamView(jobs, profileView) {
  const teams = await getJSON("/api/skills/teams");
  if (!teams.length) return card("team.title", el("p", { class: "muted" }, t("team.none")));
  const state = { team: teams[0].id, job: jobs[0].id };
  const out = el("div", { id: "team-out" });
  const show = async () => {
    const g = await api(`/api/skills/teams/${state.team}/gaps/${state.job}`);
    out.replaceChildren(
      table("members", ["team.member", "team.fit", "team.gaps"], g.members.map((m) => el("tr", { dataset: { user: String(m.user) } },
        el("td", {}, el("a", { href: "#team", onclick: async (ev) => { ev.preventDefault(); out.replaceChildren(await profileView(`/api/skills/learners/${m.user}/profile`)); } }, m.name)),
        el("td", {}, t("fit", { fit: m.fit })), el("td", {}, Object.entries(m.gaps).map(([s, n]) => `${s} −${n}`).join(", ") || "—")))),
      el("h3", {}, t("team.aggregate")), aggregateTable(g.aggregate));
  };
  const teamSel = el("select", { id: "team-select" }, ...teams.map((tm) => el("option", { value: String(tm.id), textContent: `${tm.name} (${tm.members})` })));
  teamSel.onchange = () => { state.team = Number(teamSel.value); show(); };
  const invite = el("form", { id: "invite", class: "row wrap" },
    el("label", {}, t("invite.email"), " ", el("input", { id: "invite-email", type: "email", required: true })),
    el("label", {}, t("invite.language"), " ", el("select", { id: "invite-lang" }, ...["en", "es", "fr", "it", "tr", "sl"].map((l) => el("option", { value: l, textContent: l.toUpperCase() })))),
    el("button", { type: "submit" }, t("invite.send")), el("span", { id: "invite-result" }));
  invite.onsubmit = async (ev) => {
    ev.preventDefault();
    const res = await authFetch("/api/invitations", { method: "POST", json: { email: invite.querySelector("#invite-email").value,
      team_id: state.team, language: invite.querySelector("#invite-lang").value } });
    invite.querySelector("#invite-result").replaceChildren(res.ok ? note(t("invite.link", { link: (await res.json()).link }))
      : note(await errorText(res), false));
  };
  invite.querySelector("#invite-lang").value = currentLanguage();
  await show();
  return [card("team.title", el("div", { class: "row" }, teamSel, jobSelect(jobs, state.job, (v) => { state.job = v; show(); })), out),
    card("invite.title", el("p", { class: "muted" }, t("invite.intro")), invite)];
}

export async function companyView(jobs) {
  const companies = await getJSON("/api/skills/companies");
  if (!companies.length) return card("company.title", el("p", { class: "muted" }, t("company.none")));
  const state = { site: companies[0].site, job: jobs[0].id };
  const out = el("div", { id: "company-out" });
  const show = async () => {
    const g = await api(`/api/skills/companies/${state.site}/gaps/${state.job}`);
    out.replaceChildren(el("p", { id: "consenting" }, t("company.consenting", { n: g.consenting })),
      g.shown ? aggregateTable(g.aggregate) : el("p", { class: "muted", id: "withheld" }, t("company.withheld", { n: g.min_group })));
  };
  const siteSel = el("select", { id: "company-select" }, ...companies.map((c) => el("option", { value: c.site, textContent: c.name })));
  siteSel.onchange = () => { state.site = siteSel.value; show(); };
  await show();
  return card("company.title", el("p", { class: "muted" }, t("company.intro")),
    el("div", { class: "row" }, siteSel, jobSelect(jobs, state.job, (v) => { state.job = v; show(); })), out);
}
