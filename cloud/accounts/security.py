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


#: Lowest zxcvbn score (0-4) accepted: 3 is "safely unguessable" (about 10^8 guesses or more).
MIN_ZXCVBN_SCORE = 3


def password_problem(password: str, min_length: int = 12) -> str | None:
    """Why ``password`` is too weak for an account, or ``None`` if acceptable.

    In this order: blank or only whitespace; on the hub's list of known
    defaults (however padded or cased); shorter than ``min_length``; easy
    to guess by zxcvbn's estimate (dictionary words, keyboard walks,
    repeats, sequences, dates; score below :data:`MIN_ZXCVBN_SCORE`).

    Examples
    --------
    >>> password_problem("changeme")
    'is a well-known default'
    >>> password_problem(" " * 12)
    'is blank (only whitespace)'
    >>> password_problem("123456789012")
    'is a well-known default'
    >>> password_problem("a-long-enough-passphrase") is None
    True
    """
    if not password.strip():
        return "is blank (only whitespace)"
    if password.strip().lower() in WEAK_PASSWORDS:
        return "is a well-known default"
    if len(password) < min_length:
        return f"has {len(password)} characters, expected at least {min_length}"
    from zxcvbn import zxcvbn  # imported on first use: the hub's start-up does not pay for its dictionaries

    verdict = zxcvbn(password[:100])  # its cost grows with length; 100 characters decide
    if verdict["score"] < MIN_ZXCVBN_SCORE:
        hint = verdict["feedback"].get("warning") or "add more words or characters that are not a pattern"
        return f"is easy to guess (strength {verdict['score']} of 4, at least {MIN_ZXCVBN_SCORE} needed): {hint}"
    return None
