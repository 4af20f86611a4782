"""Password hashing (argon2id) and opaque bearer tokens (random, stored as SHA-256, with expiry).

Why opaque tokens rather than signed JWTs: a token is revoked by deleting its
row (log-out, a deactivated user, a stolen laptop), and there is no signing
key that could leak or be left at a default value.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# verified against when the e-mail is unknown, so timing does not reveal which accounts exist
_DUMMY_HASH = _hasher.hash("teachfab-no-such-user")


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (PHC string with salt and parameters).

    Examples
    --------
    >>> h = hash_password("correct horse battery staple")
    >>> h.startswith("$argon2id$"), verify_password(h, "correct horse battery staple")
    (True, True)
    """
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``None``: unknown user, always False)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """A fresh opaque bearer token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 hex digest under which ``token`` is stored (tokens are high-entropy: no salt needed).

    Examples
    --------
    >>> len(token_digest("abc"))
    64
    """
    return hashlib.sha256(token.encode()).hexdigest()


def expiry(ttl_s: int) -> datetime:
    """UTC time ``ttl_s`` seconds from now."""
    return datetime.now(timezone.utc) + timedelta(seconds=ttl_s)


WEAK_PASSWORDS = frozenset({"admin", "password", "changeme", "change-me", "changethis", "secret", "teachfab",
                            "12345678", "123456789012", "password123", "admin123"})


def password_problem(password: str, min_length: int = 12) -> str | None:
    """Why ``password`` is too weak for a production account, or ``None`` if acceptable.

    Examples
    --------
    >>> password_problem("changeme")
    'is a well-known default'
    >>> password_problem("a-long-enough-passphrase") is None
    True
    """
    if password.lower() in WEAK_PASSWORDS:
        return "is a well-known default"
    if len(password) < min_length:
        return f"has {len(password)} characters, expected at least {min_length}"
    return None
