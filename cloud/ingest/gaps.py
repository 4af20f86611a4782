"""Sequence-gap detection per (edge, boot).

Every record an edge sends carries ``seq``, counting up from 1 within one
``boot``. The hub remembers, per (edge, boot), the highest ``seq`` seen and
the ranges still missing below it. A jump opens a gap; a late arrival (QoS 1
redelivery, reordering after a reconnect) that lands inside an open range
fills it, and when a range is empty the open-gap count drops again.

Memory is bounded twice: at most ``max_ranges`` open ranges per boot (the
oldest are given up and counted as ``abandoned``) and at most ``max_streams``
(edge, boot) pairs (the least recently active are forgotten).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gap:
    """A run of missing sequence numbers ``first..last`` (inclusive) of one (edge, boot)."""

    edge: str
    boot: str
    first: int
    last: int

    @property
    def size(self) -> int:
        """How many sequence numbers are missing."""
        return self.last - self.first + 1


@dataclass
class _Stream:
    high: int
    starts: list[int] = field(default_factory=list)  # open ranges, sorted by start, disjoint
    ends: list[int] = field(default_factory=list)


class SequenceTracker:
    """Track the highest ``seq`` per (edge, boot) and the ranges still missing.

    Parameters
    ----------
    max_streams : int
        (edge, boot) pairs remembered; the least recently active beyond this are dropped.
    max_ranges : int
        Open gap ranges kept per (edge, boot); the oldest beyond this are abandoned.

    Examples
    --------
    >>> t = SequenceTracker()
    >>> [t.observe("e1", "b1", s) for s in (1, 2, 5)]
    ['new', 'next', 'gap']
    >>> t.open_gaps, t.missing, t.last_gap
    (1, 2, Gap(edge='e1', boot='b1', first=3, last=4))
    >>> t.observe("e1", "b1", 3), t.open_gaps, t.missing
    ('filled', 1, 1)
    >>> t.observe("e1", "b1", 4), t.open_gaps, t.missing, t.gaps_total
    ('filled', 0, 0, 1)
    >>> t.observe("e1", "b1", 4)
    'old'
    """

    def __init__(self, max_streams: int = 10_000, max_ranges: int = 256) -> None:
        self.max_streams = max_streams
        self.max_ranges = max_ranges
        self._streams: OrderedDict[tuple[str, str], _Stream] = OrderedDict()
        self._lock = threading.Lock()
        self.gaps_total = 0  #: gaps ever opened
        self.missing_total = 0  #: sequence numbers ever found missing
        self.filled_total = 0  #: sequence numbers that arrived late into an open gap
        self.abandoned = 0  #: sequence numbers given up on to bound memory
        self.open_gaps = 0  #: ranges currently open, over all streams
        self.missing = 0  #: sequence numbers currently missing, over all streams
        self.last_gap: Gap | None = None

    def observe(self, edge: str, boot: str, seq: int) -> str:
        """Record one arrival; return ``"new"``, ``"next"``, ``"gap"``, ``"filled"`` or ``"old"``."""
        with self._lock:
            key = (edge, boot)
            st = self._streams.get(key)
            if st is None:
                # the first message seen of a boot is the baseline: the hub may have started mid-stream
                self._streams[key] = _Stream(high=seq)
                self._evict()
                return "new"
            self._streams.move_to_end(key)
            if seq == st.high + 1:
                st.high = seq
                return "next"
            if seq > st.high:
                gap = Gap(edge, boot, st.high + 1, seq - 1)
                st.starts.append(gap.first)
                st.ends.append(gap.last)
                st.high = seq
                self.gaps_total += 1
                self.open_gaps += 1
                self.missing_total += gap.size
                self.missing += gap.size
                self.last_gap = gap
                while len(st.starts) > self.max_ranges:
                    self._drop_range(st, 0)
                return "gap"
            return "filled" if self._fill(st, seq) else "old"

    def _fill(self, st: _Stream, seq: int) -> bool:
        i = bisect.bisect_right(st.starts, seq) - 1
        if i < 0 or seq > st.ends[i]:
            return False
        lo, hi = st.starts[i], st.ends[i]
        self.missing -= 1
        self.filled_total += 1
        if lo == hi:
            del st.starts[i], st.ends[i]
            self.open_gaps -= 1
        elif seq == lo:
            st.starts[i] = lo + 1
        elif seq == hi:
            st.ends[i] = hi - 1
        else:  # split one range in two
            st.ends[i] = seq - 1
            st.starts.insert(i + 1, seq + 1)
            st.ends.insert(i + 1, hi)
            self.open_gaps += 1
            while len(st.starts) > self.max_ranges:
                self._drop_range(st, 0)
        return True

    def _drop_range(self, st: _Stream, i: int) -> None:
        size = st.ends[i] - st.starts[i] + 1
        del st.starts[i], st.ends[i]
        self.open_gaps -= 1
        self.missing -= size
        self.abandoned += size

    def _evict(self) -> None:
        while len(self._streams) > self.max_streams:
            _, st = self._streams.popitem(last=False)
            while st.starts:
                self._drop_range(st, 0)

    def resume(self, edge: str, boot: str, high: int) -> None:
        """Take ``high`` as the highest ``seq`` already stored of (edge, boot), e.g. after a hub restart.

        The next arrival above ``high + 1`` then opens a gap instead of being
        the new baseline; ranges that were missing before the restart are not
        known any more (they were reported then).

        Examples
        --------
        >>> t = SequenceTracker()
        >>> t.resume("e1", "b1", 10)
        >>> t.observe("e1", "b1", 11), t.observe("e1", "b1", 15), t.missing
        ('next', 'gap', 3)
        """
        with self._lock:
            st = self._streams.get((edge, boot))
            if st is None:
                self._streams[(edge, boot)] = _Stream(high=high)
                self._evict()
            elif high > st.high:
                st.high = high

    def open(self, edge: str, boot: str) -> list[Gap]:
        """The ranges still missing for one (edge, boot)."""
        with self._lock:
            st = self._streams.get((edge, boot))
            return [] if st is None else [Gap(edge, boot, a, b) for a, b in zip(st.starts, st.ends)]

    def stats(self) -> dict:
        """Counters and the last gap, JSON-ready."""
        with self._lock:
            last = self.last_gap
            return {"streams": len(self._streams), "gaps_total": self.gaps_total, "open_gaps": self.open_gaps,
                    "missing": self.missing, "missing_total": self.missing_total, "filled_total": self.filled_total,
                    "abandoned": self.abandoned,
                    "last_gap": None if last is None else {"edge": last.edge, "boot": last.boot,
                                                           "from": last.first, "to": last.last}}
