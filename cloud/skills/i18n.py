"""The skills area's messages in six languages: gettext catalogues read with Babel, and the request's language.

``locale/<lang>/LC_MESSAGES/messages.po`` holds, for every English message
of :mod:`cloud.skills.messages` (the ``msgid``), its translation. They are
plain gettext catalogues, so translators use the usual tools (Poedit,
Weblate, ``pybabel update``). A message without a translation falls back
to English — and ``tests/hub/test_skills_i18n.py`` fails on it.

Examples
--------
>>> translate("level_range", "sl", skill="python", value=7)
'raven python: 7; pričakovano od 1 (Začetnik) do 4 (Strokovnjak)'
>>> request_language("fr-CH, fr;q=0.9, en;q=0.8"), request_language("pt-BR"), request_language(None, "it")
('fr', 'en', 'it')
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cloud.skills.errors import SkillsError
from cloud.skills.messages import MESSAGES
from labs.skills.common import LANGUAGES

LOCALE_DIR = Path(__file__).with_name("locale")


@functools.cache
def catalog(lang: str) -> Catalog | None:
    """The gettext catalogue of ``lang`` (``None`` for English, the source language)."""
    if lang == "en":
        return None
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def translate(key: str, lang: str, **params) -> str:
    """Message ``key`` in ``lang`` with ``params`` filled in (English when untranslated)."""
    text = MESSAGES[key]
    cat = catalog(lang) if lang in LANGUAGES else None
    if cat is not None:
        msg = cat.get(text)
        if msg is not None and msg.string:
            text = msg.string
    return text.format(**params)


def request_language(accept: str | None, query: str | None = None) -> str:
    """The language a request asks for: ``?lang=``, else the first of ``Accept-Language`` we have, else English."""
    if query in LANGUAGES:
        return query
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return "en"


def install_handlers(app: FastAPI) -> None:
    """Answer :class:`SkillsError` in the request's language (registered after the generic handlers)."""

    async def skills_error(request: Request, exc: SkillsError) -> JSONResponse:
        lang = request_language(request.headers.get("accept-language"), request.query_params.get("lang"))
        return JSONResponse({"detail": translate(exc.key, lang, **exc.params)}, status_code=exc.status,
                            headers={"Content-Language": lang})

    app.add_exception_handler(SkillsError, skills_error)
