"""Bounds and patterns every side of the MQTT contract checks the same way.

A value that crosses the wire is checked against these on both sides: the
edge refuses to build a topic it would not accept, the hub refuses a
payload the edge should not have sent, and adapters that read timestamps
from third-party devices reject the same implausible clocks.

Examples
--------
>>> in_time_bounds(1_700_000_000_000_000_000), in_time_bounds(1_700_000_000)
(True, False)
>>> SEGMENT.match("pump-1") is not None, SEGMENT.match("a/b") is not None
(True, False)
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

#: 2000-01-01T00:00:00Z in UTC epoch nanoseconds: a time sent in seconds or
#: milliseconds by mistake falls below and is refused instead of landing in 1970.
MIN_TS_NS = 946_684_800 * 10**9
#: 2100-01-01T00:00:00Z in UTC epoch nanoseconds.
MAX_TS_NS = 4_102_444_800 * 10**9

#: One topic level naming a site, an edge or an asset: no ``/``, ``+`` or ``#``.
SEGMENT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
SEGMENT = re.compile(SEGMENT_PATTERN)
#: A registry name (site slug, asset, sensor channel, scenario id): a segment that starts alphanumeric.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: Identifiers inside payloads (bundle ids, key ids): a segment that may also hold ``:``.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

TimestampNs = Annotated[int, Field(ge=MIN_TS_NS, le=MAX_TS_NS, description="UTC epoch nanoseconds")]
Segment = Annotated[str, Field(pattern=SEGMENT_PATTERN)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]


def in_time_bounds(ts_ns: int) -> bool:
    """Whether ``ts_ns`` (UTC epoch ns) lies between 2000-01-01 and 2100-01-01."""
    return MIN_TS_NS <= ts_ns <= MAX_TS_NS


def check_segment(value: str, what: str) -> str:
    """Return ``value`` if it is a valid topic segment, else raise ``ValueError`` naming ``what``.

    Examples
    --------
    >>> check_segment("pump-1", "asset")
    'pump-1'
    >>> check_segment("pump/1", "asset")
    Traceback (most recent call last):
    ...
    ValueError: asset 'pump/1' must be 1-64 characters of letters, digits, '.', '_' or '-'
    """
    if not isinstance(value, str) or not SEGMENT.match(value):
        raise ValueError(f"{what} {value!r} must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return value
