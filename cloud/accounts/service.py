"""Service functions of accounts: users, roles, memberships, log-in and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.access import Authenticator, Principal, Role
from cloud.accounts.models import ApiToken, RoleGrant, SiteMembership, User
from cloud.accounts.security import expiry, hash_password, needs_rehash, new_token, token_digest, verify_password
from cloud.errors import Conflict
from cloud.scope import Scope
from cloud.sites.models import Site

#: The demo mentor of ``teachfab demo`` (demo mode only; see :mod:`cloud.bootstrap`).
DEMO_MENTOR = "demo-mentor@teachfab.invalid"


class AccountError(Conflict):
    """A request on accounts that cannot be honoured (message names the field and value)."""


def _site_ids(db: Session, slugs: Iterable[str]) -> list[int]:
    slugs = list(dict.fromkeys(slugs))
    found = dict(db.execute(select(Site.slug, Site.id).where(Site.slug.in_(slugs))).all())
    missing = [s for s in slugs if s not in found]
    if missing:
        raise AccountError(f"sites: no site {missing[0]!r} is registered")
    return [found[s] for s in slugs]


def create_user(db: Session, email: str, password: str, roles: Iterable[Role | str] = (),
                display_name: str = "", sites: Iterable[str] = ()) -> User:
    """Create an active user with ``roles`` and memberships of ``sites`` (slugs); commit.

    Examples
    --------
    >>> from cloud.database import make_engine, make_sessionmaker, upgrade_database
    >>> engine = make_engine("sqlite://"); upgrade_database(engine)
    >>> with make_sessionmaker(engine)() as db:
    ...     u = create_user(db, "Ana@Lab.example", "a-long-passphrase", ["mentor"])
    ...     u.email, sorted(r.value for r in u.roles)
    ('ana@lab.example', ['mentor'])
    """
    email = email.strip().lower()
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"email: a user {email!r} exists already")
    user = User(email=email, display_name=display_name, password_hash=hash_password(password), active=True)
    user.role_grants = [RoleGrant(role=Role(r)) for r in dict.fromkeys(roles)]
    user.site_memberships = [SiteMembership(site_id=i) for i in _site_ids(db, sites)]
    db.add(user)
    db.commit()
    return user


def update_user(db: Session, user: User, *, display_name: str | None = None, password: str | None = None,
                active: bool | None = None, roles: Iterable[Role | str] | None = None,
                sites: Iterable[str] | None = None) -> User:
    """Change the given fields of ``user``; a new password or deactivating revokes every token. Commit.

    Revoking on a password change is what makes a reset useful: whoever
    held a token of the old password (a stolen laptop) loses it.
    """
    if display_name is not None:
        user.display_name = display_name
    if password is not None:
        user.password_hash = hash_password(password)
        db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    if roles is not None:
        user.role_grants = [RoleGrant(role=Role(r)) for r in dict.fromkeys(roles)]
    if sites is not None:
        user.site_memberships = [SiteMembership(site_id=i) for i in _site_ids(db, sites)]
    if active is not None:
        user.active = active
        if not active:
            db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    db.commit()
    return user


def list_users(db: Session) -> list[User]:
    """Every user, by id."""
    return list(db.scalars(select(User).order_by(User.id)))


def get_user(db: Session, user_id: int) -> User | None:
    """The user with ``user_id``, or ``None``."""
    return db.get(User, user_id)


def user_by_email(db: Session, email: str) -> User | None:
    """The user with ``email`` (case-insensitive), or ``None``."""
    return db.scalar(select(User).where(User.email == email.strip().lower()))


def ensure_user(db: Session, email: str, password: str, roles: Iterable[Role | str],
                display_name: str = "") -> User:
    """Create the user if missing, else make sure it is active, holds ``roles`` and has ``password``.

    Used for the bootstrap hub operator (settings) and the demo mentor.
    """
    user = user_by_email(db, email)
    if user is None:
        return create_user(db, email, password, roles, display_name)
    wanted = set(map(Role, roles)) | user.roles
    pw = None if verify_password(user.password_hash, password) else password
    return update_user(db, user, password=pw, active=True, roles=sorted(wanted, key=lambda r: r.value))


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The active user with ``email`` and ``password``, or ``None`` (same timing either way)."""
    user = user_by_email(db, email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.commit()
    return user


def issue_token(db: Session, user: User, ttl_s: int) -> tuple[str, datetime]:
    """A new bearer token for ``user`` valid ``ttl_s`` seconds; only its digest is stored."""
    token, expires = new_token(), expiry(ttl_s)
    db.add(ApiToken(token_hash=token_digest(token), user_id=user.id, expires_at=expires))
    now = datetime.now(timezone.utc)
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at < now))
    db.commit()
    return token, expires


def resolve_token(db: Session, token: str) -> User | None:
    """The active user owning the unexpired ``token``, or ``None``."""
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires <= datetime.now(timezone.utc) or not row.user.active:
        return None
    return row.user


def revoke_token(db: Session, token: str) -> None:
    """Delete ``token`` (log-out)."""
    db.execute(delete(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    db.commit()


def user_of(db: Session, who: Principal) -> User:
    """The user row of the authenticated caller ``who``, loaded in ``db``."""
    return db.get(User, who.user_id)


def authenticator(scope_of: Callable[[Session, User], Scope]) -> Authenticator:
    """The :data:`cloud.access.Authenticator` of a hub: token → active user → principal with its scope.

    ``scope_of`` computes what a user may see (the hub passes
    :func:`cloud.challenges.scope.scope_of`).
    """
    def authenticate(db: Session, token: str) -> Principal | None:
        user = resolve_token(db, token)
        if user is None:
            return None
        return Principal(user.id, user.email, frozenset(user.roles), scope_of(db, user), token)

    return authenticate
