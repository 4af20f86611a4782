"""Fan-out of ingested events to live browser streams."""

from __future__ import annotations

import asyncio
import json
import logging

log = logging.getLogger(__name__)


class LiveEvent(dict):
    """An event as it goes to the streams: a dict that encodes its server-sent-events frame once.

    However many browsers watch, each event is turned into JSON once, by
    the first stream that sends it.

    Examples
    --------
    >>> LiveEvent({"type": "alert", "site": "lab"}).frame()
    'event: alert\\ndata: {"type": "alert", "site": "lab"}\\n\\n'
    """

    __slots__ = ("_frame",)

    def frame(self) -> str:
        """``event: <type>`` and ``data: <JSON>`` lines and the blank line that ends them."""
        try:
            return self._frame
        except AttributeError:
            self._frame = f"event: {self['type']}\ndata: {json.dumps(self)}\n\n"
            return self._frame


class Broadcaster:
    """Deliver events from the ingest thread to every subscribed stream.

    Each subscriber gets a bounded queue; a browser that stops reading loses
    its oldest events rather than growing the hub's memory.

    Examples
    --------
    >>> import asyncio
    >>> async def main():
    ...     b = Broadcaster()
    ...     b.bind(asyncio.get_running_loop())
    ...     q = b.subscribe()
    ...     b.publish({"type": "alert"})
    ...     return await asyncio.wait_for(q.get(), 1)
    >>> asyncio.run(main())
    {'type': 'alert'}

    Subscribers receive each event as a :class:`LiveEvent`, shared between
    them: read it, do not change it.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._queues: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop the streams run on."""
        self._loop = loop

    def subscribe(self) -> asyncio.Queue:
        """A new queue receiving every event from now on."""
        q: asyncio.Queue = asyncio.Queue(self._maxsize)
        self._queues.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        """Stop delivering to ``q``."""
        self._queues.discard(q)

    @property
    def subscribers(self) -> int:
        """How many streams are subscribed now."""
        return len(self._queues)

    @property
    def listening(self) -> bool:
        """Whether any stream is subscribed (the ingest skips building events nobody reads)."""
        return bool(self._queues)

    def publish_many(self, events: list[dict]) -> None:
        """Deliver several events with one hand-over to the event loop; safe to call from any thread."""
        if not events or self._loop is None or self._loop.is_closed():
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver_many, events)
        except RuntimeError:  # loop closed while shutting down
            pass

    def _deliver_many(self, events: list[dict]) -> None:
        for event in events:
            self._deliver(event)

    def publish(self, event: dict) -> None:
        """Deliver ``event``; safe to call from any thread."""
        if self._loop is None or self._loop.is_closed():
            return
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._deliver(event)
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # loop closed while shutting down
            pass

    def _deliver(self, event: dict) -> None:
        event = event if isinstance(event, LiveEvent) else LiveEvent(event)
        for q in list(self._queues):
            if q.full():
                q.get_nowait()
            q.put_nowait(event)
