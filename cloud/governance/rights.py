"""Learners' data rights: everything the hub holds about a person as one JSON document, and erasure by
pseudonymisation that keeps the ledger's chain and issued credentials valid (docs/governance.md).

The export has three parts:

- ``profile``: the account (e-mail, name, roles, sites, language);
- ``areas``: what each area of the hub says about the person, from the
  functions registered in a :class:`RightsRegistry` (the hub wires one:
  accounts, challenges, skills and governance here; the credentials area
  registers its own later without this module importing it);
- ``records``: every row of every table that refers to the person by a
  foreign key to ``users.id`` — found from the schema, so a table added
  later is exported without anyone remembering to (secrets left out).

Erasure replaces the person's identity — e-mail, display name, password,
tokens — with a pseudonym (``erased-<id>``) and replaces their e-mail and
name (as a whole word) in the text of every mutable record that refers to
them. What stays, and why: the user id (records keep their meaning and
joins); write-once records — evidence, skill-profile history, the ledger —
deployed pipelines and signed-off outcomes as written, because their
SHA-256 is chained in the ledger and issued credentials rest on them (the
report lists the outcomes that still name the person: the assessment
record an institution must keep); the registered areas decide for theirs
(an issued credential is signed and must stay verifiable).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import JSON, String, Text, or_, select, update
from sqlalchemy.orm import Session

from cloud.accounts.models import ApiToken, User
from cloud.accounts.security import hash_password
from cloud.challenges import ledger
from cloud.challenges.models import (AssessmentScore, Challenge, Deployment, LabSession, Outcome, Submission, Team,
                                     team_members)
from cloud.database import Base, iso_utc
from cloud.errors import NotFound
from cloud.governance.models import AccessLogEntry, RightsRequest
from cloud.skills import models as skills

#: Tables whose rows never change (database triggers refuse UPDATE): erasure leaves them as written.
WRITE_ONCE = frozenset({"evidence", "ledger", "skill_changes"})
#: Tables erasure leaves as written: the write-once ones, deployments (each pipeline document's SHA-256
#: is in its ledger entry, and the edge verified it as signed) and signed-off outcomes (the assessment record:
#: its SHA-256 is the evidence of every credential issued on it). Areas add theirs (``RightsRegistry.register``).
KEPT = WRITE_ONCE | {"deployments", "outcomes"}
#: Columns never exported (hashes of secrets).
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
FORMAT = "teachfab-personal-data/1"

Exporter = Callable[[Session, int], object]
Eraser = Callable[[Session, int, dict], dict]


@dataclass
class RightsRegistry:
    """Per-area functions the export and the erasure call: ``export(db, user_id)`` → JSON-able,
    ``erase(db, user_id, identity)`` → what it changed (``identity``: old e-mail and name, the pseudonym).

    ``kept`` are the tables the areas own and erase themselves: the generic
    pseudonymisation of text leaves them as written (e.g. signed credentials).

    Examples
    --------
    >>> reg = RightsRegistry()
    >>> reg.register("credentials", export=lambda db, uid: [], erase=lambda db, uid, who: {"kept": 0},
    ...              keeps=("issued_credentials",))
    >>> sorted(reg.exporters), sorted(reg.erasers), sorted(reg.kept)
    (['credentials'], ['credentials'], ['issued_credentials'])
    """

    exporters: dict[str, Exporter] = field(default_factory=dict)
    erasers: dict[str, Eraser] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)

    def register(self, area: str, export: Exporter | None = None, erase: Eraser | None = None,
                 keeps: tuple[str, ...] = ()) -> None:
        """Add an area's export and/or erase function (one each per area) and the tables it erases itself."""
        if area in self.exporters or area in self.erasers:
            raise ValueError(f"area {area!r} is registered already")
        unknown = set(keeps) - set(Base.metadata.tables)
        if unknown:
            raise ValueError(f"area {area!r} keeps unknown tables {sorted(unknown)}")
        if export is not None:
            self.exporters[area] = export
        if erase is not None:
            self.erasers[area] = erase
        self.kept |= set(keeps)


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _user_columns(table) -> list:
    return [c for c in table.columns if any(fk.column.table.name == "users" and fk.column.name == "id"
                                            for fk in c.foreign_keys)]


def records(db: Session, user_id: int) -> dict[str, list[dict]]:
    """Every row referring to ``user_id`` through a foreign key to ``users.id``, by table (secrets left out)."""
    out = {}
    for table in Base.metadata.sorted_tables:
        cols = _user_columns(table)
        if not cols:
            continue
        rows = db.execute(select(table).where(or_(*[c == user_id for c in cols]))).mappings().all()
        if rows:
            out[table.name] = [{k: _plain(v) for k, v in r.items() if k not in SECRET_COLUMNS} for r in rows]
    return out


