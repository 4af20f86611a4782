"""Every KPI on a hand-built history of November 2026, each value worked out by hand below; baselines
(a period and an engineered one) and normalisation (per running hour, ambient); closing a period into the
ledger, which verifies and detects a changed figure. SQLite and PostgreSQL (``tests/learning/conftest.py``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from cloud.challenges import charters, ledger, teams
from cloud.challenges.models import (Charter, CharterStatus, Evidence, LabSession, Outcome, SessionStatus,
                                     Submission)
from cloud.errors import Conflict
from cloud.kpis import service
from cloud.kpis.models import AlertReview, KpiClose, KpiSiteSettings, PathwayAdoption, StopEvent, WorkOrder
from cloud.kpis.sources import KpiSources
from cloud.kpis.stats import wilson
from cloud.onboarding import records
from cloud.sites import service as reg
from cloud.skills.models import SkillChange, SkillLevel
from cloud.telemetry.factory import open_store
from contract.payloads import parse_message
from tests.learning.support import PACK, PARTIES

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
NOV = "2026-11"


def at(month, day, hour=0, minute=0, second=0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def ns(ts: datetime) -> int:
    return int(ts.timestamp()) * 10**9


class Telemetry:
    """A real in-memory telemetry store fed through the MQTT contract's parser."""

    def __init__(self):
        self.store = open_store("sqlite://:memory:")
        self.seq = 0

    def put(self, site, asset, kind, body):
        self.seq += 1
        topic = f"tf/v1/{site}/gw/{asset}/{kind}"
        self.store.write(parse_message(topic, json.dumps({"v": 1, "edge": "gw", "boot": "b", "seq": self.seq,
                                                          **body}).encode()))

    def windows(self, site, asset, stamps, **features):
        self.put(site, asset, "features", {"records": [{"ts": t, "features": {"rms": 0.1, **features}, "score": 1.0}
                                                       for t in stamps]})

    def alert(self, site, asset, ts):
        self.put(site, asset, "alert", {"ts": ts, "score": 9.0, "threshold": 8.0,
                                        "message": "anomaly score 9 above 8; most deviating feature: env_bpfo_hsnr"})


def _challenge(db, p, team, activated, closed=None, site="vet-lab"):
    c = charters.create_challenge(db, f"challenge of {team.name} {activated:%m%d}", site, pack_id=PACK,
                                  parties=PARTIES, teams=[team], mentors=[p.mentor])
    charter = db.get(Charter, c.id)
    charter.status = CharterStatus.closed if closed else CharterStatus.active
    charter.activated_at, charter.closed_at = activated, closed
    db.commit()
    return c


def _session(db, p, c, team, start, status=SessionStatus.closed, met=None, duration_s=600.0, kind="lab",
             site="vet-lab", assets=("pump-1",)):
    s = LabSession(kind=kind, challenge_id=c.id, team_id=team.id, pack_id=PACK, scenario="s", site=site, edge="gw",
                   assets=list(assets), speed=1.0, status=status, started_by=p.mentor.id, started_at=start,
                   start_ns=ns(start), duration_s=duration_s, ground_truth=[])
    db.add(s)
    db.flush()
    if met is not None:
        db.add(Evidence(session_id=s.id, asset=assets[0], document={"final": {"acceptance": {"met": met}}},
                        sha256="0" * 64, ledger_hash="0" * 64))
    db.commit()
    return s


def _outcome(db, s, learner, by, signed, issued, due):
    db.add(Outcome(session_id=s.id, result="pass", weighted_level=3.0, signed_off_by=by.id, signed_off_at=signed,
                   credential_due_at=due, credential_decided_at=issued, credential_decision="issued",
                   ledger_hash="0" * 64,
                   document={"learners": [{"id": learner.id}], "credentials": [{"id": "pdm-bearing-early-detection"}]}))
    db.commit()


