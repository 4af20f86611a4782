"""W3C Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite.

The four steps of the suite (``docs/credentials.md``):

1. proof options = the proof without ``proofValue``, with the document's
   ``@context``; canonicalise them (RDFC-1.0, PyLD's ``URDNA2015``) and
   SHA-256 the N-Quads;
2. canonicalise the document without ``proof`` and SHA-256 it;
3. sign ``proof hash || document hash`` with Ed25519;
4. ``proofValue`` = ``"z"`` + base58btc(signature).

Canonicalisation is PyLD's, Ed25519 is ``cryptography``'s, base58btc is the
``base58`` package's; this module only composes them. JSON-LD contexts are
never fetched: :func:`document_loader` serves pinned copies shipped in
``cloud/credentials/contexts/`` (their SHA-256 are checked by a test) plus
the documents a caller hands it (an issuer's controller document, a status
list credential), and refuses every other URL.

Before signing, :func:`check_document` refuses what would make the
signature mean less than the JSON shows or fail in other verifiers: a term
JSON-LD expansion would drop or that no context defines (it would fall into
the credentials context's "issuer-dependent" vocabulary), a relative type,
and C0 control characters other than tab, newline and carriage return (and
DEL), which canonicalisers escape differently.

Examples
--------
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
>>> public = public_multikey(key.public_key())
>>> doc = {"@context": [CREDENTIALS_V2], "type": ["VerifiableCredential"], "id": "urn:uuid:1",
...        "issuer": "https://hub.example/issuers/a", "validFrom": "2026-01-01T00:00:00Z",
...        "credentialSubject": {"id": "urn:learner:1"}}
>>> signed = sign(doc, key, f"https://hub.example/issuers/a#{public}", created="2026-01-01T00:00:00Z")
>>> signed["proof"]["cryptosuite"], verify_proof(signed, key.public_key())
('eddsa-rdfc-2022', True)
>>> signed["credentialSubject"]["id"] = "urn:learner:2"; verify_proof(signed, key.public_key())
False
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat, NoEncryption
from pyld import jsonld

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"

#: URL -> file in ``contexts/`` (pinned copies; ``tests/credentials/test_dataintegrity.py`` checks their SHA-256).
CONTEXT_FILES = {
    CREDENTIALS_V2: "credentials-v2.jsonld",
    OB_V3: "ob-v3p0-context-3.0.3.json",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
}
CONTEXTS_DIR = Path(__file__).parent / "contexts"

CRYPTOSUITE = "eddsa-rdfc-2022"
#: Multicodec prefixes of a Multikey: Ed25519 public key (0xed) and secret key (0x1300), varint-encoded.
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
#: Where the credentials v2 context's ``@vocab`` puts terms no context defines.
UNDEFINED_VOCAB = "https://www.w3.org/ns/credentials/issuer-dependent#"
#: Base IRI expansion is given, so a relative type or id shows up as one (PyLD otherwise uses a placeholder base).
_RELATIVE_BASE = "https://relative.invalid/"
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ProofError(ValueError):
    """A document that cannot be signed or verified as it stands; the message names the field."""


@cache
def pinned_context(url: str) -> dict:
    """The pinned copy of the JSON-LD context at ``url`` (``KeyError`` for one not shipped)."""
    return json.loads((CONTEXTS_DIR / CONTEXT_FILES[url]).read_text(encoding="utf-8"))


def document_loader(extra: Mapping[str, dict] | None = None) -> Callable[[str, dict], dict]:
    """A PyLD document loader that never touches the network.

    Parameters
    ----------
    extra : mapping, optional
        URL -> document for what is not a context (a controller document, a
        status list credential). A URL with a fragment is looked up without it.
    """
    extra = dict(extra or {})

    def load(url: str, options: dict | None = None) -> dict:
        base = url.split("#", 1)[0]
        if url in CONTEXT_FILES:
            doc = pinned_context(url)
        elif url in extra or base in extra:
            doc = extra.get(url, extra.get(base))
        else:
            raise jsonld.JsonLdError(f"refusing to load {url!r}: not a pinned context nor a known document",
                                     "jsonld.LoadDocumentError", code="loading document failed")
        return {"contextUrl": None, "documentUrl": url, "document": doc}

    return load


_LOADER = document_loader()


def canonize(doc: dict, loader: Callable | None = None) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document."""
    try:
        return jsonld.normalize(doc, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                      "documentLoader": loader or _LOADER})
    except jsonld.JsonLdError as exc:
        raise ProofError(f"cannot canonicalise the document: {_cause(exc)}") from exc


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc).splitlines()[0]


