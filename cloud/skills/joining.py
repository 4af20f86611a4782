"""Joining by invitation, and each user's language.

A mentor (for a team of a challenge they are on the staff of) or a hub
operator invites a learner by e-mail; the hub answers with a one-time link
``/join?token=…`` (only the token's SHA-256 is stored; it expires after
:data:`INVITATION_DAYS` days). The learner opens it, sets a password
(the hub's password rules), chooses a language and which companies may see
their profile; the account is created with the learner role, in the team.
"""

from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Principal, Role
from cloud.accounts.models import User
from cloud.accounts.security import new_token, password_problem, token_digest
from cloud.accounts.service import create_user, user_by_email
from cloud.challenges.models import Team
from cloud.database import iso_utc, utcnow
from cloud.skills import sharing
from cloud.skills.errors import SkillsConflict, SkillsInvalid, SkillsNotFound
from cloud.skills.models import Invitation, Preference
from labs.skills.common import LANGUAGES

INVITATION_DAYS = 14


def check_language(lang: str) -> str:
    """``lang`` if it is one of the six languages; 422 otherwise."""
    if lang not in LANGUAGES:
        raise SkillsInvalid("language", value=lang)
    return lang


def language_of(db: Session, user_id: int) -> str:
    """The user's chosen language (English until they choose)."""
    row = db.get(Preference, user_id)
    return row.language if row is not None else "en"


def set_language(db: Session, user_id: int, lang: str, commit: bool = True) -> str:
    """Remember the user's language."""
    check_language(lang)
    row = db.get(Preference, user_id)
    if row is None:
        db.add(Preference(user_id=user_id, language=lang))
    else:
        row.language = lang
    if commit:
        db.commit()
    return lang


def invite(db: Session, who: Principal, email: str, team_id: int | None, lang: str) -> tuple[Invitation, str]:
    """Create an invitation; returns it and the token (shown once, in the link)."""
    check_language(lang)
    email = email.strip().lower()
    if user_by_email(db, email) is not None:
        raise SkillsConflict("email_taken", email=email)
    if team_id is not None and team_id not in {t.id for t in sharing.visible_teams(db, who)}:
        raise SkillsNotFound("no_team", team=team_id)
    token = new_token()
    row = Invitation(token_hash=token_digest(token), email=email, team_id=team_id, language=lang,
                     invited_by=who.user_id, expires_at=utcnow() + timedelta(days=INVITATION_DAYS))
    db.add(row)
    db.commit()
    return row, token


def _open(db: Session, token: str) -> Invitation:
    row = db.scalar(select(Invitation).where(Invitation.token_hash == token_digest(token)))
    if row is None:
        raise SkillsNotFound("invitation_unknown")
    if row.accepted_at is not None:
        raise SkillsConflict("invitation_used")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires <= utcnow():
        raise SkillsConflict("invitation_expired", when=iso_utc(expires))
    return row


def invitation_view(db: Session, token: str) -> dict:
    """What the join page shows before the learner accepts."""
    row = _open(db, token)
    team = db.get(Team, row.team_id) if row.team_id else None
    return {"email": row.email, "team": team.name if team else None, "language": row.language,
            "expires_at": iso_utc(row.expires_at),
            "companies": [{"site": s.slug, "name": s.name} for s in sharing.companies(db)]}


def accept(db: Session, token: str, password: str, display_name: str, lang: str, share_with: list[str],
           min_password: int = 12) -> User:
    """Create the learner's account from the invitation, in its team, with language and consents; commit."""
    row = _open(db, token)
    check_language(lang)
    problem = password_problem(password, min_password)
    if problem:
        if len(password) < min_password:
            raise SkillsInvalid("password_short", length=len(password), minimum=min_password)
        if "well-known" in problem:
            raise SkillsInvalid("password_known")
        raise SkillsInvalid("weak_password", problem=problem)
    if user_by_email(db, row.email) is not None:
        raise SkillsConflict("email_taken", email=row.email)
    user = create_user(db, row.email, password, [Role.learner], display_name.strip()[:200])
    try:
        if row.team_id is not None:
            team = db.get(Team, row.team_id)
            if team is not None:
                team.members.append(user)
        set_language(db, user.id, lang, commit=False)
        sharing.set_consents(db, user.id, share_with, commit=False)
        row.accepted_at, row.user_id = utcnow(), user.id
        db.commit()
    except Exception:
        db.rollback()
        db.delete(db.get(User, user.id))  # the account was committed by create_user: undo it
        db.commit()
        raise
    return user
