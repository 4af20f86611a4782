"""MQTT contract v1 as the edge writes it (see DESIGN.md, "MQTT contract").

Topics are ``tf/v1/{site}/{edge}/{asset}/{kind}``,
``tf/v1/{site}/{edge}/status`` (retained, last will ``offline``),
``tf/v1/{site}/{edge}/birth`` (retained: version, assets, pipelines),
``tf/v1/{site}/{edge}/cmd/{name}`` (commands down) and
``tf/v1/{site}/{edge}/cmd_result`` (their outcome); payloads are JSON objects carrying the
schema version ``v``, the edge's ``boot`` id and a per-edge increasing
``seq``. Timestamps are UTC epoch nanoseconds.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid

SCHEMA_VERSION = 1
ASSET_KINDS = ("features", "alert", "drift", "waveform")
COMMAND_NAMES = ("config", "deploy", "snapshot")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_segment(value: str, what: str) -> str:
    """Return ``value`` if it is a valid topic segment, else raise ``ValueError``.

    Examples
    --------
    >>> check_segment("pump-1", "asset")
    'pump-1'
    """
    if not _SEGMENT.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )
    return value


def asset_topic(site: str, edge: str, asset: str, kind: str) -> str:
    """Topic for one kind of asset message.

    Examples
    --------
    >>> asset_topic("lab1", "edge-1", "pump-1", "features")
    'tf/v1/lab1/edge-1/pump-1/features'
    """
    if kind not in ASSET_KINDS:
        raise ValueError(f"kind {kind!r} not one of {ASSET_KINDS}")
    return f"tf/v1/{site}/{edge}/{asset}/{kind}"


def status_topic(site: str, edge: str) -> str:
    """Retained status topic of an edge."""
    return f"tf/v1/{site}/{edge}/status"


def birth_topic(site: str, edge: str) -> str:
    """Retained birth topic: what the edge runs (version, pipelines, lineage)."""
    return f"tf/v1/{site}/{edge}/birth"


def health_topic(site: str, edge: str) -> str:
    """Retained health topic: sources, pipelines, outbox and process figures, refreshed periodically."""
    return f"tf/v1/{site}/{edge}/health"


def command_topic(site: str, edge: str, name: str) -> str:
    """Topic the hub publishes command ``name`` to.

    Examples
    --------
    >>> command_topic("lab1", "edge-1", "deploy")
    'tf/v1/lab1/edge-1/cmd/deploy'
    """
    if name not in COMMAND_NAMES:
        raise ValueError(f"command {name!r} not one of {COMMAND_NAMES}")
    return f"tf/v1/{site}/{edge}/cmd/{name}"


def command_filter(site: str, edge: str) -> str:
    """Subscription filter for every command to one edge."""
    return f"tf/v1/{site}/{edge}/cmd/#"


def command_result_topic(site: str, edge: str) -> str:
    """Topic an edge publishes command results (accepted / rejected) to."""
    return f"tf/v1/{site}/{edge}/cmd_result"


class Envelope:
    """Stamps payloads with ``v``, ``edge``, ``boot`` and a per-edge ``seq``.

    Examples
    --------
    >>> env = Envelope("edge-1", boot="b1")
    >>> env.wrap({"x": 1})["seq"], env.wrap({"x": 2})["seq"]
    (1, 2)
    """

    def __init__(self, edge: str, boot: str | None = None) -> None:
        self.edge = edge
        self.boot = boot or uuid.uuid4().hex
        self._seq = itertools.count(1)

    def wrap(self, body: dict) -> dict:
        """Return ``body`` with the envelope fields added."""
        return {"v": SCHEMA_VERSION, "edge": self.edge, "boot": self.boot, "seq": next(self._seq), **body}


def now_ns() -> int:
    """UTC epoch nanoseconds from the edge clock."""
    return time.time_ns()
