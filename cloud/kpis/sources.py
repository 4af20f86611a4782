"""Where the KPIs read credentials and onboarding dates: two small interfaces and the hub's sources.

:class:`IssuedBadges` reads the credentials area's issued Open Badges (a
revoked one is not attained; outcomes decided ``issued`` before the area
issued anything count through :class:`OutcomeCredentials`), and
:class:`RecordOnboarding` reads the onboarding area's record of each site,
completing what it has not stamped from the registry, the telemetry store,
charter signatures and lab windows (:class:`RegistryOnboarding`). Either
can be swapped on ``app.state.kpi_sources`` without touching the KPI
arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges.models import Challenge, Charter, LabSession, Outcome, Party
from cloud.credentials.models import IssuedCredential as IssuedBadge
from cloud.database import as_utc
from cloud.kpis.models import KpiSiteSettings
from cloud.onboarding.models import OnboardingRecord
from cloud.sites.models import Site
from labs.skills.catalogue import load_catalogue


#: A stored datetime as UTC-aware (SQLite hands them back naive; they were stored in UTC).
aware = as_utc


@dataclass(frozen=True)
class IssuedCredential:
    """One credential a learner holds: of which challenge and catalogue entry, signed off and issued when."""

    learner_id: int
    challenge_id: int | None
    pack_id: str | None
    entry_id: str | None
    signed_off_at: datetime | None
    issued_at: datetime
    due_at: datetime | None = None
    #: the hub whose catalogue the credential belongs to, and the hub of the learner ("" = this hub)
    issuer_hub: str = ""
    learner_hub: str = ""


class CredentialSource(Protocol):
    """Anything that lists the issued credentials."""

    def issued(self, db: Session) -> list[IssuedCredential]:
        """Every issued credential the hub knows of."""


class OutcomeCredentials:
    """Issued credentials read from signed-off outcomes with the decision ``issued``: one per learner the
    outcome names and credential it lists (the team's members and the pack's entry for older outcomes)."""

    def issued(self, db: Session, skip_sessions: set[int] = frozenset()) -> list[IssuedCredential]:
        """See :class:`CredentialSource`; ``skip_sessions``: sessions counted another way."""
        by_pack = {e.pack: e.id for e in load_catalogue().values() if e.pack}
        out = []
        rows = db.execute(select(Outcome, LabSession).join(LabSession, LabSession.id == Outcome.session_id)
                          .where(Outcome.credential_decision == "issued"))
        for outcome, session in rows:
            if session.id in skip_sessions:
                continue
            doc = outcome.document or {}
            learners = [lr["id"] for lr in doc.get("learners", [])] or [m.id for m in session.team.members]
            entries = [c["id"] for c in doc.get("credentials", [])] or [by_pack.get(session.pack_id)]
            for learner in learners:
                for entry in entries:
                    out.append(IssuedCredential(learner, session.challenge_id, session.pack_id, entry,
                                                aware(outcome.signed_off_at), aware(outcome.credential_decided_at),
                                                aware(outcome.credential_due_at)))
        return out


class IssuedBadges:
    """Issued credentials as the credentials area holds them: one per signed Open Badge not revoked.

    Signed off and due dates come from the outcome it was issued on. An
    outcome decided ``issued`` of which no badge exists (decided before the
    credentials area issued badges) counts as :class:`OutcomeCredentials`
    reads it; one whose badges were all revoked does not.
    """

    def issued(self, db: Session) -> list[IssuedCredential]:
        """See :class:`CredentialSource`."""
        out, with_badges = [], set()
        rows = db.execute(select(IssuedBadge, Outcome, LabSession)
                          .join(Outcome, Outcome.session_id == IssuedBadge.session_id)
                          .join(LabSession, LabSession.id == IssuedBadge.session_id))
        for badge, outcome, session in rows:
            with_badges.add(session.id)
            if badge.status == "revoked":
                continue
            out.append(IssuedCredential(badge.user_id, session.challenge_id, session.pack_id, badge.credential_key,
                                        aware(outcome.signed_off_at), aware(badge.issued_at),
                                        aware(outcome.credential_due_at)))
        legacy = OutcomeCredentials().issued(db, skip_sessions=with_badges)
        return out + legacy


@dataclass(frozen=True)
class OnboardingDates:
    """The onboarding milestones of one site (None: not reached, or not known)."""

    site: str
    registered_at: datetime | None
    first_data_at: datetime | None
    first_charter_signed_at: datetime | None
    first_live_at: datetime | None
    sources: dict = field(default_factory=dict)


class OnboardingSource(Protocol):
    """Anything that gives a site's onboarding milestones."""

    def dates(self, db: Session, store, site: str) -> OnboardingDates:
        """The milestones of ``site``."""


