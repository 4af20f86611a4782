"""A challenge's data processing agreement, read from its charter's data-sharing terms, and where each
retention period comes from.

Retention of a data kind (:data:`labs.documents.DATA_KINDS`) is, first
found: the charter's ``retention[kind]``, its ``retention_days``, the
site's default for that kind (:class:`cloud.governance.models.SiteRetention`),
the hub's default (``HubSettings.governance_retention_days``). There is
always a number of days: nothing is kept forever.

Examples
--------
>>> terms = {"owner": "Acme", "learners_may": ["analyse"], "retention": {"waveforms": 30}, "retention_days": 180}
>>> r = retention_of(terms, site_days={"quarantine": 10}, hub_days=HUB_DEFAULT_DAYS)
>>> r["waveforms"], r["telemetry"]
({'days': 30, 'source': 'charter'}, {'days': 180, 'source': 'charter (retention_days)'})
>>> r = retention_of({"retention": {"waveforms": 30}}, site_days={"quarantine": 10}, hub_days=HUB_DEFAULT_DAYS)
>>> r["quarantine"], r["telemetry"]
({'days': 10, 'source': 'site default'}, {'days': 365, 'source': 'hub default'})
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.challenges.models import Charter
from cloud.governance.models import SiteRetention
from cloud.sites.models import Site
from labs.documents import DATA_KINDS

#: The hub's defaults when neither a charter nor the site says (days); HubSettings may change them.
HUB_DEFAULT_DAYS = {"telemetry": 365, "waveforms": 90, "quarantine": 30, "learner_records": 5 * 365}


def retention_of(terms: dict | None, site_days: dict[str, int], hub_days: dict[str, int]) -> dict[str, dict]:
    """Days and source of each data kind's retention for a charter's ``data_sharing`` terms (or none)."""
    terms = terms or {}
    out = {}
    for kind in DATA_KINDS:
        if kind in (terms.get("retention") or {}):
            out[kind] = {"days": int(terms["retention"][kind]), "source": "charter"}
        elif terms.get("retention_days"):
            out[kind] = {"days": int(terms["retention_days"]), "source": "charter (retention_days)"}
        elif kind in site_days:
            out[kind] = {"days": int(site_days[kind]), "source": "site default"}
        else:
            out[kind] = {"days": int(hub_days.get(kind, HUB_DEFAULT_DAYS[kind])), "source": "hub default"}
    return out


def site_defaults(db: Session, site_id: int) -> dict[str, int]:
    """The site's own retention defaults (days by kind)."""
    return {r.kind: r.days for r in db.scalars(select(SiteRetention).where(SiteRetention.site_id == site_id))}


def agreement(db: Session, charter: Charter, hub_days: dict[str, int]) -> dict:
    """The data processing agreement the hub enforces for the charter's challenge."""
    terms = charter.document.get("data_sharing") or {}
    site = charter.challenge.site
    return {"challenge": charter.challenge_id, "site": site.slug, "status": charter.status.value,
            "controller": terms.get("owner", ""), "lawful_basis": terms.get("lawful_basis", "contract"),
            "purpose": terms.get("purpose", ""), "personal_data": bool(terms.get("personal_data")),
            "access": list(terms.get("access") or []), "breach_contact": terms.get("breach_contact", ""),
            "learners_may": list(terms.get("learners_may") or []),
            "learners_may_not": list(terms.get("learners_may_not") or []),
            "dataset_licence": terms.get("dataset_licence", "proprietary"),
            "deidentify_handover": bool(terms.get("deidentify_handover")),
            "retention": retention_of(terms, site_defaults(db, site.id), hub_days)}


def set_site_defaults(db: Session, site_slug: str, days: dict[str, int], user_id: int | None) -> dict[str, int]:
    """Replace the site's retention defaults; ``ValueError`` for an unknown kind or fewer than 1 day."""
    site = db.scalar(select(Site).where(Site.slug == site_slug))
    if site is None:
        raise LookupError(f"no site {site_slug!r}")
    for kind, n in days.items():
        if kind not in DATA_KINDS:
            raise ValueError(f"days.{kind}: unknown data kind; expected one of {', '.join(DATA_KINDS)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"days.{kind}: a whole number of days >= 1 (nothing is kept forever), got {n!r}")
    for row in db.scalars(select(SiteRetention).where(SiteRetention.site_id == site.id)):
        db.delete(row)
    db.flush()
    for kind, n in days.items():
        db.add(SiteRetention(site_id=site.id, kind=kind, days=n, set_by=user_id))
    db.commit()
    return site_defaults(db, site.id)
