"""The access log: who read a learner's profile or an SME site's data, shown to that learner or partner.

The hub wraps its app in :class:`AccessLogMiddleware`. After a successful
``GET`` of a route in :data:`LOGGED`, it records the reader, the route and
the subject: the learner (``user_id`` in the path) or the site (``site``
in the path, or the site of the challenge ``challenge_id``). A person
reading their own data is not logged (a learner their profile, an SME
partner their own site). Routes that list many subjects at once (e.g.
``/api/alerts``) are not in the log; their scope rules apply as ever.
"""

from __future__ import annotations

import logging

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.access import Principal, Role
from cloud.challenges.models import Challenge
from cloud.governance.models import AccessLogEntry
from cloud.sites.models import Site

log = logging.getLogger(__name__)

#: Route template → (subject kind, path parameter naming the subject).
LOGGED = {
    "/api/skills/learners/{user_id}/profile": ("learner", "user_id"),
    "/api/skills/learners/{user_id}/matches": ("learner", "user_id"),
    "/api/assets/{site}/{asset}/telemetry": ("site", "site"),
    "/api/assets/{site}/{asset}/waveforms": ("site", "site"),
    "/api/assets/{site}/{asset}/series/{name}": ("site", "site"),
    "/api/sites/{site}/assets": ("site", "site"),
    "/api/sites/{site}/edges": ("site", "site"),
    "/api/edges/{site}/{edge}": ("site", "site"),
    "/api/skills/companies/{site}/gaps/{job_id}": ("site", "site"),
    "/api/challenges/{challenge_id}/handover": ("site", "challenge_id"),
    "/api/challenges/{challenge_id}/handover/archive": ("site", "challenge_id"),
}


def _own(who: Principal, kind: str, subject: str) -> bool:
    if kind == "learner":
        return subject == str(who.user_id)
    return Role.sme_partner in who.roles and who.scope.whole_site(subject) and not who.scope.everything


def record(db: Session, who: Principal, route: str, path: str, params: dict) -> AccessLogEntry | None:
    """Log ``who``'s read of ``route`` (with its path ``params``) unless it is their own data."""
    kind, param = LOGGED[route]
    subject = str(params.get(param, ""))
    if param == "challenge_id":
        subject = db.scalar(select(Site.slug).join(Challenge, Challenge.site_id == Site.id)
                            .where(Challenge.id == int(subject))) or ""
    if not subject or _own(who, kind, subject):
        return None
    row = AccessLogEntry(reader_id=who.user_id, reader_email=who.email,
                         reader_roles=sorted(r.value for r in who.roles), subject_kind=kind, subject=subject,
                         route=route, path=path[:400])
    db.add(row)
    db.commit()
    return row


class AccessLogMiddleware:
    """ASGI middleware: after a 200 answer to a logged ``GET``, record the read (see the module docstring)."""

    def __init__(self, app, sessions) -> None:
        self.app, self.sessions = app, sessions

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def sending(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                route = getattr(scope.get("route"), "path", None)
                who = (scope.get("state") or {}).get("principal")
                if route in LOGGED and who is not None:
                    await anyio.to_thread.run_sync(self._record, who, route, scope["path"],
                                                   dict(scope.get("path_params") or {}))
            await send(message)

        await self.app(scope, receive, sending)

    def _record(self, who, route, path, params) -> None:
        try:
            with self.sessions() as db:
                record(db, who, route, path, params)
        except Exception:  # the read was answered; a failed log entry is reported, not turned into an error
            log.exception("access log: could not record %s by %s", path, who.email)