def _skill(db, user, skill, level, source, when):
    db.add(SkillChange(user_id=user.id, skill=skill, level=level, source=source, applied=True, ref={},
                       created_at=when, ledger_hash="0" * 64))
    row = db.get(SkillLevel, (user.id, skill))
    if row is None:
        db.add(SkillLevel(user_id=user.id, skill=skill, level=level, source=source, updated_at=when))
    else:
        row.level, row.source, row.updated_at = level, source, when
    db.commit()


@pytest.fixture
def history(db, people):
    """November 2026 at the hub, as described figure by figure in the tests."""
    p = people
    bo = teams.create_team(db, "Team Bo", [p.ben])
    # C1, Team Ana: activated 20 Oct, planned end 20 Oct + 28 d = 17 Nov; closed 10 Nov; its session met the criteria
    c1 = _challenge(db, p, p.team, at(10, 20), closed=at(11, 10))
    s1 = _session(db, p, c1, p.team, at(11, 4, 10), met=True)
    # C2, Team Bo: activated 25 Oct, planned end 22 Nov; closed 20 Nov; its session missed the criteria
    c2 = _challenge(db, p, bo, at(10, 25), closed=at(11, 20))
    s2 = _session(db, p, c2, bo, at(11, 12, 10), met=False)
    # C3, Team Ana: planned end 8 Dec, outside November
    _challenge(db, p, p.team, at(11, 10))
    _session(db, p, c2, bo, at(11, 13, 10), status=SessionStatus.failed, duration_s=120.0)
    # credentials: Ana signed off 5 Nov 09:00, issued 12 Nov 09:00 (168 h, before her planned end of 17 Nov);
    # Ben signed off 18 Nov 09:00, issued 28 Nov 09:00 (240 h, after his planned end of 22 Nov); both by the due date
    _outcome(db, s1, p.ana, p.academic, at(11, 5, 9), at(11, 12, 9), at(11, 19, 9))
    _outcome(db, s2, p.ben, p.academic, at(11, 18, 9), at(11, 28, 9), at(12, 2, 9))
    # feedback: 22 h, 38 h, none after 11 days (late), none after 13 h (not due yet: left out)
    for s, sent, answered in ((s1, at(11, 3, 10), at(11, 4, 8)), (s1, at(11, 6, 10), at(11, 8, 0)),
                              (s2, at(11, 20, 10), None), (s2, at(11, 30, 23), None)):
        db.add(Submission(session_id=s.id, submitted_by=p.ana.id, submitted_at=sent, note="report", links=[],
                          feedback_at=answered, feedback_by=p.mentor.id if answered else None,
                          feedback="well done!" if answered else ""))
    db.commit()
    # pathways: Ana adopted one (15 Oct) whose credential she got; Ben has a profile and adopted none
    db.add(PathwayAdoption(user_id=p.ana.id, job_id="maintenance-technician",
                           credentials=["pdm-bearing-early-detection"], adopted_at=at(10, 15)))
    db.commit()
    _skill(db, p.ana, "predictive-maintenance", 1, "self", at(10, 1))
    _skill(db, p.ana, "predictive-maintenance", 2, "assessor", at(11, 5, 9, 0, 30))
    _skill(db, p.ana, "inspect-data", 2, "assessor", at(11, 5, 9, 0, 30))
    _skill(db, p.ben, "python", 2, "self", at(10, 1))

    # operations at acme-plant / press-1, 40 operating hours a week
    press = reg.create_asset(db, "acme-plant", "press-1")
    stops = [(at(11, 2, 8), at(11, 2, 12), False), (at(11, 10, 8), at(11, 10, 10), False),
             (at(11, 15, 8), at(11, 15, 14), True), (at(10, 31, 22), at(11, 1, 4), False)]
    for start, end, planned in stops:
        db.add(StopEvent(asset_id=press.id, start=start, end=end, planned=planned, reason="r", logged_by=p.ops.id))
    for number, closed, fixed in (("WO-1", at(11, 2, 12), True), ("WO-2", at(11, 10, 10), False),
                                  ("WO-3", at(11, 11, 10), True), ("WO-4", at(11, 12, 10), None),
                                  ("WO-5", at(10, 20), True)):
        db.add(WorkOrder(asset_id=press.id, number=number, opened_at=closed - timedelta(hours=2), closed_at=closed,
                         fault="bearing", action="replaced", fixed_first_time=fixed, logged_by=p.ops.id))
    tel = Telemetry()
    for ts in (at(11, 2, 7, 30), at(11, 9, 12), at(11, 20)):
        tel.alert("acme-plant", "press-1", ns(ts))
    db.add(AlertReview(asset_id=press.id, alert_ts=ns(at(11, 2, 7, 30)), confirmed=True, finding="outer race",
                       reviewed_by=p.ops.id))
    db.add(AlertReview(asset_id=press.id, alert_ts=ns(at(11, 9, 12)), confirmed=False, finding="none",
                       reviewed_by=p.ops.id))
    db.commit()
    # thermal: hours of 50/20 °C and 45/25 °C in November (rises 30 K and 20 K); 40/20 °C in October (20 K)
    tel.windows("acme-plant", "press-1", [ns(at(11, 3, 10))], temperature=50.0, ambient=20.0)
    tel.windows("acme-plant", "press-1", [ns(at(11, 3, 11))], temperature=45.0, ambient=25.0)
    tel.windows("acme-plant", "press-1", [ns(at(10, 3, 11))], temperature=40.0, ambient=20.0)
    # the remote lab: s1 (10 minutes) delivered windows in minutes 0-7 and 9; s2 and the failed session nothing
    t0 = ns(at(11, 4, 10))
    tel.windows("vet-lab", "pump-1", [t0 + k * 60 * 10**9 + 5 * 10**9 for k in (0, 1, 2, 3, 4, 5, 6, 7, 9)])
    tel.windows("vet-lab", "pump-1", [t0 + 30 * 10**9])  # a second window in minute 0 counts once
    return p, tel.store, press