def _account(db: Session, user_id: int) -> dict:
    u = db.get(User, user_id)
    pref = db.get(skills.Preference, user_id)
    return {"id": u.id, "email": u.email, "display_name": u.display_name, "active": u.active,
            "created_at": iso_utc(u.created_at), "roles": sorted(r.value for r in u.roles),
            "site_ids": sorted(m.site_id for m in u.site_memberships),
            "language": pref.language if pref else None}


def _challenges(db: Session, user_id: int) -> dict:
    """Teams, challenges, sessions of the person's teams with the evidence they are named in, outcomes,
    deployments and submissions they made, scores they gave."""
    team_ids = list(db.scalars(select(team_members.c.team_id).where(team_members.c.user_id == user_id)))
    teams = db.scalars(select(Team).where(Team.id.in_(team_ids)).order_by(Team.id)).all()
    sessions = db.scalars(select(LabSession).where(LabSession.team_id.in_(team_ids)).order_by(LabSession.id)).all()
    challenge_ids = {s.challenge_id for s in sessions} | set(db.scalars(
        select(Challenge.id).where(Challenge.teams.any(Team.id.in_(team_ids)))))
    out = {"teams": [{"id": t.id, "name": t.name} for t in teams],
           "challenges": [{"id": c.id, "name": c.name} for c in
                          db.scalars(select(Challenge).where(Challenge.id.in_(challenge_ids)).order_by(Challenge.id))],
           "sessions": [], "deployments": [], "submissions": [], "scores_given": []}
    for s in sessions:
        outcome = db.get(Outcome, s.id)
        out["sessions"].append({
            "id": s.id, "challenge": s.challenge_id, "team": s.team_id, "pack": s.pack_id, "status": s.status.value,
            "started_at": iso_utc(s.started_at), "closed_at": iso_utc(s.closed_at),
            "evidence": [{"asset": e.asset, "sha256": e.sha256, "ledger_hash": e.ledger_hash, "document": e.document}
                         for e in s.evidence],
            "outcome": None if outcome is None else outcome.document})
    for d in db.scalars(select(Deployment).where(Deployment.user_id == user_id).order_by(Deployment.id)):
        out["deployments"].append({"id": d.id, "session": d.session_id, "asset": d.asset, "name": d.name,
                                   "config_hash": d.config_hash, "created_at": iso_utc(d.created_at)})
    for sub in db.scalars(select(Submission).where(or_(Submission.submitted_by == user_id,
                                                       Submission.session_id.in_([s.id for s in sessions])))
                          .order_by(Submission.id)):
        out["submissions"].append({"id": sub.id, "session": sub.session_id, "submitted_by": sub.submitted_by,
                                   "submitted_at": iso_utc(sub.submitted_at), "note": sub.note, "links": sub.links,
                                   "feedback": sub.feedback, "feedback_at": iso_utc(sub.feedback_at)})
    for sc in db.scalars(select(AssessmentScore).where(AssessmentScore.assessor_id == user_id)):
        out["scores_given"].append({"session": sc.session_id, "side": sc.side, "levels": sc.levels,
                                    "comments": sc.comments, "submitted_at": iso_utc(sc.submitted_at)})
    return out


def _skills(db: Session, user_id: int) -> dict:
    levels = db.scalars(select(skills.SkillLevel).where(skills.SkillLevel.user_id == user_id))
    changes = db.scalars(select(skills.SkillChange).where(skills.SkillChange.user_id == user_id)
                         .order_by(skills.SkillChange.id))
    return {"levels": [{"skill": r.skill, "level": r.level, "source": r.source, "self_level": r.self_level}
                       for r in levels],
            "history": [{"skill": c.skill, "level": c.level, "source": c.source, "applied": c.applied,
                         "ref": c.ref, "at": iso_utc(c.created_at), "ledger_hash": c.ledger_hash} for c in changes]}


def _governance(db: Session, user_id: int) -> dict:
    reads = db.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_kind == "learner",
                                                    AccessLogEntry.subject == str(user_id))
                       .order_by(AccessLogEntry.id))
    reqs = db.scalars(select(RightsRequest).where(RightsRequest.user_id == user_id).order_by(RightsRequest.id))
    return {"reads_of_my_data": [access_view(r) for r in reads],
            "rights_requests": [{"kind": r.kind, "at": iso_utc(r.at), "by": r.by_user} for r in reqs]}


def access_view(r: AccessLogEntry) -> dict:
    """One access-log entry as its subject sees it."""
    return {"at": iso_utc(r.at), "reader": r.reader_email, "reader_roles": r.reader_roles, "route": r.route,
            "path": r.path, "subject_kind": r.subject_kind, "subject": r.subject}


def default_registry() -> RightsRegistry:
    """The registry with the areas below governance: accounts, challenges, skills, governance."""
    reg = RightsRegistry()
    reg.register("accounts", export=_account)
    reg.register("challenges", export=_challenges)
    reg.register("skills", export=_skills)
    reg.register("governance", export=_governance)
    return reg