def _paths_of(doc, key: str, path: str = "$") -> list[str]:
    """JSON paths where ``key`` appears as a member name or a type."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "@context":
                continue
            here = f"{path}.{k}"
            if k == key or (k in ("type", "@type") and key in (v if isinstance(v, list) else [v])):
                out.append(here)
            out += _paths_of(v, key, here)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths_of(v, key, f"{path}[{i}]")
    return out


def _control_chars(doc, path: str = "$") -> list[str]:
    if isinstance(doc, str):
        return [path] if _BAD_CONTROL.search(doc) else []
    if isinstance(doc, dict):
        out = []
        for k, v in doc.items():
            if _BAD_CONTROL.search(k):
                out.append(f"{path} (member name {k!r})")
            out += _control_chars(v, f"{path}.{k}")
        return out
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _control_chars(v, f"{path}[{i}]")]
    return []


def _undefined(expanded, found: set[str]) -> None:
    """Collect undefined property names and relative or undefined types of an expanded document."""
    if isinstance(expanded, list):
        for v in expanded:
            _undefined(v, found)
    elif isinstance(expanded, dict):
        for k, v in expanded.items():
            if k.startswith(UNDEFINED_VOCAB):
                found.add(k[len(UNDEFINED_VOCAB):])
            if k == "@type" and not any(isinstance(x, dict) for x in (v if isinstance(v, list) else [v])):
                for t in v if isinstance(v, list) else [v]:
                    if isinstance(t, str) and (t.startswith((UNDEFINED_VOCAB, _RELATIVE_BASE)) or ":" not in t):
                        found.add(t.removeprefix(UNDEFINED_VOCAB).removeprefix(_RELATIVE_BASE))
            if k != "@value":
                _undefined(v, found)


def check_document(doc: dict, loader: Callable | None = None) -> None:
    """Refuse, naming the field, what would not be signed as it reads (see the module docstring).

    Raises
    ------
    ProofError
        For a control character, a dropped or undefined term, or a relative type.
    """
    bad = _control_chars(doc)
    if bad:
        raise ProofError(f"control character (other than tab, newline, return) in {', '.join(bad)}: "
                         "canonicalisers escape them differently, so the signature would not verify everywhere")
    dropped: list[str | None] = []
    try:
        expanded = jsonld.expand(doc, {"documentLoader": loader or _LOADER, "base": _RELATIVE_BASE},
                                 on_property_dropped=dropped.append)
    except jsonld.JsonLdError as exc:
        raise ProofError(f"the document is not valid JSON-LD: {_cause(exc)}") from exc
    undefined: set[str] = set()
    _undefined(expanded, undefined)
    names = sorted({d for d in dropped if d} | undefined)
    if dropped and not names:
        names = ["(a member with no name)"]
    if names:
        where = [p for n in names for p in (_paths_of(doc, n) or [n])]
        raise ProofError(f"term(s) {', '.join(names)} at {', '.join(where)} defined by no context of the "
                         "document: expansion would drop them or give them no meaning, so they cannot be signed")


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def proof_hashes(doc: dict, proof: dict, loader: Callable | None = None) -> tuple[bytes, bytes]:
    """``(proof options hash, document hash)``: steps 1 and 2 of the suite."""
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    options["@context"] = doc["@context"]
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    return _sha256(canonize(options, loader)), _sha256(canonize(unsigned, loader))


def public_multikey(key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 key: ``"z"`` + base58btc(0xed01 + 32 bytes)."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "z" + base58.b58encode(ED25519_PUB_PREFIX + raw).decode()


def secret_multikey(key: Ed25519PrivateKey) -> str:
    """``secretKeyMultibase`` of an Ed25519 key (0x8026 + 32-byte seed); handle as a secret."""
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return "z" + base58.b58encode(ED25519_PRIV_PREFIX + raw).decode()


def _multibase(value: str, prefix: bytes, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError(f"{what} must be a base58btc multibase string starting with 'z'")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError(f"{what} is not base58btc: {exc}") from exc
    if not raw.startswith(prefix) or len(raw) != len(prefix) + 32:
        raise ProofError(f"{what} is not an Ed25519 Multikey (prefix {prefix.hex()} + 32 bytes)")
    return raw[len(prefix):]


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a ``publicKeyMultibase``."""
    return Ed25519PublicKey.from_public_bytes(_multibase(value, ED25519_PUB_PREFIX, "publicKeyMultibase"))