def _report(db, store, sites=None, **kw):
    return service.report(db, store, KpiSources(), sites, NOV, NOV, now=NOW, extra=service.learnflow_figures,
                          **kw)


def _first(rep, key):
    return rep["learning"]["series"][key][0]


def test_learning_kpis_by_hand(db, history):
    p, store, _ = history
    rep = _report(db, store)
    att = _first(rep, "credential_attainment")  # (Ana, C1) within plan; (Ben, C2) issued after his planned end
    assert (att["value"], att["n"], att["target"], att["meets"]) == (0.5, 2, 0.5, True)
    assert (att["low"], att["high"]) == pytest.approx(wilson(1, 2))
    clo = _first(rep, "challenge_closure")  # C1 met, C2 did not; C3 is not closed
    assert (clo["value"], clo["n"], clo["meets"]) == (0.5, 2, False)
    hours = _first(rep, "signoff_to_credential_h")  # (168 + 240) / 2
    assert (hours["value"], hours["n"]) == (204.0, 2)
    half = 12.706204736 * (72 / math.sqrt(2)) / math.sqrt(2)  # t(0.975, 1 dof) · sd / √n, sd = 72/√2
    assert (hours["low"], hours["high"]) == pytest.approx((204 - half, 204 + half))
    assert _first(rep, "credential_on_time")["value"] == 1.0
    fb24, fb48 = _first(rep, "feedback_within_24h"), _first(rep, "feedback_within_48h")
    assert (fb24["value"], fb24["n"]) == (pytest.approx(1 / 3), 3)  # 22 h; not 38 h; not the late one
    assert (fb48["value"], fb48["n"]) == (pytest.approx(2 / 3), 3)  # the 30 Nov one is not due yet
    cross = _first(rep, "cross_recognition")
    assert cross["value"] is None and "one hub" in cross["note"]
    acc = _first(rep, "pathway_acceptance")  # Ana and Ben have profiles, Ana adopted
    assert (acc["value"], acc["n"]) == (0.5, 2)
    comp = _first(rep, "pathway_completion")  # Ana's pathway: its one credential issued 12 Nov
    assert (comp["value"], comp["n"]) == (1.0, 1)
    # the entry teaches 4 skills; Ana: predictive-maintenance 1 -> 2, inspect-data 0 -> 2; Ben: no change
    change = _first(rep, "skill_change_after_credential")
    assert (change["value"], change["n"]) == (3 / 8, 8)