def export(db: Session, registry: RightsRegistry, user_id: int, by_user: int | None) -> dict:
    """Everything the hub holds about ``user_id`` as one JSON document; logged and ledgered (its SHA-256)."""
    if db.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    doc = {"format": FORMAT, "generated_at": iso_utc(datetime.now().astimezone()), "user_id": user_id,
           "profile": _account(db, user_id),
           "areas": {area: fn(db, user_id) for area, fn in registry.exporters.items()},
           "records": records(db, user_id)}
    doc = json.loads(json.dumps(doc, default=_plain))
    digest = ledger.sha256_of(doc)
    entry = ledger.append(db, "data_export", f"user:{user_id}", {"sha256": digest, "by": by_user,
                                                                  "areas": sorted(doc["areas"])})
    db.add(RightsRequest(user_id=user_id, kind="export", by_user=by_user, detail={"sha256": digest},
                         ledger_hash=entry.hash))
    db.commit()
    return {**doc, "sha256": digest}


def _replace(value, names: dict[str, re.Pattern | str]):
    """``value`` with every old name replaced: keys are e-mails (replaced anywhere) or word patterns."""
    if isinstance(value, str):
        for old, new in names.items():
            value = old.sub(new, value) if isinstance(old, re.Pattern) else value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace(v, names) for v in value]
    if isinstance(value, dict):
        return {_replace(k, names): _replace(v, names) for k, v in value.items()}
    return value


def _outcomes_naming(db: Session, user_id: int) -> list[int]:
    """Sessions whose signed-off outcome names ``user_id`` (as a learner or the one who signed it off)."""
    return sorted(o.session_id for o in db.scalars(select(Outcome))
                  if o.signed_off_by == user_id
                  or any(m.get("id") == user_id for m in (o.document or {}).get("learners") or []))


def erase(db: Session, registry: RightsRegistry, user_id: int, by_user: int | None, reason: str = "") -> dict:
    """Pseudonymise ``user_id`` everywhere it may change; return (and log, and ledger) what changed and what stayed."""
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    pseudonym = f"erased-{user_id}"
    identity = {"email": user.email, "display_name": user.display_name, "pseudonym": pseudonym,
                "pseudonym_email": f"{pseudonym}@erased.invalid"}
    names: dict = {user.email: identity["pseudonym_email"]}
    if user.display_name and len(user.display_name) >= 3:  # as a whole word: "Ana" is not in "Analysis"
        names[re.compile(rf"(?<!\w){re.escape(user.display_name)}(?!\w)")] = pseudonym
    kept = KEPT | registry.kept
    changed: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        cols = _user_columns(table)
        if not cols or table.name in kept or table.name == "users":
            continue
        texts = [c for c in table.columns if isinstance(c.type, String | Text | JSON) and c.name not in SECRET_COLUMNS]
        pk = list(table.primary_key.columns)
        if not texts or not pk:
            continue
        n = 0
        for row in db.execute(select(table).where(or_(*[c == user_id for c in cols]))).mappings().all():
            new = {c.name: _replace(row[c.name], names) for c in texts if row[c.name] is not None}
            new = {k: v for k, v in new.items() if v != row[k]}
            if new:
                db.execute(update(table).where(*[c == row[c.name] for c in pk]).values(**new))
                n += 1
        if n:
            changed[table.name] = n
    # invitations are found by the invited address, not only by the user id
    n = db.execute(update(skills.Invitation).where(skills.Invitation.email == user.email)
                   .values(email=identity["pseudonym_email"])).rowcount
    if n:
        changed["invitations"] = changed.get("invitations", 0) + n
    n = db.execute(update(AccessLogEntry).where(AccessLogEntry.reader_id == user_id)
                   .values(reader_email=identity["pseudonym_email"])).rowcount
    if n:
        changed["access_log"] = n
    tokens = db.execute(ApiToken.__table__.delete().where(ApiToken.user_id == user_id)).rowcount
    user.email, user.display_name, user.active = identity["pseudonym_email"], pseudonym, False
    user.password_hash = hash_password(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    areas = {area: fn(db, user_id, identity) for area, fn in registry.erasers.items()}
    report = {"user_id": user_id, "pseudonym": pseudonym, "changed": changed, "tokens_revoked": tokens,
              "areas": areas, "kept": sorted(kept), "outcomes_naming_the_person": _outcomes_naming(db, user_id),
              "kept_why": "write-once records (evidence, skill-profile history, ledger), deployed pipelines and "
                          "signed-off outcomes (the assessment record) are chained by SHA-256 in the ledger and "
                          "issued credentials rest on them; signed credentials cannot change without breaking their "
                          "proof; they keep the user id and what they recorded, and the account behind the id no "
                          "longer names the person"}
    entry = ledger.append(db, "data_erasure", f"user:{user_id}",
                          {"pseudonym": pseudonym, "changed": changed, "by": by_user,
                           "reason": _replace(reason, names)[:200]})
    db.add(RightsRequest(user_id=user_id, kind="erasure", by_user=by_user, detail=report, ledger_hash=entry.hash))
    db.commit()
    return report
