"""Signed bundles: Ed25519 signatures over canonical JSON (hub signs, edge verifies).

A bundle is a JSON object::

    {"payload": {...}, "signature": "<base64>", "key_id": "hub-2024", "alg": "Ed25519"}

The signature covers the *canonical JSON* of ``payload`` — keys sorted, no
whitespace, UTF-8, no NaN/Infinity — so the hub and every edge compute the
same bytes from the same document whatever the transport did to spacing or
key order. Ed25519 (RFC 8032) is deterministic, has small keys and
signatures (32/64 bytes) and is fast to verify on a Raspberry Pi.

:func:`verify_bundle` raises :class:`BundleError` whose ``reason`` says what
was wrong (unsigned, malformed, unknown key, bad signature, expired); an edge
agent sends that reason back to the hub in the command result.

Examples
--------
>>> private, public = generate_keypair()
>>> bundle = sign_bundle({"bundle_id": "b1", "pipeline": {"threshold": 8}}, private, "hub-1")
>>> verify_bundle(bundle, {"hub-1": public})["pipeline"]
{'threshold': 8}
>>> bundle["payload"]["pipeline"]["threshold"] = 80          # tampered on the way
>>> verify_bundle(bundle, {"hub-1": public})
Traceback (most recent call last):
...
contract.signing.BundleError: bad signature: the payload was altered after signing or signed with another key than 'hub-1'
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"
_BUNDLE_KEYS = {"payload", "signature", "key_id", "alg"}


class BundleError(ValueError):
    """A bundle that must not be applied; ``reason`` says why (sent back to the hub)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def canonical_json(doc: dict) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, "é"]})
    b'{"a":[1.5,"\\xc3\\xa9"],"b":1}'
    """
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise BundleError(f"malformed payload: not canonical JSON ({exc})") from None


def generate_keypair() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    """A new Ed25519 key pair ``(private, public)``."""
    private = Ed25519PrivateKey.generate()
    return private, private.public_key()


def sign_bundle(doc: dict, private_key: Ed25519PrivateKey, key_id: str) -> dict:
    """Sign ``doc`` and return the bundle ``{payload, signature, key_id, alg}``.

    Parameters
    ----------
    doc : dict
        The payload (JSON-serialisable; finite floats only).
    private_key : Ed25519PrivateKey
        The signer's key.
    key_id : str
        Name under which verifiers know the matching public key.
    """
    if not isinstance(doc, dict):
        raise TypeError(f"a bundle payload must be a dict, got {type(doc).__name__}")
    if not isinstance(key_id, str) or not key_id:
        raise ValueError(f"key_id must be a non-empty string, got {key_id!r}")
    signature = private_key.sign(canonical_json(doc))
    return {"payload": doc, "signature": base64.b64encode(signature).decode("ascii"),
            "key_id": key_id, "alg": ALG}


def verify_bundle(bundle: dict, public_keys: Mapping[str, Ed25519PublicKey], *,
                  now_ns: int | None = None) -> dict:
    """Check a bundle's signature (and expiry) and return its payload.

    Parameters
    ----------
    bundle : dict
        As made by :func:`sign_bundle` (usually parsed from JSON).
    public_keys : mapping of str to Ed25519PublicKey
        Trusted keys by ``key_id``.
    now_ns : int, optional
        Current UTC epoch ns for the ``expires_ns`` check (default: the clock).

    Raises
    ------
    BundleError
        Unsigned, malformed, unknown ``key_id``, bad signature (tampered or
        another key), or expired (``payload["expires_ns"]`` in the past).
    """
    if not isinstance(bundle, dict):
        raise BundleError(f"malformed bundle: expected a JSON object, got {type(bundle).__name__}")
    if "signature" not in bundle or "payload" not in bundle:
        missing = sorted({"payload", "signature", "key_id", "alg"} - set(bundle))
        what = "unsigned: no signature" if "signature" not in bundle else "malformed bundle"
        raise BundleError(f"{what} (missing {', '.join(missing)}); "
                          f"expected {{payload, signature, key_id, alg: {ALG}}}")
    extra = sorted(set(bundle) - _BUNDLE_KEYS)
    if extra:
        raise BundleError(f"malformed bundle: unexpected field(s) {', '.join(extra)}")
    alg, key_id, payload, sig = bundle.get("alg"), bundle.get("key_id"), bundle["payload"], bundle["signature"]
    if alg != ALG:
        raise BundleError(f"malformed bundle: alg must be {ALG!r}, got {alg!r}")
    if not isinstance(payload, dict):
        raise BundleError(f"malformed bundle: payload must be a JSON object, got {type(payload).__name__}")
    if not isinstance(key_id, str) or key_id not in public_keys:
        known = ", ".join(sorted(public_keys)) or "none"
        raise BundleError(f"unknown key_id {key_id!r} (this edge trusts: {known})")
    try:
        raw = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 64:
        raise BundleError("malformed bundle: signature must be 64 bytes of base64 (Ed25519)")
    try:
        public_keys[key_id].verify(raw, canonical_json(payload))
    except InvalidSignature:
        raise BundleError(f"bad signature: the payload was altered after signing "
                          f"or signed with another key than {key_id!r}") from None
    expires = payload.get("expires_ns")
    if expires is not None:
        now = time.time_ns() if now_ns is None else now_ns
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise BundleError(f"malformed payload: expires_ns must be integer epoch ns, got {expires!r}")
        if now > expires:
            raise BundleError(f"expired: expires_ns {expires} is {(now - expires) / 1e9:.1f} s in the past")
    return payload


def save_private_key(key: Ed25519PrivateKey, path: str | Path, password: bytes | None = None) -> None:
    """Write a private key as PKCS#8 PEM (encrypted when ``password`` is given), mode 0600."""
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    path = Path(path)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(pem)


def load_private_key(path: str | Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read a PEM private key written by :func:`save_private_key`."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM (what :func:`load_public_key` reads)."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def save_public_key(key: Ed25519PublicKey, path: str | Path) -> None:
    """Write a public key as SubjectPublicKeyInfo PEM."""
    Path(path).write_bytes(public_key_pem(key))


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """Read a PEM public key written by :func:`save_public_key`."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: expected an Ed25519 public key, got {type(key).__name__}")
    return key


def load_public_keys(directory: str | Path) -> dict[str, Ed25519PublicKey]:
    """Trusted keys from ``DIR/<key_id>.pub.pem`` files, by ``key_id``."""
    keys = {}
    for path in sorted(Path(directory).glob("*.pub.pem")):
        keys[path.name.removesuffix(".pub.pem")] = load_public_key(path)
    if not keys:
        raise ValueError(f"{directory}: no *.pub.pem public keys found")
    return keys