def private_key_from_multikey(value: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of a ``secretKeyMultibase``."""
    return Ed25519PrivateKey.from_private_bytes(_multibase(value, ED25519_PRIV_PREFIX, "secretKeyMultibase"))


def xsd_datetime(ts: datetime) -> str:
    """A UTC XML Schema dateTime without fractions (``2026-12-02T03:00:00Z``); naive times are UTC."""
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_xsd() -> str:
    """The current UTC time as :func:`xsd_datetime`."""
    return xsd_datetime(datetime.now(timezone.utc))


def sign(doc: dict, key: Ed25519PrivateKey, verification_method: str, *, created: str | None = None,
         proof_purpose: str = "assertionMethod", loader: Callable | None = None, check: bool = True) -> dict:
    """A copy of ``doc`` with an ``eddsa-rdfc-2022`` ``DataIntegrityProof``.

    Parameters
    ----------
    doc : dict
        The unsigned JSON-LD document (any ``proof`` is replaced).
    key : Ed25519PrivateKey
        The signing key.
    verification_method : str
        URL of the key's Multikey verification method (``issuer#z6Mk...``).
    created : str, optional
        The proof's ``created`` dateTime (now when omitted).
    check : bool
        Run :func:`check_document` first (the default; the known-answer test
        and benchmarks of already-checked documents may skip it).
    """
    unsigned = {k: v for k, v in doc.items() if k != "proof"}
    if "@context" not in unsigned:
        raise ProofError("the document has no @context")
    if check:
        check_document(unsigned, loader)
    proof = {"type": "DataIntegrityProof", "created": created or now_xsd(),
             "verificationMethod": verification_method, "cryptosuite": CRYPTOSUITE,
             "proofPurpose": proof_purpose}
    proof_hash, doc_hash = proof_hashes(unsigned, proof, loader)
    signature = key.sign(proof_hash + doc_hash)
    out = copy.deepcopy(unsigned)
    out["proof"] = {**proof, "proofValue": "z" + base58.b58encode(signature).decode()}
    return out


def verify_proof(doc: dict, key: Ed25519PublicKey, loader: Callable | None = None) -> bool:
    """Whether ``doc``'s ``eddsa-rdfc-2022`` proof is a valid signature of ``key`` over it.

    Raises :class:`ProofError` for a proof that is not of this suite or malformed.
    """
    proof = doc.get("proof")
    if not isinstance(proof, dict):
        raise ProofError("the document has no proof (or several)")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"proof.type/cryptosuite must be DataIntegrityProof/{CRYPTOSUITE}")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proof.proofValue must be base58btc multibase ('z...')")
    try:
        signature = base58.b58decode(value[1:])
    except ValueError as exc:
        raise ProofError(f"proof.proofValue is not base58btc: {exc}") from exc
    if len(signature) != 64:
        return False
    proof_hash, doc_hash = proof_hashes(doc, proof, loader)
    try:
        key.verify(signature, proof_hash + doc_hash)
    except InvalidSignature:
        return False
    return True
