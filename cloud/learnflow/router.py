"""Routes of learning in the flow of work: the unit offered beside an event, opening it, its follow-up.

Any signed-in user may ask, for an event of an asset in their scope; texts
come in the caller's chosen language, else ``?lang=``/``Accept-Language``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cloud.access import DB, Anyone, Principal
from cloud.errors import ERROR_RESPONSES
from cloud.learnflow import service
from cloud.learnflow.schemas import FollowUpIn, OfferAnswer, OfferIn, OfferView, UnitView
from cloud.skills.i18n import request_language
from cloud.skills.models import Preference
from labs.skills.units import load_units

router = APIRouter(prefix="/api/learnflow", tags=["learnflow"])
LangQ = Annotated[str | None, Query(description="language of the texts: en es fr it tr sl")]


def _lang(request: Request, db, who: Principal, lang: str | None) -> str:
    if lang is None:
        pref = db.get(Preference, who.user_id)
        if pref is not None:
            return pref.language
    return request_language(request.headers.get("accept-language"), lang)


@router.post("/offers", response_model=OfferAnswer, responses=ERROR_RESPONSES,
             summary="The learning unit that matches an alert or drift event the caller sees (recorded once)")
def offer(request: Request, db: DB, who: Anyone, body: OfferIn, lang: LangQ = None) -> dict:
    lg = _lang(request, db, who, lang)
    row = service.offer(db, request.app.state.store, who, body.site, body.asset, body.kind, body.ts, lg)
    return {"offer": service.offer_view(row, lg) if row is not None else None}


@router.get("/offers", response_model=list[OfferView], summary="The caller's offers, newest first")
def my_offers(request: Request, db: DB, who: Anyone, lang: LangQ = None) -> list[dict]:
    lg = _lang(request, db, who, lang)
    return [service.offer_view(r, lg) for r in service.my_offers(db, who)]


@router.post("/offers/{offer_id}/open", response_model=OfferView, responses=ERROR_RESPONSES,
             summary="Open the offered unit (the first open is recorded): its full text and the follow-up")
def open_offer(request: Request, db: DB, who: Anyone, offer_id: int, lang: LangQ = None) -> dict:
    return service.offer_view(service.open_offer(db, who, offer_id), _lang(request, db, who, lang), full=True)


@router.post("/offers/{offer_id}/follow-up", response_model=OfferView, responses=ERROR_RESPONSES,
             summary="Answer the follow-up self-assessment (a learner's level enters their profile as self-assessed)")
def follow_up(request: Request, db: DB, who: Anyone, offer_id: int, body: FollowUpIn, lang: LangQ = None) -> dict:
    return service.offer_view(service.follow_up(db, who, offer_id, body.level), _lang(request, db, who, lang),
                              full=True)


@router.get("/units", response_model=list[UnitView], summary="Every learning unit, in a language")
def units(request: Request, db: DB, who: Anyone, lang: LangQ = None) -> list[dict]:
    lg = _lang(request, db, who, lang)
    return [service.unit_view(u, lg) for u in load_units().values()]
