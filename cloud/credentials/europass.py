"""Europass export: the achievement of an issued Open Badge as a European Learning Model v3
``EuropeanDigitalCredential`` (JSON-LD, EDC generic application profile).

It carries the same EU mandatory elements as the badge (``docs/credentials.md``
maps them): the learner (``credentialSubject``, a ``Person``), the
``LearningAchievement`` with its ``title``, ``awardedBy`` (awarding body,
its country as an EU authority concept, ``awardingDate``), ``provenBy`` (the
``LearningAssessment`` and its specification), and ``specifiedBy`` (the
``LearningAchievementSpecification``: learning outcomes with their ESCO
skills, EQF level by its EU vocabulary URI, ECTS ``creditPoint``,
``volumeOfLearning``, ``learningSetting``, ``mode``) plus the quality
assurance as an ``additionalNote``.

The export is **not sealed**. Europass credentials are sealed with a JAdES
signature made with an eIDAS qualified electronic seal, which also sets the
``issued`` date; a hub holding a qualified certificate seals this document
with its QSCD-backed signing service (``docs/credentials.md``, "Europass").
Vocabulary concepts are only those whose URIs the Commission's sample uses;
where the vocabulary has no concept we know (an on-site learning mode) the
element is a note, never an invented URI.

Examples
--------
>>> alpha3("SI"), alpha3("DE")
('SVN', 'DEU')
"""

from __future__ import annotations

import base64
import io
import re

from PIL import Image, ImageDraw, ImageFont

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
EDC_CONTEXT = "http://data.europa.eu/snb/model/context/edc-ap"
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country"
ISO3 = {"AT": "AUT", "BE": "BEL", "BG": "BGR", "HR": "HRV", "CY": "CYP", "CZ": "CZE", "DK": "DNK", "EE": "EST",
        "FI": "FIN", "FR": "FRA", "DE": "DEU", "GR": "GRC", "HU": "HUN", "IE": "IRL", "IT": "ITA", "LV": "LVA",
        "LT": "LTU", "LU": "LUX", "MT": "MLT", "NL": "NLD", "PL": "POL", "PT": "PRT", "RO": "ROU", "SK": "SVK",
        "SI": "SVN", "ES": "ESP", "SE": "SWE", "IS": "ISL", "LI": "LIE", "NO": "NOR", "CH": "CHE", "TR": "TUR",
        "GB": "GBR", "RS": "SRB", "ME": "MNE", "MK": "MKD", "AL": "ALB", "BA": "BIH", "UA": "UKR", "MD": "MDA"}
MODES = {"online": ("http://data.europa.eu/snb/learning-assessment/920fbb3cbe", "Online"),
         "blended": ("http://data.europa.eu/snb/learning-assessment/e92d221e4d", "Blended")}
NON_FORMAL = ("http://data.europa.eu/snb/learning-setting/e207a81fc7", "non-formal learning")
ECTS = ("http://data.europa.eu/snb/education-credit/6fcec5c5af", "European Credit Transfer System")
GENERIC_PROFILE = ("http://data.europa.eu/snb/credential/e34929035b", "Generic")


def alpha3(code: str) -> str:
    """ISO 3166-1 alpha-3 of an alpha-2 country code (the EU authority table's notation)."""
    try:
        return ISO3[code.upper()]
    except KeyError:
        raise ValueError(f"country {code!r}: no EU authority concept known for it (expected a European "
                         f"ISO 3166-1 alpha-2 code such as {', '.join(list(ISO3)[:5])}...)") from None


def _concept(uri: str, label: str, scheme: str | None = None, notation: str | None = None) -> dict:
    scheme = scheme or uri.rsplit("/", 1)[0] + "/25831c2"
    out = {"id": uri, "type": "Concept", "inScheme": {"id": scheme, "type": "ConceptScheme"},
           "prefLabel": {"en": label}}
    if notation:
        out["notation"] = notation
    return out


def _note(nid: str, text: str) -> dict:
    return {"id": nid, "type": "Note", "noteLiteral": {"en": text}}


