"""What the hub's other parts tell onboarding, and what onboarding tells ingest.

- :func:`watch_first_data` reads the telemetry store's assets and stamps a
  site's ``first_data`` with the time telemetry of it first arrived.
- :class:`RegisteredEdges` answers ingest's admission question (defence in
  depth behind the broker's ACL): a message whose topic names an edge not
  registered at that site, nor the edge of one of the hub's lab sessions,
  is quarantined with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from sqlalchemy import select

from cloud.challenges.models import LabSession
from cloud.onboarding import records
from cloud.sites.models import Edge, Site

log = logging.getLogger(__name__)


async def watch_first_data(store, sessions, every_s: float = 2.0) -> None:
    """Stamp ``first_data`` of each registered site when the store first holds telemetry of it (until cancelled).

    Reads the store's asset list (each with the time its first data
    arrived, ``first_seen_ns``) every ``every_s`` seconds instead of
    following the live fan-out, so ingest keeps skipping live events while
    no browser listens; the step carries the time the data arrived.
    """
    stamped: set[str] = set()
    while True:
        try:
            seen = await asyncio.to_thread(store.assets)
            first: dict[str, dict] = {}
            for row in seen:
                if row["site"] not in stamped and (row["site"] not in first
                                                   or row["first_seen_ns"] < first[row["site"]]["first_seen_ns"]):
                    first[row["site"]] = row
            for site, row in first.items():
                if await asyncio.to_thread(_stamp, sessions, site, row.get("edge") or "", row["first_seen_ns"]):
                    stamped.add(site)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; ingest is not affected
            log.exception("onboarding: could not stamp first data")
        await asyncio.sleep(every_s)


def _stamp(sessions, site: str, edge: str, at_ns: int) -> bool:
    """Stamp the site's first data; ``True`` once it is stamped (now or before) or the site is not ours."""
    with sessions() as db:
        outcome = records.first_data(db, site, edge, datetime.fromtimestamp(at_ns / 1e9, timezone.utc))
    if outcome == "stamped":
        log.info("onboarding: first data from site %s (edge %s)", site, edge)
    return outcome != "unregistered"


class RegisteredEdges:
    """Which (site, edge) pairs are registered (or lab sessions' edges), cached; an unknown pair re-reads them.

    A pair not in the cache makes the registry be read again, so an edge
    registered a moment ago (a kit just issued, by this replica or another)
    is admitted from its first message. The same unknown pair causes at most
    one read per ``refresh_s``, and all of them together at most
    ``reads_per_s`` (a budget of as many reads, refilled continuously): a
    flood of messages from made-up edges costs the database little, and
    those messages are quarantined.

    Parameters
    ----------
    sessions : sessionmaker
        The domain's sessions.
    refresh_s : float
        Least time between two reads caused by the same unknown pair.
    reads_per_s : float
        Most reads per second caused by unknown pairs, and the burst allowed.
    """

    #: Unknown pairs remembered (all are forgotten beyond this).
    MAX_TRIED = 10_000

    def __init__(self, sessions, refresh_s: float = 2.0, reads_per_s: float = 20.0) -> None:
        self.sessions, self.refresh_s, self.reads_per_s = sessions, refresh_s, reads_per_s
        self._known: frozenset[tuple[str, str]] = frozenset()
        self._tried: dict[tuple[str, str], float] = {}
        self._budget, self._budget_at = reads_per_s, time.monotonic()
        self.reads = 0

    def _reload(self) -> None:
        with self.sessions() as db:
            rows = db.execute(select(Site.slug, Edge.edge_id).join(Edge, Edge.site_id == Site.id)).all()
            # a lab session's edge publishes under the session's own site and edge (cloud.challenges.sessions)
            rows += db.execute(select(LabSession.site, LabSession.edge).where(LabSession.kind == "lab")).all()
            self._known = frozenset((s, e) for s, e in rows)
        self.reads += 1

    def _may_read(self, pair: tuple[str, str], now: float) -> bool:
        self._budget = min(self.reads_per_s, self._budget + (now - self._budget_at) * self.reads_per_s)
        self._budget_at = now
        if now - self._tried.get(pair, float("-inf")) < self.refresh_s or self._budget < 1:
            return False
        if len(self._tried) >= self.MAX_TRIED:
            self._tried.clear()
        self._tried[pair], self._budget = now, self._budget - 1
        return True

    def refusal(self, site: str, edge: str) -> str | None:
        """``None`` when ``edge`` is registered at ``site``; else the quarantine reason."""
        pair = (site, edge)
        if pair in self._known:
            return None
        if self._may_read(pair, time.monotonic()):
            self._reload()
            if pair in self._known:
                return None
        return f"edge {edge!r} is not registered at site {site!r} (register it, or issue it a kit)"