def test_slices_per_site_pack_and_cohort(db, history):
    p, store, _ = history
    bo = db.scalar(select(teams.Team).where(teams.Team.name == "Team Bo"))
    ana_only = _report(db, store, team_id=p.team.id)
    assert _first(ana_only, "credential_attainment")["value"] == 1.0
    assert _first(ana_only, "challenge_closure")["value"] == 1.0
    assert _first(_report(db, store, team_id=bo.id), "credential_attainment")["value"] == 0.0
    assert _first(_report(db, store, pack="rotor-bar-mcsa"), "credential_attainment")["n"] == 0
    other = _report(db, store, sites=frozenset({"acme-plant"}))  # no challenge there: nothing to count
    assert _first(other, "challenge_closure")["value"] is None
    for key in ("credential_attainment", "signoff_to_credential_h", "feedback_within_48h", "cross_recognition",
                "pathway_acceptance", "pathway_completion", "skill_change_after_credential", "learnflow_offered"):
        assert _first(other, key)["n"] == 0, key  # an SME partner of acme learns nothing of the lab's learners
    assert [s["site"] for s in other["sites"]] == ["acme-plant"]


def test_operational_kpis_by_hand(db, history):
    p, store, _ = history
    rep = _report(db, store, sites=frozenset({"acme-plant"}))
    figs = {k: v[0] for k, v in rep["sites"][0]["assets"]["press-1"]["series"].items()}
    scheduled = 40 * 30 / 7  # 171.43 h planned in November
    running = scheduled - (4 + 2 + 6 + 4)  # every stop's hours inside November
    assert figs["unplanned_downtime_h"]["value"] == pytest.approx(10.0)  # 4 + 2 + the 4 November hours of the 6 h stop
    assert figs["failures"]["value"] == 2  # the stop of 31 Oct failed in October
    assert figs["mtbf_h"]["value"] == pytest.approx(running / 2)
    assert figs["mttr_h"]["value"] == pytest.approx(4.0)  # repairs finished in November: 4, 2, 6 h
    assert figs["downtime_per_100_running_h"]["value"] == pytest.approx(100 * 10 / running)
    ftf = figs["first_time_fix"]  # WO-1, WO-3 yes, WO-2 no; WO-4 unknown; WO-5 in October
    assert (ftf["value"], ftf["n"]) == (pytest.approx(2 / 3), 3)
    prec = figs["alert_precision"]
    assert (prec["value"], prec["n"]) == (0.5, 2) and prec["note"] == "3 alert(s) raised, 1 not reviewed yet"
    rise = figs["thermal_rise_k"]
    assert (rise["value"], rise["n"]) == (25.0, 2)  # (30 + 20) / 2, though the readings average 47.5 °C
    lab = _report(db, store, sites=frozenset({"vet-lab"}))["sites"][0]["lab_uptime"][0]
    # s1: 9 of its 10 minutes up; s2 (10 minutes) delivered nothing; the failed session: 2 minutes down
    assert (lab["value"], lab["n"], lab["meets"]) == (pytest.approx(9 / 22), 22, False)
    assert _report(db, store)["lab_uptime"][0] == lab  # the hub's figure: vet-lab is its one lab site