def display_image(title: str, issuer: str, date: str, facts: list[str]) -> bytes:
    """The credential's individual display: a PNG card (A4 landscape proportions) with its main facts."""
    img = Image.new("RGB", (1123, 794), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((24, 24, 1098, 769), outline=(0, 51, 153), width=6)
    big, body = ImageFont.load_default(40), ImageFont.load_default(24)
    y = 90
    draw.text((80, y), "Micro-credential", fill=(0, 51, 153), font=body)
    y += 50
    for line in _wrap(title, 44):
        draw.text((80, y), line, fill="black", font=big)
        y += 52
    y += 30
    for line in [f"Awarded by {issuer}", f"Issued {date[:10]}", *facts]:
        for part in _wrap(line, 80):
            draw.text((80, y), part, fill=(40, 40, 40), font=body)
            y += 34
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def _display(uid: str, title: str, issuer: str, date: str, facts: list[str]) -> dict:
    english = _concept("http://publications.europa.eu/resource/authority/language/ENG", "English",
                       "http://publications.europa.eu/resource/authority/language", "language")
    png = base64.b64encode(display_image(title, issuer, date, facts)).decode()
    image = {"id": f"urn:epass:mediaObject:{uid}", "type": "MediaObject", "content": png,
             "contentEncoding": _concept("http://data.europa.eu/snb/encoding/6146cde7dd", "base64"),
             "contentType": _concept("http://publications.europa.eu/resource/authority/file-type/PNG", "PNG",
                                     "http://publications.europa.eu/resource/authority/file-type", "file-type")}
    return {"id": f"urn:epass:displayParameter:{uid}", "type": "DisplayParameter", "title": {"en": "Micro-credential"},
            "description": {"en": title}, "language": english, "primaryLanguage": english,
            "individualDisplay": {"id": f"urn:epass:individualDisplay:{uid}", "type": "IndividualDisplay",
                                  "language": english,
                                  "displayDetail": {"id": f"urn:epass:displayDetail:{uid}", "type": "DisplayDetail",
                                                    "image": image, "page": 1}}}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def export(badge: dict, pack_credential: dict, *, hours: float | None = None) -> dict:
    """The ELM v3 document of a signed OpenBadgeCredential and the pack credential it was built from.

    Parameters
    ----------
    badge : dict
        The issued Open Badges 3.0 credential (the hub's document).
    pack_credential : dict
        The lab pack's credential (learning outcomes with their ESCO skills, mode, quality assurance).
    hours : float, optional
        Notional learning hours (``volumeOfLearning``).
    """
    uid = badge["id"].removeprefix("urn:uuid:")
    issuer = badge["issuer"]
    country = issuer["address"]["addressCountryCode"]
    iso3 = alpha3(country)
    subject = badge["credentialSubject"]
    ach = subject["achievement"]
    eqf = next((a["targetUrl"] for a in ach["alignment"]
                if a["targetUrl"].startswith("http://data.europa.eu/snb/eqf/")), None)
    org = {"id": f"urn:epass:org:{_slug(issuer['id'])}", "type": "Organisation",
           "legalName": {"en": issuer["name"]},
           "location": {"id": f"urn:epass:location:{uid}", "type": "Location",
                        "address": {"id": f"urn:epass:address:{uid}", "type": "Address",
                                    "countryCode": _concept(f"{EU_COUNTRY}/{iso3}", iso3, EU_COUNTRY, "country"),
                                    **({"fullAddress": _note(f"urn:epass:note:address:{uid}",
                                                             issuer["address"]["addressLocality"])}
                                       if issuer["address"].get("addressLocality") else {})}},
           "homepage": {"id": f"urn:epass:webResource:{uid}", "type": "WebResource", "contentURL": issuer["url"]}}
    if issuer.get("email"):
        org["contactPoint"] = {"id": f"urn:epass:contactPoint:{uid}", "type": "ContactPoint",
                               "emailAddress": {"id": f"mailto:{issuer['email']}", "type": "Mailbox"}}
    legal = next((i["identifier"] for i in issuer.get("otherIdentifier", [])), None)
    if not legal:
        raise ValueError("a European Digital Credential's issuer needs its legal identifier: set "
                         "TEACHFAB_HUB_ISSUER_LEGAL_ID (the one its qualified seal certificate names)")
    if legal:  # the legal identifier the qualified seal's certificate names (eIDAS)
        org["eIDASIdentifier"] = {"id": f"urn:epass:legalIdentifier:{uid}", "type": "LegalIdentifier",
                                       "notation": legal,
                                       "spatial": _concept(f"{EU_COUNTRY}/{iso3}", iso3, EU_COUNTRY, "country")}
    awarding = {"id": f"urn:epass:awardingProcess:{uid}", "type": "AwardingProcess", "awardingBody": org,
                "awardingDate": badge["awardedDate"]}
    outcomes = [{"id": f"urn:epass:learningOutcome:{uid}:{i}", "type": "LearningOutcome", "title": {"en": text}}
                for i, text in enumerate(pack_credential["learning_outcomes"], 1)]
    skills = [_concept(s["uri"], s["label"], "http://data.europa.eu/esco/concept-scheme/skills", "Skill")
              for s in pack_credential["skills"]]
    outcomes.append({"id": f"urn:epass:learningOutcome:{uid}:skills", "type": "LearningOutcome",
                     "title": {"en": "ESCO skills the credential evidences"}, "relatedESCOSkill": skills})
    mode = pack_credential.get("form_of_participation", "blended")
    spec = {"id": f"urn:epass:learningAchievementSpec:{uid}", "type": "LearningAchievementSpecification",
            "title": {"en": ach["name"]}, "description": {"en": ach["description"]},
            "learningOutcome": outcomes, "learningSetting": _concept(*NON_FORMAL),
            "additionalNote": [_note(f"urn:epass:note:qa:{uid}",
                                     f"Quality assurance: {pack_credential.get('quality_assurance')}"),
                               _note(f"urn:epass:note:mode:{uid}", f"Form of participation: {mode}")],
            "language": _concept("http://publications.europa.eu/resource/authority/language/ENG", "English",
                                 "http://publications.europa.eu/resource/authority/language", "language")}
    if mode in MODES:
        spec["mode"] = _concept(*MODES[mode])
    if eqf:
        spec["eqfLevel"] = _concept(eqf, f"Level {eqf.rsplit('/', 1)[-1]}")
    if ach.get("creditsAvailable") is not None:
        spec["creditPoint"] = {"id": f"urn:epass:creditPoint:{uid}", "type": "CreditPoint",
                               "framework": _concept(*ECTS), "point": f"{ach['creditsAvailable']:g}"}
    if hours:
        spec["volumeOfLearning"] = f"PT{int(round(hours))}H"
    result = subject["result"][0]["value"]
    assessment = {"id": f"urn:epass:learningAssessment:{uid}", "type": "LearningAssessment",
                  "title": {"en": "Dual assessment of the lab session"},
                  "awardedBy": awarding, "grade": _note(f"urn:epass:note:grade:{uid}", result),
                  "specifiedBy": {"id": f"urn:epass:learningAssessmentSpec:{uid}",
                                  "type": "LearningAssessmentSpecification",
                                  "title": {"en": pack_credential.get("assessment_type", "assessment")}}}
    achievement = {"id": f"urn:epass:learningAchievement:{uid}", "type": "LearningAchievement",
                   "title": {"en": ach["name"]}, "awardedBy": awarding, "provenBy": assessment,
                   "specifiedBy": spec}
    facts = [f"EQF level {eqf.rsplit('/', 1)[-1]}" if eqf else "", f"{ach.get('creditsAvailable', 0):g} ECTS",
             *(f"Skill: {s['label']}" for s in pack_credential["skills"])]
    return {"@context": [CREDENTIALS_V1, EDC_CONTEXT], "id": f"urn:credential:{uid}",
            "type": ["VerifiableCredential", "EuropeanDigitalCredential"],
            "credentialProfiles": _concept(*GENERIC_PROFILE),
            "credentialSchema": {"id": "http://data.europa.eu/snb/model/ap/edc-generic-full",
                                 "type": "ShaclValidator2017"},
            "displayParameter": _display(uid, ach["name"], issuer["name"], badge["validFrom"], facts),
            "issuer": org, "validFrom": badge["validFrom"],
            "credentialSubject": {"id": f"urn:epass:person:{_slug(subject['id'])}", "type": "Person",
                                  "hasClaim": achievement}}
