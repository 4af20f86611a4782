"""Routes of the credentials area: the issuer's controller document, status lists, the learner's wallet,
share links, the public verifier and the operators' revoke / suspend / reinstate. Thin over the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from cloud.access import DB, Operator, Principal, Role, RoleGate
from cloud.accounts.service import user_of
from cloud.credentials import verify as verifier
from cloud.credentials.models import IssuedCredential
from cloud.credentials.schemas import (CredentialSummary, JsonLd, SharedCredential, ShareLink, StatusChange,
                                       StatusChangeIn, Verification)
from cloud.credentials.service import CredentialService
from cloud.errors import ERROR_RESPONSES, Invalid, NotFound

router = APIRouter(tags=["credentials"])
Learner = Annotated[Principal, Depends(RoleGate(Role.learner))]
MAX_DOCUMENT = 512 * 1024


def service(request: Request) -> CredentialService:
    """The hub's :class:`CredentialService` (``app.state.credentials``)."""
    return request.app.state.credentials


Service = Annotated[CredentialService, Depends(service)]


def summary(row: IssuedCredential) -> dict:
    """The wallet's view of one credential."""
    return {"id": f"urn:uuid:{row.id}", "title": row.document.get("name", ""), "session": row.session_id,
            "achievement": row.credential_key, "issued_at": row.document.get("validFrom", ""),
            "status": row.status, "status_reason": row.status_reason, "shared": row.share_token_hash is not None,
            "raised": row.raised, "document": row.document}


def _jsonld(doc: dict) -> JSONResponse:
    return JSONResponse(doc, media_type="application/ld+json")


@router.get("/issuers/{slug}", response_model=JsonLd, responses=ERROR_RESPONSES,
            summary="The issuer's controller document: its Multikey verification methods, retired ones marked revoked")
def controller(db: DB, svc: Service, slug: str) -> Response:
    if slug != svc.config.slug:
        raise NotFound(f"no issuer {slug!r}")
    return _jsonld(svc.controller(db))


@router.get("/api/credentials/status/{list_id}", response_model=JsonLd, responses=ERROR_RESPONSES,
            summary="A signed Bitstring Status List credential (revocation or suspension)")
def status_list(db: DB, svc: Service, list_id: str) -> Response:
    return _jsonld(svc.status_list(db, list_id))


@router.get("/api/credentials/me", response_model=list[CredentialSummary],
            summary="My credentials with their status and what each raised in my skill profile")
def my_credentials(db: DB, svc: Service, who: Learner) -> list[dict]:
    return [summary(r) for r in svc.of_learner(db, who.user_id)]


@router.get("/api/credentials/me/{credential_id}/download", response_model=JsonLd, responses=ERROR_RESPONSES,
            summary="Download my credential as the signed JSON-LD document")
def download(db: DB, svc: Service, who: Learner, credential_id: str) -> Response:
    row = svc.own(db, credential_id, who.user_id)
    return JSONResponse(row.document, media_type="application/ld+json",
                        headers={"Content-Disposition": f'attachment; filename="credential-{row.id}.json"'})


@router.get("/api/credentials/me/{credential_id}/europass", response_model=JsonLd, responses=ERROR_RESPONSES,
            summary="My credential as a European Learning Model v3 European Digital Credential (unsealed JSON-LD)")
def europass_export(db: DB, svc: Service, who: Learner, credential_id: str) -> Response:
    doc = svc.europass(db, credential_id, who.user_id)
    return JSONResponse(doc, media_type="application/ld+json",
                        headers={"Content-Disposition": f'attachment; filename="europass-{doc["id"][15:]}.jsonld"'})


@router.post("/api/credentials/me/{credential_id}/share", response_model=ShareLink, status_code=201,
             responses=ERROR_RESPONSES, summary="Make (or replace) the public share link of my credential")
def share(db: DB, svc: Service, who: Learner, credential_id: str) -> dict:
    token = svc.share(db, credential_id, who.user_id)
    return {"url": svc.share_url(token), "token": token}


@router.delete("/api/credentials/me/{credential_id}/share", status_code=204, responses=ERROR_RESPONSES,
               summary="Withdraw the share link of my credential")
def unshare(db: DB, svc: Service, who: Learner, credential_id: str) -> Response:
    svc.unshare(db, credential_id, who.user_id)
    return Response(status_code=204)


@router.get("/api/credentials/shared/{token}", response_model=SharedCredential, responses=ERROR_RESPONSES,
            summary="A shared credential and its verification (public: the token is the secret)")
def shared(db: DB, svc: Service, token: str) -> dict:
    row = svc.by_share(db, token)
    return {"credential": row.document, "verification": verifier.verify(db, svc, row.document)}


@router.post("/api/credentials/verify", response_model=Verification, responses=ERROR_RESPONSES,
             summary="Verify a credential (public): signature, issuer, status, validity, achievement, evidence")
def verify(request: Request, db: DB, svc: Service, credential: Annotated[Any, Body()]) -> dict:
    if int(request.headers.get("content-length") or 0) > MAX_DOCUMENT:
        raise Invalid(f"a credential of at most {MAX_DOCUMENT // 1024} KiB, please")
    return verifier.verify(db, svc, credential)


@router.post("/api/credentials/{credential_id}/status", response_model=StatusChange, responses=ERROR_RESPONSES,
             summary="Revoke (final), suspend or reinstate a credential, with a reason (hub operators)")
def change_status(db: DB, svc: Service, who: Operator, credential_id: str, body: StatusChangeIn) -> dict:
    row = svc.change_status(db, credential_id, body.action, body.reason, user_of(db, who))
    return {"id": f"urn:uuid:{row.id}", "status": row.status, "status_reason": row.status_reason}
