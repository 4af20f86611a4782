"""Challenges with their charter: creation from a lab pack or a written charter, staff duties,
co-signing by the three parties, and the lifecycle draft → signed → active → closed.

Who signs for which party:

=================  ===========================================================
party              signer
=================  ===========================================================
industry_partner   an SME partner who is a member of the challenge's site
provider           a mentor or assessor on the challenge's staff
hub                a hub operator
=================  ===========================================================

A signature records the SHA-256 of the charter as signed; once anyone has
signed, the charter cannot change. Every signature and every change of
state is appended to the ledger.

Examples
--------
>>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
>>> from cloud.accounts.service import create_user
>>> from cloud.sites import service as reg
>>> engine = make_engine("sqlite://"); upgrade_database(engine)
>>> with make_sessionmaker(engine)() as db:
...     _ = reg.create_site(db, "lab", "Lab", "lab")
...     ops = create_user(db, "ops@x.org", "a-long-passphrase", ["hub_operator"])
...     sme = create_user(db, "sme@x.org", "a-long-passphrase", ["sme_partner"], sites=["lab"])
...     men = create_user(db, "men@x.org", "a-long-passphrase", ["mentor"])
...     c = create_challenge(db, "Pump watch", "lab", pack_id="outer-race-early", mentors=[men],
...                          parties={"industry_partner": "Acme Pumps", "provider": "VET college",
...                                   "hub": "Regional hub", "mentor": "M. Entor"})
...     for user, party in ((sme, "industry_partner"), (men, "provider"), (ops, "hub")):
...         _ = sign(db, c.id, user, party)
...     activate(db, c.id, men).status.value
'active'
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import SiteMembership, User
from cloud.challenges import ledger
from cloud.challenges.models import (Challenge, Charter, CharterSignature, CharterStatus, Duty, LabSession, Party,
                                     SessionStatus, Team, challenge_staff)
from cloud.challenges.schemas import ChallengeCreate
from cloud.challenges.teams import create_challenge as create_bare_challenge
from cloud.challenges.teams import require_team, users_with_role
from cloud.database import iso_utc, utcnow
from cloud.errors import Conflict, Forbidden, Invalid, NotFound
from cloud.sites.models import SiteKind
from cloud.sites.service import require_site
from labs.documents import Charter as CharterDoc
from labs.documents import Rubric as RubricDoc
from labs.packs import list_packs, load_pack


class ChallengeError(Conflict):
    """A request the challenge's state or the caller's part does not allow; the message says why."""


def validate_charter(document: dict) -> dict:
    """Validate a charter document (the fields of a pack's ``charter.yaml``); return it normalised.

    Raises ``ValueError`` naming every wrong field.
    """
    try:
        doc = CharterDoc.model_validate({**document, "template": True})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"charter: {problems}") from None
    return doc.model_dump(mode="json", exclude={"template"})


def validate_rubric(document: dict) -> dict:
    """Validate a rubric document (the fields of a pack's ``rubric.yaml``); ``ValueError`` names every wrong field."""
    try:
        rubric = RubricDoc.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"rubric: {problems}") from None
    return rubric.model_dump(mode="json")


def create_challenge(db: Session, name: str, site: str, *, pack_id: str | None = None, charter: dict | None = None,
                     rubric: dict | None = None, parties: dict | None = None, assets: Iterable[str] = (),
                     teams: Iterable[Team] = (), mentors: Iterable[User] = (),
                     academic_assessors: Iterable[User] = (), industrial_assessors: Iterable[User] = ()) -> Challenge:
    """A challenge at ``site`` with a draft charter and its rubric: the pack's (``pack_id``) or written ones.

    ``parties`` (industry_partner, provider, hub, mentor names) fills the
    template's parties; a written ``charter`` carries its own. A challenge on
    real assets without a pack needs both ``charter`` and ``rubric``. The
    rubric is copied into the challenge, so later edits of a pack do not
    change how a running challenge is assessed.
    """
    if pack_id is None and (charter is None or rubric is None):
        raise ChallengeError("a challenge needs a charter and a rubric: give a lab pack id, or both documents")
    if pack_id is not None:
        if pack_id not in list_packs():  # an id, never a path: load_pack also opens folders
            raise Invalid(f"pack: no lab pack {pack_id[:80]!r}; shipped packs: {list_packs()}")
        pack = load_pack(pack_id)
        base = pack.charter.model_dump(mode="json", exclude={"template"})
        document = validate_charter({**base, **(charter or {}), "parties": {**base["parties"], **(parties or {})}})
        rubric_doc = validate_rubric(rubric or pack.rubric.model_dump(mode="json"))
    else:
        document = validate_charter({**charter, **({"parties": parties} if parties else {})})
        rubric_doc = validate_rubric(rubric)
    staff = [*mentors, *academic_assessors, *industrial_assessors]
    if len({u.id for u in staff}) != len(staff):
        raise ChallengeError("a staff member has one duty per challenge (mentor, academic or industrial assessor)")
    challenge = create_bare_challenge(db, name, site, assets, teams, staff)
    for users, duty in ((academic_assessors, Duty.academic_assessor), (industrial_assessors, Duty.industrial_assessor)):
        for u in users:
            db.execute(update(challenge_staff).where(challenge_staff.c.challenge_id == challenge.id,
                                                     challenge_staff.c.user_id == u.id).values(duty=duty.value))
    db.add(Charter(challenge_id=challenge.id, pack_id=pack_id, document=document, sha256=ledger.sha256_of(document),
                   rubric=rubric_doc))
    ledger.append(db, "challenge_created", f"challenge:{challenge.id}",
                  {"name": name, "site": site, "pack": pack_id, "charter_sha256": ledger.sha256_of(document)})
    db.commit()
    return challenge


def require_site_link(db: Session, user: User, site: str) -> None:
    """Refuse (403) a mentor creating a challenge at ``site`` without a link to it.

    Hub operators create challenges anywhere. A mentor needs one of: the
    site is a teaching lab; a membership of the site (a hub operator grants
    it with the user's ``sites``); a place on the staff of a challenge there
    whose charter is past its draft (the parties agreed to it). A draft
    created elsewhere is no link, so nobody widens their own reach.
    """
    if Role.hub_operator in user.roles:
        return
    row = require_site(db, site)
    if row.kind is SiteKind.lab or db.get(SiteMembership, (user.id, row.id)) is not None:
        return
    staffed = db.scalar(select(Challenge.id).join(challenge_staff, challenge_staff.c.challenge_id == Challenge.id)
                        .join(Charter, Charter.challenge_id == Challenge.id)
                        .where(Challenge.site_id == row.id, challenge_staff.c.user_id == user.id,
                               Charter.status != CharterStatus.draft).limit(1))
    if staffed is None:
        raise Forbidden(f"site: you have no link to site {site!r} (a membership, or a place on the staff of one of "
                        "its agreed challenges); ask a hub operator")


def create_from_request(db: Session, body: ChallengeCreate, creator: User) -> Challenge:
    """:func:`create_challenge` from an API request: user and team ids resolved, a creating mentor mentors it.

    The creator needs a link to the site (:func:`require_site_link`).
    """
    require_site_link(db, creator, body.site)
    mentors = users_with_role(db, body.mentors, Role.mentor, "mentors")
    if Role.mentor in creator.roles and creator.id not in body.mentors:
        mentors.append(creator)
    return create_challenge(
        db, body.name, body.site, pack_id=body.pack, charter=body.charter, rubric=body.rubric, parties=body.parties,
        assets=body.assets, teams=[require_team(db, t, "teams") for t in body.teams], mentors=mentors,
        academic_assessors=users_with_role(db, body.academic_assessors, Role.assessor, "academic_assessors"),
        industrial_assessors=users_with_role(db, body.industrial_assessors, Role.assessor, "industrial_assessors"))


def duties(db: Session, challenge_id: int) -> dict[int, Duty]:
    """Staff of the challenge: user id → duty."""
    rows = db.execute(select(challenge_staff.c.user_id, challenge_staff.c.duty)
                      .where(challenge_staff.c.challenge_id == challenge_id)).all()
    return {uid: Duty(d) for uid, d in rows}


def add_staff(db: Session, challenge_id: int, user: User | int, duty: Duty | str) -> None:
    """Put ``user`` (a row or an id) on the challenge's staff with ``duty`` (replacing an earlier duty)."""
    duty = Duty(duty)
    if isinstance(user, int):
        user = db.get(User, user) or _no_user(user)
    needed = Role.mentor if duty is Duty.mentor else Role.assessor
    if needed not in user.roles:
        raise ChallengeError(f"user {user.email} lacks the role {needed.value} needed for duty {duty.value}")
    get_charter(db, challenge_id)
    db.execute(challenge_staff.delete().where(challenge_staff.c.challenge_id == challenge_id,
                                              challenge_staff.c.user_id == user.id))
    db.execute(challenge_staff.insert().values(challenge_id=challenge_id, user_id=user.id, duty=duty.value))
    db.commit()


def _no_user(user_id: int) -> User:
    raise Invalid(f"user_id: no user {user_id}")


def get_charter(db: Session, challenge_id: int) -> Charter:
    """The charter of the challenge; ``LookupError`` for an unknown challenge or one without charter."""
    charter = db.get(Charter, challenge_id)
    if charter is None:
        raise NotFound(f"no challenge {challenge_id} with a charter")
    return charter


def edit_charter(db: Session, challenge_id: int, document: dict, user: User) -> Charter:
    """Replace the draft charter; refused once any party has signed."""
    charter = get_charter(db, challenge_id)
    if charter.signatures or charter.status is not CharterStatus.draft:
        signed = ", ".join(s.party.value for s in charter.signatures) or charter.status.value
        raise ChallengeError(f"the charter is signed ({signed}); a signed charter cannot change")
    charter.document = validate_charter(document)
    charter.sha256 = ledger.sha256_of(charter.document)
    ledger.append(db, "charter_edited", f"challenge:{challenge_id}", {"by": user.id, "sha256": charter.sha256})
    db.commit()
    return charter


def _may_sign(db: Session, challenge: Challenge, user: User, party: Party) -> bool:
    roles = user.roles
    if party is Party.hub:
        return Role.hub_operator in roles
    if party is Party.provider:
        return bool(roles & {Role.mentor, Role.assessor}) and user.id in duties(db, challenge.id)
    member = db.get(SiteMembership, (user.id, challenge.site_id))
    return Role.sme_partner in roles and member is not None


def sign(db: Session, challenge_id: int, user: User, party: Party | str) -> Charter:
    """``user`` signs the charter for ``party``; when all three have signed it becomes ``signed``."""
    party = Party(party)
    charter = get_charter(db, challenge_id)
    if charter.status is not CharterStatus.draft:
        raise ChallengeError(f"the charter is {charter.status.value}; signatures are collected while it is a draft")
    if any(s.party is party for s in charter.signatures):
        raise ChallengeError(f"the charter is already signed for {party.value}")
    if not _may_sign(db, charter.challenge, user, party):
        raise Forbidden(f"{user.email} may not sign for {party.value} (see docs/mentors.md: who signs)")
    sig = CharterSignature(challenge_id=challenge_id, party=party, user_id=user.id, charter_sha256=charter.sha256)
    charter.signatures.append(sig)
    db.flush()
    ledger.append(db, "charter_signature", f"challenge:{challenge_id}",
                  {"party": party.value, "user": user.id, "email": user.email, "charter_sha256": charter.sha256})
    if {s.party for s in charter.signatures} == set(Party):
        charter.status = CharterStatus.signed
        ledger.append(db, "charter_signed", f"challenge:{challenge_id}", {"charter_sha256": charter.sha256})
    db.commit()
    return charter


def _transition(db: Session, challenge_id: int, user: User, want: CharterStatus, to: CharterStatus,
                stamp: str, hooks=None) -> Charter:
    charter = get_charter(db, challenge_id)
    if charter.status is not want:
        raise ChallengeError(f"the challenge is {charter.status.value}; only a {want.value} one can become {to.value}")
    charter.status = to
    setattr(charter, stamp, utcnow())
    ledger.append(db, f"challenge_{to.value}", f"challenge:{challenge_id}", {"by": user.id})
    if hooks is not None:
        db.flush()
        hooks.closed(db, charter, user.id)
    db.commit()
    return charter


def activate(db: Session, challenge_id: int, user: User) -> Charter:
    """Signed → active: sessions may start."""
    return _transition(db, challenge_id, user, CharterStatus.signed, CharterStatus.active, "activated_at")


def close(db: Session, challenge_id: int, user: User, hooks=None) -> Charter:
    """Active → closed; refused while a session of the challenge still runs.

    ``hooks`` (:class:`cloud.challenges.hooks.LearningHooks`) run their close
    callbacks in the same transaction: the handover package commits with the close.
    """
    running = db.scalar(select(LabSession.id).where(LabSession.challenge_id == challenge_id,
                                                    LabSession.status == SessionStatus.running).limit(1))
    if running is not None:
        raise ChallengeError(f"session {running} of this challenge still runs; close it first")
    return _transition(db, challenge_id, user, CharterStatus.active, CharterStatus.closed, "closed_at", hooks)


def view(db: Session, challenge: Challenge) -> dict:
    """The challenge with its charter, signatures and staff duties, as the API shows it."""
    charter = db.get(Charter, challenge.id)
    staff = duties(db, challenge.id)
    emails = {u.id: u.email for u in challenge.staff}
    out = {"id": challenge.id, "name": challenge.name, "site": challenge.site.slug,
           "assets": [a.name for a in challenge.assets],
           "teams": [{"id": t.id, "name": t.name, "members": [m.id for m in t.members]} for t in challenge.teams],
           "staff": [{"user_id": uid, "email": emails.get(uid, ""), "duty": d.value} for uid, d in staff.items()]}
    if charter is not None:
        out.update(pack=charter.pack_id, status=charter.status.value, charter=charter.document, rubric=charter.rubric,
                   charter_sha256=charter.sha256, activated_at=iso_utc(charter.activated_at),
                   closed_at=iso_utc(charter.closed_at),
                   signatures=[{"party": s.party.value, "user_id": s.user_id, "signed_at": iso_utc(s.signed_at),
                                "charter_sha256": s.charter_sha256} for s in charter.signatures],
                   unsigned=sorted(p.value for p in set(Party) - {s.party for s in charter.signatures}))
    return out
