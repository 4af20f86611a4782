"""Retention: delete what the data agreements no longer allow the hub to keep, on a schedule.

Per data kind (docs/governance.md):

- ``telemetry`` (feature windows and their rollups, alerts, drift events)
  and ``waveforms``, per site: rows older than the site's period are
  deleted from the telemetry store. A site's period is the longest that
  any charter of a challenge there (or of a lab session that ran there)
  agrees for that kind — a row in the telemetry store is not tied to one
  challenge, and deleting it before another agreement's period ends would
  break that agreement; a site without charters keeps its own default or
  the hub's.
- ``quarantine``: refused payloads are not attributed to a site; the hub's
  period applies.
- ``learner_records``: a challenge's submissions (notes, links, feedback)
  are deleted once the challenge has been closed for its period; the
  access log's entries once they are older than the hub's period.

Evidence, scores, outcomes and the ledger are assessment records that
issued credentials rest on: retention does not delete them (erasure
pseudonymises who they are about, :mod:`cloud.governance.rights`). Each
run that deleted anything is one ledger entry listing what went: per (site, kind) the cutoff
and count, and the SHA-256 of every deleted learner record — the ledger
keeps hashes, never the data.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.challenges import ledger
from cloud.challenges.models import Challenge, Charter, LabSession, Submission
from cloud.governance.agreement import retention_of, site_defaults
from cloud.governance.models import AccessLogEntry, RetentionRun
from cloud.sites.models import Site

DAY_NS = 86_400 * 10**9


def _charters_by_site(db: Session) -> dict[str, list[Charter]]:
    out: dict[str, list[Charter]] = {}
    for charter, slug in db.execute(select(Charter, Site.slug).join(Challenge, Challenge.id == Charter.challenge_id)
                                    .join(Site, Site.id == Challenge.site_id)):
        out.setdefault(slug, []).append(charter)
    for challenge_id, slug in db.execute(select(LabSession.challenge_id, LabSession.site).distinct()):
        charter = db.get(Charter, challenge_id)
        if charter is not None and charter not in out.setdefault(slug, []):
            out[slug].append(charter)
    return out


def site_periods(db: Session, hub_days: dict[str, int], more_sites=()) -> dict[str, dict[str, dict]]:
    """Each site's retention of telemetry and waveforms: ``{site: {kind: {days, source, challenge}}}``.

    The sites are the registered ones, those of charters and lab sessions, and ``more_sites`` (the
    telemetry store's: data of a site the registry no longer knows still expires, at the hub's period).
    """
    charters = _charters_by_site(db)
    sites = {s.slug: s.id for s in db.scalars(select(Site))}
    out = {}
    for slug in sorted(set(sites) | set(charters) | set(more_sites)):
        own = site_defaults(db, sites[slug]) if slug in sites else {}
        periods = {}
        for kind in ("telemetry", "waveforms"):
            options = [(retention_of(c.document.get("data_sharing"), own, hub_days)[kind], c.challenge_id)
                       for c in charters.get(slug, [])]
            if options:
                best, challenge = max(options, key=lambda o: o[0]["days"])
                periods[kind] = {**best, "challenge": challenge}
            else:
                periods[kind] = {**retention_of(None, own, hub_days)[kind], "challenge": None}
        out[slug] = periods
    return out


def _expired_submissions(db: Session, hub_days: dict[str, int], now: datetime) -> list[tuple[Submission, dict]]:
    out = []
    for charter in db.scalars(select(Charter).where(Charter.closed_at.is_not(None))):
        site = charter.challenge.site
        period = retention_of(charter.document.get("data_sharing"), site_defaults(db, site.id),
                              hub_days)["learner_records"]
        closed = charter.closed_at if charter.closed_at.tzinfo else charter.closed_at.replace(tzinfo=UTC)
        if (now - closed).total_seconds() * 1e9 < period["days"] * DAY_NS:
            continue
        rows = db.scalars(select(Submission).join(LabSession, LabSession.id == Submission.session_id)
                          .where(LabSession.challenge_id == charter.challenge_id).order_by(Submission.id))
        out += [(r, {"challenge": charter.challenge_id, **period}) for r in rows]
    return out


def _row_doc(row: Submission) -> dict:
    return {"id": row.id, "session": row.session_id, "by": row.submitted_by, "at": str(row.submitted_at),
            "note": row.note, "links": row.links, "feedback_by": row.feedback_by, "feedback": row.feedback}


def run(db: Session, store, hub_days: dict[str, int], now_ns: int | None = None) -> RetentionRun:
    """One retention pass over the telemetry store and the relational domain; committed and ledgered."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    now = datetime.fromtimestamp(now_ns / 1e9, UTC)
    report: dict = {"now_ns": now_ns, "telemetry": [], "quarantine": None, "learner_records": []}
    stored = {a["site"] for a in store.assets()} if store is not None else set()
    for site, periods in site_periods(db, hub_days, stored).items():
        for kind, period in periods.items():
            before = now_ns - period["days"] * DAY_NS
            n = store.purge(kind, site, before) if store is not None else 0
            report["telemetry"].append({"site": site, "kind": kind, "days": period["days"],
                                        "source": period["source"], "challenge": period["challenge"],
                                        "before_ns": before, "deleted": n})
    q_days = int(hub_days.get("quarantine", 30))
    before = now_ns - q_days * DAY_NS
    report["quarantine"] = {"days": q_days, "source": "hub default", "before_ns": before,
                            "deleted": store.purge("quarantine", None, before) if store is not None else 0}
    for row, period in _expired_submissions(db, hub_days, now):
        report["learner_records"].append({"table": "submissions", "id": row.id, "challenge": period["challenge"],
                                          "days": period["days"], "sha256": ledger.sha256_of(_row_doc(row))})
        db.delete(row)
    log_days = int(hub_days.get("learner_records", 5 * 365))
    cutoff = datetime.fromtimestamp((now_ns - log_days * DAY_NS) / 1e9, UTC)
    gone = db.execute(delete(AccessLogEntry).where(AccessLogEntry.at < cutoff)).rowcount
    report["access_log"] = {"days": log_days, "deleted": gone}
    deleted = any(summary(report).values())
    entry = ledger.append(db, "retention", "hub", report) if deleted else None  # a pass that deleted nothing
    row = RetentionRun(now_ns=now_ns, report=report, ledger_hash=entry.hash if entry else "")
    db.add(row)
    db.commit()
    return row


def summary(report: dict) -> dict[str, int]:
    """Counts of a run's report: telemetry rows (one per feature value, alert or drift event), waveform
    snapshots, quarantined payloads, learner records and access-log entries deleted."""
    out = {"telemetry": 0, "waveforms": 0}
    for r in report["telemetry"]:
        out[r["kind"]] += r["deleted"]
    return {**out, "quarantine": report["quarantine"]["deleted"], "learner_records": len(report["learner_records"]),
            "access_log": report["access_log"]["deleted"]}