class RegistryOnboarding:
    """Onboarding dates from what the hub holds.

    Registration: the site's KPI settings (``registered_at``, set when the
    operator records it). First data: the first telemetry the store has of
    any of the site's assets. First charter signed: when the last of the
    three parties signed the site's first fully signed charter. First live:
    the start of the first challenge window (``kind`` ``window``) on the
    site's real assets.
    """

    def dates(self, db: Session, store, site: str) -> OnboardingDates:
        """See :class:`OnboardingSource`."""
        row = db.scalar(select(Site).where(Site.slug == site))
        if row is None:
            return OnboardingDates(site, None, None, None, None)
        settings = db.get(KpiSiteSettings, row.id)
        seen = [a["first_seen_ns"] for a in store.assets() if a["site"] == site and a.get("first_seen_ns")]
        first_data = datetime.fromtimestamp(min(seen) / 1e9, timezone.utc) if seen else None
        signed = []
        for charter in db.scalars(select(Charter).join(Challenge).where(Challenge.site_id == row.id)):
            parties = {s.party: aware(s.signed_at) for s in charter.signatures}
            if set(parties) == set(Party):
                signed.append(max(parties.values()))
        live = db.scalar(select(LabSession.started_at).join(Challenge, Challenge.id == LabSession.challenge_id)
                         .where(Challenge.site_id == row.id, LabSession.kind == "window")
                         .order_by(LabSession.started_at).limit(1))
        return OnboardingDates(site, aware(settings.registered_at) if settings else None, first_data,
                               min(signed) if signed else None, aware(live),
                               {"registered_at": "kpi site settings", "first_data_at": "telemetry store",
                                "first_charter_signed_at": "charter signatures", "first_live_at": "lab windows"})


class RecordOnboarding(RegistryOnboarding):
    """Onboarding dates from the onboarding area's record of the site, completed by :class:`RegistryOnboarding`.

    Registration: the date the operator recorded in the site's KPI settings
    (e.g. the voucher's), else the record's (when the site was registered
    on the hub). First data, first co-signed charter and first live window:
    the record's stamps; a step it has not stamped (a site older than the
    record) is read as :class:`RegistryOnboarding` reads it.
    """

    def dates(self, db: Session, store, site: str) -> OnboardingDates:
        """See :class:`OnboardingSource`."""
        row = db.scalar(select(Site).where(Site.slug == site))
        rec = None if row is None else db.get(OnboardingRecord, row.id)
        if rec is None:
            return super().dates(db, store, site)
        settings = db.get(KpiSiteSettings, row.id)
        picked, sources, base = {}, {}, None
        for name, stamped, label in (("registered_at", rec.registered_at, "onboarding record (site registered)"),
                                     ("first_data_at", rec.first_data_at, "onboarding record"),
                                     ("first_charter_signed_at", rec.first_challenge_signed_at, "onboarding record"),
                                     ("first_live_at", rec.first_live_window_at, "onboarding record")):
            if name == "registered_at" and settings is not None and settings.registered_at is not None:
                picked[name], sources[name] = aware(settings.registered_at), "kpi site settings"
            elif stamped is not None:
                picked[name], sources[name] = aware(stamped), label
            else:  # read again only what the record has not stamped (it scans the store's assets)
                base = base or super().dates(db, store, site)
                picked[name], sources[name] = getattr(base, name), base.sources.get(name, "")
        return OnboardingDates(site, sources=sources, **picked)


@dataclass
class KpiSources:
    """The sources a KPI report reads (``app.state.kpi_sources``)."""

    credentials: CredentialSource = field(default_factory=IssuedBadges)
    onboarding: OnboardingSource = field(default_factory=RecordOnboarding)
