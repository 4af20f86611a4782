"""Teams of learners and the bare challenge rows (site, assets, teams, staff) that charters build on."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Role
from cloud.accounts.models import User
from cloud.challenges.models import Challenge, Team, team_members
from cloud.errors import Invalid, NotFound
from cloud.scope import Scope
from cloud.sites.service import commit_new, require_asset, require_site


def users_with_role(db: Session, ids: Iterable[int], role: Role, what: str) -> list[User]:
    """The users ``ids``, each holding ``role``; :class:`~cloud.errors.Invalid` naming ``what`` otherwise."""
    out = []
    for uid in ids:
        user = db.get(User, uid)
        if user is None or role not in user.roles:
            raise Invalid(f"{what}: user {uid} does not exist or lacks the role {role.value}")
        out.append(user)
    return out


def create_team(db: Session, name: str, members: Iterable[User] = ()) -> Team:
    """A team of ``members`` (learners).

    Examples
    --------
    >>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
    >>> from cloud.accounts.service import create_user
    >>> engine = make_engine("sqlite://"); upgrade_database(engine)
    >>> with make_sessionmaker(engine)() as db:
    ...     ana = create_user(db, "ana@lab.example", "a-long-passphrase", ["learner"])
    ...     [m.email for m in create_team(db, "Team 1", [ana]).members]
    ['ana@lab.example']
    """
    team = Team(name=name, members=list(members))
    db.add(team)
    commit_new(db, f"team {name!r}")
    return team


def list_teams(db: Session, scope: Scope, user_id: int, staff: bool = True) -> list[Team]:
    """Teams visible in ``scope``: those of visible challenges, and the caller's own (all for operators).

    A caller who is not ``staff`` (a learner only) sees just their own
    teams: other teams' members and e-mails are not theirs to read, even
    when both teams work on the same challenge.
    """
    rows = list(db.scalars(select(Team).order_by(Team.id)))
    if scope.everything:
        return rows
    mine = set(db.scalars(select(team_members.c.team_id).where(team_members.c.user_id == user_id)))
    seen = mine | ({t.id for c in list_challenges(db, scope) for t in c.teams} if staff else set())
    return [t for t in rows if t.id in seen]


def require_team(db: Session, team_id: int, what: str = "team_id") -> Team:
    """The team ``team_id``; :class:`~cloud.errors.Invalid` naming ``what`` when there is none."""
    team = db.get(Team, team_id)
    if team is None:
        raise Invalid(f"{what}: no team {team_id}")
    return team


def create_challenge(db: Session, name: str, site: str, assets: Iterable[str] = (), teams: Iterable[Team] = (),
                     staff: Iterable[User] = ()) -> Challenge:
    """A challenge at ``site`` on ``assets`` (names at that site), worked by ``teams``, run by ``staff``."""
    row = require_site(db, site)
    picked = [require_asset(db, site, a) for a in assets]
    challenge = Challenge(name=name, site=row, assets=picked, teams=list(teams), staff=list(staff))
    db.add(challenge)
    commit_new(db, f"challenge {name!r}")
    return challenge


def list_challenges(db: Session, scope: Scope | None = None) -> list[Challenge]:
    """Challenges visible in ``scope`` (all when ``None``), by id."""
    rows = db.scalars(select(Challenge).order_by(Challenge.id))
    return [c for c in rows if scope is None or scope.challenge(c.id)]


def visible_challenge(db: Session, scope: Scope, challenge_id: int) -> Challenge:
    """The challenge if ``scope`` sees it; :class:`~cloud.errors.NotFound` otherwise (unknown looks the same)."""
    row = db.get(Challenge, challenge_id)
    if row is None or not scope.challenge(challenge_id):
        raise NotFound(f"no challenge {challenge_id} in your scope")
    return row
