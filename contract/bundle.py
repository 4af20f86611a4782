"""Bundles: many asset messages of one edge in one MQTT message (contract v1).

An edge that comes back from a long outage has thousands of small records
to send. Sent one MQTT message each, the drain is bounded by per-message
costs (one PUBLISH, one PUBACK, one broker routing step, one hub
acknowledgement each), not by bytes. Under MQTT 5 the edge therefore packs
up to :data:`MAX_MESSAGES` waiting asset records into one message on
``tf/v1/{site}/{edge}/bundle``; the hub expands it into the messages it
holds and validates, de-duplicates and stores each of them exactly as if it
had arrived alone. Every inner message keeps its own payload bytes, so its
``(boot, seq)`` and digest are those of the record in the edge's outbox.

Format (all integers big-endian)::

    b"TFB1"                          magic and format version
    then, per message:
      u8   asset length (1..64)      the asset segment of its topic, UTF-8
      ...  asset
      u8   kind                      index into contract.topics.ASSET_KINDS
      u32  payload length
      ...  payload                   the message's JSON, as it would be sent alone

A bundle carries only asset messages (``features``, ``alert``, ``drift``,
``waveform``) of the edge named by its topic; edge-level state stays on its
own retained topics. A bundle is at most ``MAX_PAYLOAD_BYTES`` long, like
any message. Binary, not JSON: the payloads are already JSON bytes,
and re-quoting them inside JSON would cost a parse and an escape per byte.

Examples
--------
>>> raw = pack([("pump-1", "features", b'{"seq":1}'), ("pump-2", "alert", b'{"seq":2}')])
>>> raw[:4], len(unpack(raw))
(b'TFB1', 2)
>>> expand("tf/v1/lab/edge-1/bundle", raw)[1]
('tf/v1/lab/edge-1/pump-2/alert', b'{"seq":2}')
"""

from __future__ import annotations

import struct

from contract.bounds import SEGMENT
from contract.payloads import MAX_PAYLOAD_BYTES
from contract.topics import ASSET_KINDS, BUNDLE_KIND, asset_topic, parse_topic

MAGIC = b"TFB1"
#: At most this many messages in one bundle.
MAX_MESSAGES = 1000
_HEAD = struct.Struct(">BI")  # kind, payload length (after the asset)


def pack(messages: list[tuple[str, str, bytes]]) -> bytes:
    """Pack ``(asset, kind, payload)`` triples into one bundle; ``ValueError`` names a bad one."""
    if not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValueError(f"a bundle holds 1..{MAX_MESSAGES} messages, got {len(messages)}")
    parts = [MAGIC]
    for asset, kind, payload in messages:
        if kind not in ASSET_KINDS:
            raise ValueError(f"bundle: kind {kind!r} is not one of {ASSET_KINDS}")
        if not SEGMENT.match(asset):
            raise ValueError(f"bundle: asset {asset!r} is not a topic segment")
        name = asset.encode()
        parts += [bytes((len(name),)), name, _HEAD.pack(ASSET_KINDS.index(kind), len(payload)), payload]
    return b"".join(parts)


def unpack(raw: bytes) -> list[tuple[str, str, bytes]]:
    """The ``(asset, kind, payload)`` triples of a bundle; ``ValueError`` says where it is malformed.

    Examples
    --------
    >>> unpack(b"TFB1\\x01p\\x09\\x00\\x00\\x00\\x00")
    Traceback (most recent call last):
    ...
    ValueError: bundle message 1 (at byte 4): kind index 9 is not one of 0..3
    """
    raw = bytes(raw)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"bundle of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if raw[:4] != MAGIC:
        raise ValueError(f"bundle does not start with {MAGIC!r} (got {raw[:4]!r})")
    out: list[tuple[str, str, bytes]] = []
    pos, end = 4, len(raw)
    while pos < end:
        where = f"bundle message {len(out) + 1} (at byte {pos})"
        if len(out) == MAX_MESSAGES:
            raise ValueError(f"{where}: a bundle holds at most {MAX_MESSAGES} messages")
        size = raw[pos]
        if pos + 1 + size + _HEAD.size > end:
            raise ValueError(f"{where}: truncated header")
        try:
            asset = raw[pos + 1:pos + 1 + size].decode()
        except UnicodeDecodeError:
            raise ValueError(f"{where}: asset is not UTF-8") from None
        if not SEGMENT.match(asset):
            raise ValueError(f"{where}: asset {asset[:80]!r} must be 1-64 characters of letters, digits, "
                             "'.', '_' or '-'")
        kind, length = _HEAD.unpack_from(raw, pos + 1 + size)
        if kind >= len(ASSET_KINDS):
            raise ValueError(f"{where}: kind index {kind} is not one of 0..{len(ASSET_KINDS) - 1}")
        start = pos + 1 + size + _HEAD.size
        if start + length > end:
            raise ValueError(f"{where}: payload of {length} bytes runs past the bundle's {end} bytes")
        out.append((asset, ASSET_KINDS[kind], raw[start:start + length]))
        pos = start + length
    if not out:
        raise ValueError("bundle holds no message")
    return out


def expand(topic: str, raw: bytes) -> list[tuple[str, bytes]]:
    """The ``(topic, payload)`` of every message in the bundle received on ``topic``.

    Each inner topic is the asset topic of the bundle's own site and edge, so
    a bundle cannot speak for another edge than the one its topic (and the
    broker's ACL) names. ``ValueError`` if the topic is not a bundle topic or
    the bundle is malformed.
    """
    route = parse_topic(topic)
    if route.kind != BUNDLE_KIND:
        raise ValueError(f"topic {topic!r} is not a bundle topic")
    return [(asset_topic(route.site, route.edge, asset, kind), payload) for asset, kind, payload in unpack(raw)]
