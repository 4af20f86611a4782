"""Build the Open Badges 3.0 ``OpenBadgeCredential`` of one learner's achievement (unsigned).

Every EU mandatory element of the pack's credential is carried
(``docs/credentials.md`` has the table): learner (``credentialSubject.id``
and a salted e-mail hash), title (``achievement.name``), awarding body and
its country (``issuer`` with ``address.addressCountryCode``), date of issue
(``validFrom``, ``awardedDate``), learning outcomes (``description``,
``criteria.narrative`` and an ``alignment`` per ESCO skill), workload
(``creditsAvailable``/``creditsEarned`` in ECTS), EQF level (an
``alignment`` to ``http://data.europa.eu/snb/eqf/N``), assessment type
(``resultDescription``), form of participation and quality assurance (Open
Badges has no field: they are ``tag`` entries and a paragraph of the
description).

Examples
--------
>>> issuer = issuer_profile("https://hub.example/issuers/hub", "Hub", "https://hub.example", "SI")
>>> issuer["address"]["addressCountryCode"]
'SI'
"""

from __future__ import annotations

import hashlib

from cloud.credentials.dataintegrity import CREDENTIALS_V2, OB_V3

EQF_URI = "http://data.europa.eu/snb/eqf/{}"
ESCO = "ESCO"


def issuer_profile(issuer_id: str, name: str, url: str, country: str, *, locality: str | None = None,
                   email: str | None = None, description: str | None = None, legal_id: str | None = None) -> dict:
    """The issuer ``Profile``: name, web site, address with its ISO country code, contact and legal id."""
    profile = {"id": issuer_id, "type": ["Profile"], "name": name, "url": url,
               "address": {"type": ["Address"], "addressCountryCode": country,
                           **({"addressLocality": locality} if locality else {})}}
    if email:
        profile["email"] = email
    if description:
        profile["description"] = description
    if legal_id:
        profile["otherIdentifier"] = [{"type": ["IdentifierEntry"], "identifier": legal_id,
                                       "identifierType": "identifier"}]
    return profile


def identity_hash(email: str, salt: str) -> str:
    """OB ``identityHash`` of an e-mail address: ``sha256$`` + hex SHA-256 of address + salt."""
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def build(*, credential_id: str, issuer: dict, learner: dict, credential: dict, outcome: dict,
          outcome_sha256: str, public_url: str, issued_at: str, status: list[dict], salt: str) -> dict:
    """The unsigned OpenBadgeCredential.

    Parameters
    ----------
    credential_id : str
        ``urn:uuid:...`` of this credential.
    issuer : dict
        :func:`issuer_profile`.
    learner : dict
        ``{"id", "email", "name"}`` of the outcome document's learner.
    credential : dict
        The pack's credential (``labs.packs.Credential`` as JSON).
    outcome : dict
        The signed-off outcome document (``cloud.challenges.assessment.outcome_document``).
    outcome_sha256 : str
        SHA-256 of the outcome document as the ledger holds it.
    status : list of dict
        The ``credentialStatus`` entries (revocation, suspension).
    salt : str
        Salt of the learner's e-mail hash.
    """
    workload, eqf = outcome.get("workload") or {}, outcome.get("eqf_level")
    ects = workload.get("ects")
    achievement_id = f"urn:teachfab:achievement:{outcome.get('pack')}:{credential['id']}"
    outcomes = credential["learning_outcomes"]
    alignment = [{"type": ["Alignment"], "targetName": s["label"], "targetUrl": s["uri"], "targetFramework": ESCO,
                  "targetCode": s["uri"].rsplit("/", 1)[-1], "targetType": "ceasn:Competency",
                  "targetDescription": f"ESCO skill at proficiency level {s.get('level', 2)} of 4"}
                 for s in credential["skills"]]
    if eqf:
        alignment.append({"type": ["Alignment"], "targetName": f"EQF level {eqf}", "targetUrl": EQF_URI.format(eqf),
                          "targetFramework": "European Qualifications Framework", "targetCode": str(eqf),
                          "targetType": "ceterms:Credential"})
    criteria_names = ", ".join(c["name"] for c in outcome["criteria"])
    description = (f"{outcome.get('pack_title') or credential['title']}. Learning outcomes: "
                   + " ".join(outcomes)
                   + f" Form of participation: {credential['form_of_participation']}."
                   + f" Quality assurance: {credential['quality_assurance']}."
                   + (f" Workload: {workload.get('hours')} hours ({ects} ECTS)." if ects is not None else ""))
    achievement = {
        "id": achievement_id, "type": ["Achievement"], "achievementType": "MicroCredential",
        "name": credential["title"], "description": description,
        "criteria": {"narrative": "The learner, in a team, ran a lab session on a teaching-factory asset whose "
                                  "evidence met the charter's acceptance criteria, and passed an assessment by "
                                  f"{credential['assessment_type']}. Criteria: {criteria_names}. Outcomes: "
                                  + " ".join(f"({i}) {o}" for i, o in enumerate(outcomes, 1))},
        "alignment": alignment,
        "resultDescription": [{"id": f"{achievement_id}#result", "type": ["ResultDescription"],
                               "name": f"Assessment: {credential['assessment_type']}",
                               "resultType": "RubricCriterionLevel", "allowedValue": ["pass", "not_yet"],
                               "requiredValue": "pass"}],
        "tag": [f"form of participation: {credential['form_of_participation']}",
                f"quality assurance: {credential['quality_assurance']}", f"EQF {eqf}" if eqf else "EQF n/a",
                *(f"ESCO {s['uri']}" for s in credential["skills"])],
        "inLanguage": "en",
    }
    if ects is not None:
        achievement["creditsAvailable"] = float(ects)
    subject = {
        "id": learner["subject_id"], "type": ["AchievementSubject"],
        "identifier": [{"type": ["IdentityObject"], "identityHash": identity_hash(learner["email"], salt),
                        "identityType": "emailAddress", "hashed": True, "salt": salt}],
        "achievement": achievement,
        "result": [{"type": ["Result"], "resultDescription": f"{achievement_id}#result", "value": outcome["result"],
                    "status": "Completed"}],
    }
    if ects is not None:
        subject["creditsEarned"] = float(ects)
    # ids are the hub's (access-controlled) session routes; the hashes let anyone holding the files check them
    session_url = f"{public_url}/api/sessions/{outcome['session']}"
    evidence = [{"id": f"{session_url}/evidence#{e['id']}", "type": ["Evidence"],
                 "name": f"Lab evidence of asset {e['asset']}",
                 "description": f"sha256:{e['sha256']}", "narrative": f"ledger {e['ledger_hash']}",
                 "genre": "lab-session-evidence"} for e in outcome["evidence"]]
    evidence.append({"id": f"{session_url}/assessment#outcome", "type": ["Evidence"],
                     "name": f"Signed-off outcome of session {outcome['session']}",
                     "description": f"sha256:{outcome_sha256}",
                     "narrative": f"weighted rubric level {outcome['weighted_level']} (pass at "
                                  f"{outcome['pass_level']}), signed off {outcome['signed_off_at']}",
                     "genre": "assessment-outcome"})
    return {"@context": [CREDENTIALS_V2, OB_V3], "id": credential_id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": credential["title"], "issuer": issuer, "validFrom": issued_at, "awardedDate": issued_at,
            "credentialSubject": subject, "evidence": evidence, "credentialStatus": status}