def test_baseline_period_engineered_and_normalisation(db, history):
    p, store, press = history
    site = reg.get_site(db, "acme-plant")
    db.add(KpiSiteSettings(site_id=site.id, baseline_start=at(10, 1), baseline_end=at(11, 1), engineered={},
                           operating_hours_per_week=80.0))
    db.commit()
    block = _report(db, store, sites=frozenset({"acme-plant"}))["sites"][0]
    base = block["assets"]["press-1"]["baseline"]
    assert base["unplanned_downtime_h"]["value"] == pytest.approx(2.0)  # 22:00-24:00 of 31 Oct
    assert base["failures"]["value"] == 1 and base["thermal_rise_k"]["value"] == 20.0
    assert base["first_time_fix"]["value"] == 1.0  # WO-5
    now = block["assets"]["press-1"]["series"]
    running = 80 * 30 / 7 - 16  # twice the operating hours: the same downtime weighs half as much
    assert now["downtime_per_100_running_h"][0]["value"] == pytest.approx(100 * 10 / running)
    settings = db.get(KpiSiteSettings, site.id)
    settings.baseline_start = settings.baseline_end = None
    settings.engineered = {"mttr_h": 5.0, "not_a_kpi": 1.0}
    db.commit()
    base = _report(db, store, sites=frozenset({"acme-plant"}))["sites"][0]["assets"]["press-1"]["baseline"]
    assert base == {"mttr_h": {**base["mttr_h"], "value": 5.0, "n": 0, "note": "engineered baseline"}}
    learning = _report(db, store, baseline=("2026-10", "2026-10"))["learning"]["baseline"]
    assert learning["credential_attainment"]["n"] == 0  # no challenge was planned to end in October


def test_onboarding_from_registry_telemetry_signatures_and_windows(db, history):
    p, store, press = history
    site = reg.get_site(db, "acme-plant")
    registered = datetime.now(UTC) - timedelta(days=20)
    db.add(KpiSiteSettings(site_id=site.id, engineered={}, operating_hours_per_week=40.0, registered_at=registered))
    db.commit()
    c = charters.create_challenge(db, "acme live", "acme-plant", pack_id=PACK, parties=PARTIES, teams=[p.team],
                                  mentors=[p.mentor])
    for user, party in ((p.other_sme, "industry_partner"), (p.mentor, "provider"), (p.ops, "hub")):
        charters.sign(db, c.id, user, party)
    _session(db, p, c, p.team, registered + timedelta(days=30), kind="window", site="acme-plant",
             assets=("press-1",))
    ob = _report(db, store, sites=frozenset({"acme-plant"}))["sites"][0]["onboarding"]
    first = min(a["first_seen_ns"] for a in store.assets() if a["site"] == "acme-plant")
    signed = max(s.signed_at for s in db.get(Charter, c.id).signatures).replace(tzinfo=UTC)
    f = ob["figures"]
    assert f["registration_to_first_data_days"]["value"] == pytest.approx((first / 1e9 - registered.timestamp())
                                                                          / 86400)
    assert f["registration_to_charter_signed_days"]["value"] == pytest.approx((signed - registered).total_seconds()
                                                                              / 86400)
    assert f["registration_to_first_live_days"]["value"] == pytest.approx(30.0)
    assert f["registration_to_first_live_days"]["meets"] is True  # under 8 weeks
    assert ob["sources"] == {"registered_at": "kpi site settings", "first_data_at": "telemetry store",
                             "first_charter_signed_at": "charter signatures", "first_live_at": "lab windows"}
    # what the onboarding record stamped wins over what is read again (its first data came from an edge's message)
    records.stamp(db, site, "first_data", at=registered + timedelta(days=2), edge="gw-1")
    db.commit()
    ob = _report(db, store, sites=frozenset({"acme-plant"}))["sites"][0]["onboarding"]
    assert ob["figures"]["registration_to_first_data_days"]["value"] == pytest.approx(2.0)
    assert ob["sources"]["first_data_at"] == "onboarding record"
    # without a date in the KPI settings, registration is when the site was registered on the hub
    vet = _report(db, store, sites=frozenset({"vet-lab"}))["sites"][0]["onboarding"]
    assert vet["sources"]["registered_at"] == "onboarding record (site registered)"
    assert vet["dates"]["registered_at"] == records.record_of(db, reg.get_site(db, "vet-lab")).registered_at.replace(
        tzinfo=UTC).isoformat()
    assert vet["figures"]["registration_to_first_live_days"]["note"] == "not reached yet"


