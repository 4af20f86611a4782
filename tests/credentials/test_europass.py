"""The Europass export checked against the European Commission's SHACL shapes of the EDC generic profile.

The one violation allowed is ``cred:issued`` (:data:`SEAL_ONLY`): Europass sets the date of issue when the
credential is sealed with a qualified electronic seal (JAdES), which the hub does not pretend to do.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import rdflib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyld import jsonld
from pyld.documentloader.frozen import BUNDLED_CONTEXTS
from pyshacl import validate

from cloud.credentials import europass, openbadges, statuslist
from cloud.credentials.dataintegrity import now_xsd
from cloud.credentials.service import CredentialService, IssuerConfig
from cloud.database import make_engine, make_sessionmaker, upgrade_database
from labs.packs import load_pack

ELM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elm"
CRED = rdflib.Namespace("https://www.w3.org/2018/credentials#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
#: What only a qualified electronic seal adds: the date of issue.
SEAL_ONLY = {CRED.issued}


@pytest.fixture(scope="module")
def shapes():
    g = rdflib.Graph()
    g.parse(ELM / "EDC-generic-no-cv.ttl", format="turtle")
    return g


def loader(url, options=None):
    if url == europass.EDC_CONTEXT:
        doc = json.loads((ELM / "edc-ap-context.jsonld").read_text())
    else:
        doc = json.loads(BUNDLED_CONTEXTS[url].read_text())
    return {"contextUrl": None, "documentUrl": url, "document": doc}


def violations(doc: dict, shapes) -> set:
    g = rdflib.Graph()
    g.parse(data=jsonld.to_rdf(doc, {"format": "application/n-quads", "documentLoader": loader}), format="nquads")
    conforms, report, _ = validate(g, shacl_graph=shapes)
    return {(report.value(r, SH.resultPath), report.value(r, SH.sourceConstraintComponent))
            for r in report.subjects(SH.resultSeverity, SH.Violation)}


@pytest.fixture(scope="module")
def badge_and_pack():
    engine = make_engine("sqlite://")
    upgrade_database(engine)
    svc = CredentialService(IssuerConfig("https://hub.example", country="SI", locality="Ljubljana",
                                         legal_id="SI12345678", email="info@hub.example"),
                            Ed25519PrivateKey.from_private_bytes(bytes(32)))
    pack = load_pack("outer-race-early").meta
    cred = pack.credentials[0].model_dump(mode="json")
    outcome = {"session": 1, "pack": pack.id, "pack_title": pack.title, "criteria": [{"name": "detection"}],
               "result": "pass", "weighted_level": 3.0, "pass_level": 2.5, "signed_off_at": "2027-01-20T10:00:00Z",
               "evidence": [{"id": 1, "asset": "pump-1", "sha256": "ab" * 32, "ledger_hash": "cd" * 32}],
               "workload": pack.workload.model_dump(mode="json"), "eqf_level": pack.eqf_level}
    with make_sessionmaker(engine)() as db:
        r, ri = statuslist.allocate(db, "revocation")
        s, si = statuslist.allocate(db, "suspension")
        doc = openbadges.build(
            credential_id="urn:uuid:6c1f0a52-3d4e-4b6a-9a41-0f3c2b1d7e55", issuer=svc.issuer(),
            learner={"id": 1, "email": "ana@learner.example", "subject_id": f"{svc.issuer_id}/learners/1"},
            credential=cred, outcome=outcome, outcome_sha256="ef" * 32, public_url=svc.public_url,
            issued_at=now_xsd(), salt="00ff",
            status=[statuslist.entry(svc.public_url, r.id, "revocation", ri),
                    statuslist.entry(svc.public_url, s.id, "suspension", si)])
        badge, _ = svc._sign(db, doc)
    return badge, cred, pack


def test_export_meets_the_shapes_but_for_the_seal(badge_and_pack, shapes):
    badge, cred, pack = badge_and_pack
    doc = europass.export(badge, cred, hours=pack.workload.hours)
    assert {path for path, _ in violations(doc, shapes)} == SEAL_ONLY
    spec = doc["credentialSubject"]["hasClaim"]["specifiedBy"]
    assert spec["eqfLevel"]["id"] == f"http://data.europa.eu/snb/eqf/{pack.eqf_level}"
    assert spec["creditPoint"]["point"] == f"{pack.workload.ects:g}"
    assert {s["id"] for o in spec["learningOutcome"] for s in o.get("relatedESCOSkill", [])} == \
        {s["uri"] for s in cred["skills"]}
    assert spec["volumeOfLearning"] == f"PT{int(pack.workload.hours)}H"
    country = doc["issuer"]["location"]["address"]["countryCode"]["id"]
    assert country == "http://publications.europa.eu/resource/authority/country/SVN"
    png = base64.b64decode(doc["displayParameter"]["individualDisplay"]["displayDetail"]["image"]["content"])
    assert png.startswith(b"\x89PNG")


def test_the_shapes_catch_a_missing_element(badge_and_pack, shapes):
    badge, cred, pack = badge_and_pack
    doc = europass.export(badge, cred, hours=pack.workload.hours)
    del doc["credentialSubject"]["hasClaim"]["awardedBy"]
    assert {path for path, _ in violations(doc, shapes)} > SEAL_ONLY


def test_no_legal_identifier_no_export(badge_and_pack):
    badge, cred, _ = badge_and_pack
    bare = {**badge, "issuer": {k: v for k, v in badge["issuer"].items() if k != "otherIdentifier"}}
    with pytest.raises(ValueError, match="LEGAL_ID"):
        europass.export(bare, cred)
