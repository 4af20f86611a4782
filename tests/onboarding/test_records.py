"""Onboarding records are stamped from what happened: registration, kit, first data, charter, window."""

from __future__ import annotations

from datetime import timedelta

from cloud.access import Role
from cloud.accounts.service import create_user
from cloud.challenges import charters, sessions, teams
from cloud.database import make_engine, make_sessionmaker, upgrade_database, utcnow
from cloud.onboarding import records
from cloud.onboarding.models import OnboardingRecord
from cloud.scope import Scope
from cloud.sites import service as reg


def _db():
    engine = make_engine("sqlite://")
    upgrade_database(engine)
    return make_sessionmaker(engine)()


def test_steps_come_from_the_registry_ingest_charters_and_windows():
    db = _db()
    site = reg.create_site(db, "plant-a", "Plant A", "sme")
    reg.create_asset(db, "plant-a", "pump-1")
    reg.create_edge(db, "plant-a", "gw-a")
    rec = db.get(OnboardingRecord, site.id)
    assert rec is not None and rec.registered_at is not None  # stamped with the site's row
    first = records.view(db, site)
    assert [s.at is not None for s in first.steps] == [True, False, False, False, False]
    assert first.next_step == "kit_issued" and not first.overdue and not first.done

    records.stamp(db, site, "kit_issued")
    assert records.first_data(db, "plant-a", "gw-a") == "stamped"
    assert records.first_data(db, "plant-a", "gw-b") == "already"
    assert records.first_data(db, "nowhere", "gw-a") == "unregistered"  # no one's onboarding
    ops = create_user(db, "ops@x.org", "a-long-test-passphrase", [Role.hub_operator])
    learner = create_user(db, "l@x.org", "a-long-test-passphrase", [Role.learner])
    mentor = create_user(db, "m@x.org", "a-long-test-passphrase", [Role.mentor])
    sme = create_user(db, "sme@x.org", "a-long-test-passphrase", [Role.sme_partner], sites=["plant-a"])
    team = teams.create_team(db, "Blue", [learner])
    challenge = charters.create_challenge(db, "Pump watch", "plant-a", pack_id="outer-race-early",
                                          assets=["pump-1"], teams=[team], mentors=[mentor])
    for who, party in ((sme, "industry_partner"), (mentor, "provider")):
        charters.sign(db, challenge.id, who, party)
    assert records.view(db, site).steps[3].at is None  # two of three parties: not signed yet
    charters.sign(db, challenge.id, ops, "hub")
    signed = records.view(db, site)
    last_signature = max(s.signed_at for s in charters.get_charter(db, challenge.id).signatures)
    assert signed.steps[3].at.replace(tzinfo=None) == last_signature.replace(tzinfo=None)
    assert signed.next_step == "first_live_window"
    charters.activate(db, challenge.id, ops)
    window = sessions.open_window(db, challenge.id, team.id, ops, "gw-a")
    done = records.view(db, site)
    assert done.done and done.next_step is None and not done.overdue
    assert done.steps[4].at.replace(tzinfo=None) == window.started_at.replace(tzinfo=None)
    assert done.steps[2].detail == "from edge gw-a"


def test_overdue_after_eight_weeks_and_sme_partner_sees_its_own():
    db = _db()
    a = reg.create_site(db, "plant-a", "Plant A", "sme")
    reg.create_site(db, "plant-b", "Plant B", "sme")
    reg.create_site(db, "lab", "Lab", "lab")
    db.get(OnboardingRecord, a.id).registered_at = utcnow() - timedelta(days=57)
    db.commit()
    shown = {r.site: r for r in records.visible(db, Scope(everything=True))}
    assert set(shown) == {"plant-a", "plant-b"}  # labs are not onboarded
    assert shown["plant-a"].overdue and shown["plant-a"].elapsed_days > 56
    assert not shown["plant-b"].overdue
    assert [r.site for r in records.visible(db, Scope(sites=frozenset({"plant-b"})))] == ["plant-b"]
    # an SME partner seeing one asset of another site does not see that site's onboarding
    assert records.visible(db, Scope(assets=frozenset({("plant-a", "x")}))) == []