def _tamper(db, sql, **params):
    engine = db.get_bind()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS ledger_no_update"))
        conn.execute(text(sql), params)


def test_closed_period_is_ledgered_verifies_and_detects_a_changed_value(db, history):
    p, store, _ = history
    with pytest.raises(Conflict, match="has not ended yet"):
        service.close_period(db, store, KpiSources(), "hub", "2026-12", p.ops, now=NOW)
    row = service.close_period(db, store, KpiSources(), "site:acme-plant", NOV, p.ops, now=NOW)
    with pytest.raises(Conflict, match="closed already"):
        service.close_period(db, store, KpiSources(), "site:acme-plant", NOV, p.ops, now=NOW)
    entry = ledger.entries(db, f"kpi:site:acme-plant:{NOV}")
    assert len(entry) == 1 and entry[0]["hash"] == row.ledger_hash and entry[0]["kind"] == "kpi"
    published = {(r["asset"], r["kpi"]): r["value"] for r in entry[0]["payload"]["values"]["rows"]}
    assert published[("press-1", "unplanned_downtime_h")] == pytest.approx(10.0)
    assert ledger.verify_chain(db)["ok"]
    assert [c["ok"] for c in service.verify_closes(db)] == [True]

    values = dict(row.values)
    rows = [dict(r) for r in values["rows"]]
    for r in rows:
        if r["kpi"] == "unplanned_downtime_h":
            r["value"] = 2.0  # someone makes the downtime look better
    db.execute(select(KpiClose))  # (nothing cached matters: verify reads afresh)
    _tamper(db, "UPDATE kpi_closes SET \"values\" = :v WHERE id = :i", v=json.dumps({"rows": rows}), i=row.id)
    check = service.verify_closes(db)[0]
    assert not check["ok"] and check["problem"] == "published figures differ from the ledgered ones"

    _tamper(db, "UPDATE kpi_closes SET \"values\" = :v WHERE id = :i", v=json.dumps(values), i=row.id)
    assert service.verify_closes(db)[0]["ok"]
    forged = json.loads(db.scalar(text("SELECT payload FROM ledger WHERE hash = :h"), {"h": row.ledger_hash}))
    forged["values"]["rows"] = rows
    forged["sha256"] = ledger.sha256_of(forged["values"])
    _tamper(db, "UPDATE ledger SET payload = :p WHERE hash = :h", p=ledger.canonical(forged), h=row.ledger_hash)
    _tamper(db, "UPDATE kpi_closes SET \"values\" = :v WHERE id = :i", v=json.dumps({"rows": rows}), i=row.id)
    chain = ledger.verify_chain(db)
    assert not chain["ok"]  # the rewritten entry no longer chains
    check = service.verify_closes(db)[0]
    assert not check["ok"] and check["problem"].startswith("ledger chain broken at entry")


def test_uptime_counts_a_session_closed_early_until_its_close(db, people):
    p = people
    c = _challenge(db, p, p.team, at(11, 1))
    s = _session(db, p, c, p.team, at(11, 4, 10), duration_s=3600.0)
    s.end_ns = s.start_ns + 180 * 10**9  # closed after 3 of its 60 scenario minutes
    db.commit()
    tel = Telemetry()
    tel.windows("vet-lab", "pump-1", [s.start_ns + k * 60 * 10**9 + 10**9 for k in range(3)])
    up = service.report(db, tel.store, KpiSources(), None, NOV, NOV, now=NOW)["lab_uptime"][0]
    assert (up["value"], up["n"]) == (1.0, 3)
