"""eddsa-rdfc-2022 signer: 1EdTech's known-answer vector, the pinned contexts, and what is refused before signing."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloud.credentials import dataintegrity as di

OB3 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ob3"
SEED = "6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4"
PUBLIC = "4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5"
MULTIKEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
PROOF_HASH = "d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19"
DOC_HASH = "87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773"
PROOF_VALUE = "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr"

#: SHA-256 of the pinned contexts shipped in cloud/credentials/contexts/ (a changed byte fails here).
PINNED = {
    "credentials-v2.jsonld": "8a9f494a89ecc51db093e90e84713e07e84d6d9204364a9b3c7868b21751236f",
    "data-integrity-v2.jsonld": "0f77743daf5b4e8fc067fc5ba5b21044283053aa717fc6b0219843bed3b00363",
    "multikey-v1.jsonld": "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6",
    "ob-v3p0-context-3.0.3.json": "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
}


@pytest.fixture(scope="module")
def vector():
    return {"credential": json.loads((OB3 / "credential.json").read_text()),
            "signed": json.loads((OB3 / "credential-signed.json").read_text()),
            "doc_canon": (OB3 / "document-canon.txt").read_text(),
            "proof_canon": (OB3 / "proof-canon.txt").read_text()}


@pytest.fixture(scope="module")
def key():
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(SEED))


def test_pinned_contexts_are_the_reviewed_bytes():
    assert set(PINNED) == set(di.CONTEXT_FILES.values())
    for name, digest in PINNED.items():
        assert hashlib.sha256((di.CONTEXTS_DIR / name).read_bytes()).hexdigest() == digest, name


def test_pinned_ob_context_equals_1edtech_copy():
    assert di.pinned_context(di.OB_V3) == json.loads((OB3 / "context-3.0.3.json").read_text())


def test_multikey_of_the_vector_key(key):
    assert key.public_key().public_bytes_raw().hex() == PUBLIC
    assert di.public_multikey(key.public_key()) == MULTIKEY
    assert di.public_key_from_multikey(MULTIKEY).public_bytes_raw().hex() == PUBLIC
    assert di.private_key_from_multikey(di.secret_multikey(key)).private_bytes_raw().hex() == SEED
    assert di.secret_multikey(key).startswith("z3u2")  # 0x8026 prefix in base58btc


def test_known_answer_vector(vector, key):
    cred, signed = vector["credential"], vector["signed"]
    proof = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    # canonical N-Quads of the document and of the proof options, byte for byte
    assert di.canonize({k: v for k, v in cred.items() if k != "proof"}) == vector["doc_canon"]
    assert di.canonize({**proof, "@context": cred["@context"]}) == vector["proof_canon"]
    proof_hash, doc_hash = di.proof_hashes(cred, proof)
    assert proof_hash.hex() == PROOF_HASH and doc_hash.hex() == DOC_HASH
    out = di.sign(cred, key, proof["verificationMethod"], created=proof["created"])
    assert out["proof"]["proofValue"] == PROOF_VALUE
    assert out == signed
    assert di.verify_proof(signed, key.public_key())


def test_one_changed_character_fails(vector, key):
    bad = copy.deepcopy(vector["signed"])
    bad["credentialSubject"]["achievement"]["name"] = "Teamwerk"
    assert not di.verify_proof(bad, key.public_key())
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert not di.verify_proof(vector["signed"], other)


@pytest.mark.parametrize("where", [("descripton",), ("credentialSubject", "achievement", "critera")])
def test_undefined_term_is_refused_naming_it(vector, key, where):
    doc = copy.deepcopy(vector["credential"])
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = "text"
    with pytest.raises(di.ProofError, match=rf"{where[-1]} at \$\.{'.'.join(where)}"):
        di.sign(doc, key, "https://example.edu/issuers/565049#" + MULTIKEY)


def test_undefined_type_is_refused(vector, key):
    doc = copy.deepcopy(vector["credential"])
    doc["credentialSubject"]["achievement"]["type"].append("Trophy")
    with pytest.raises(di.ProofError, match=r"Trophy at \$\.credentialSubject\.achievement\.type"):
        di.sign(doc, key, "https://example.edu/issuers/565049#" + MULTIKEY)


def test_dropped_term_is_refused(key):
    # no @vocab here: expansion drops "colour" outright
    doc = {"@context": [{"name": "https://schema.org/name"}], "name": "x", "colour": "red"}
    with pytest.raises(di.ProofError, match=r"colour at \$\.colour"):
        di.check_document(doc)


@pytest.mark.parametrize("char", ["\u0007", "\u0000", "\u001b", "\u007f"])
def test_control_characters_are_refused(vector, key, char):
    doc = copy.deepcopy(vector["credential"])
    doc["credentialSubject"]["achievement"]["criteria"]["narrative"] = f"peer{char}review"
    with pytest.raises(di.ProofError, match=r"\$\.credentialSubject\.achievement\.criteria\.narrative"):
        di.sign(doc, key, "https://example.edu/issuers/565049#" + MULTIKEY)


def test_tab_newline_return_are_signed(vector, key):
    doc = copy.deepcopy(vector["credential"])
    doc["credentialSubject"]["achievement"]["criteria"]["narrative"] = "a\tb\nc\r\nd"
    signed = di.sign(doc, key, "https://example.edu/issuers/565049#" + MULTIKEY)
    assert di.verify_proof(signed, key.public_key())


def test_loader_refuses_the_network():
    with pytest.raises(di.ProofError, match="refusing to load"):
        di.canonize({"@context": "https://example.org/ctx.jsonld", "name": "x"})
    loader = di.document_loader({"https://hub.test/issuers/a": {"id": "https://hub.test/issuers/a"}})
    assert loader("https://hub.test/issuers/a#key-1")["document"]["id"] == "https://hub.test/issuers/a"


def test_malformed_proofs_are_named(vector, key):
    doc = copy.deepcopy(vector["signed"])
    doc["proof"]["proofValue"] = "u" + doc["proof"]["proofValue"][1:]
    with pytest.raises(di.ProofError, match="proofValue"):
        di.verify_proof(doc, key.public_key())
    doc["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    with pytest.raises(di.ProofError, match="cryptosuite"):
        di.verify_proof(doc, key.public_key())
    with pytest.raises(di.ProofError, match="publicKeyMultibase"):
        di.public_key_from_multikey("z" + MULTIKEY[2:])
