"""Topics of MQTT contract v1 (DESIGN.md, "MQTT contract").

Up from an edge:

- ``tf/v1/{site}/{edge}/{asset}/{kind}``, ``kind`` in :data:`ASSET_KINDS`;
- ``tf/v1/{site}/{edge}/{kind}``, ``kind`` in :data:`EDGE_KINDS`: ``status``
  (retained, last will ``offline``), ``birth`` (retained: version, assets,
  pipelines), ``health`` (retained, refreshed) and ``cmd_result`` (the
  outcome of a command);
- ``tf/v1/{site}/{edge}/bundle``: many asset messages of that edge in one
  MQTT message (MQTT 5 edges draining a backlog; see :mod:`contract.bundle`).

Down from the hub: ``tf/v1/{site}/{edge}/cmd/{name}``, ``name`` in
:data:`COMMAND_NAMES`.

Examples
--------
>>> asset_topic("lab1", "edge-1", "pump-1", "features")
'tf/v1/lab1/edge-1/pump-1/features'
>>> parse_topic("tf/v1/lab1/edge-1/status")
Route(kind='status', site='lab1', edge='edge-1', asset=None)
"""

from __future__ import annotations

from typing import NamedTuple

from contract.bounds import SEGMENT, check_segment

PREFIX = "tf/v1"
ASSET_KINDS = ("features", "alert", "drift", "waveform")
EDGE_KINDS = ("status", "birth", "health", "cmd_result")
COMMAND_NAMES = ("config", "deploy", "snapshot")
#: Topic kind of a bundle of asset messages (:mod:`contract.bundle`).
BUNDLE_KIND = "bundle"


class Route(NamedTuple):
    """Where a message came from: its kind, site, edge and (for asset kinds) asset."""

    kind: str
    site: str
    edge: str
    asset: str | None


def asset_topic(site: str, edge: str, asset: str, kind: str) -> str:
    """Topic for one kind of asset message."""
    if kind not in ASSET_KINDS:
        raise ValueError(f"kind {kind!r} not one of {ASSET_KINDS}")
    return f"{_edge_prefix(site, edge)}/{check_segment(asset, 'asset')}/{kind}"


def edge_topic(site: str, edge: str, kind: str) -> str:
    """Topic of an edge-level message (``status``, ``birth``, ``health``, ``cmd_result``).

    Examples
    --------
    >>> edge_topic("lab1", "edge-1", "birth")
    'tf/v1/lab1/edge-1/birth'
    """
    if kind not in EDGE_KINDS:
        raise ValueError(f"kind {kind!r} not one of {EDGE_KINDS}")
    return f"{_edge_prefix(site, edge)}/{kind}"


def status_topic(site: str, edge: str) -> str:
    """Retained status topic of an edge (online / offline, the last will)."""
    return edge_topic(site, edge, "status")


def birth_topic(site: str, edge: str) -> str:
    """Retained birth topic: what the edge runs (version, pipelines, lineage)."""
    return edge_topic(site, edge, "birth")


def health_topic(site: str, edge: str) -> str:
    """Retained health topic: sources, pipelines, outbox and process figures, refreshed periodically."""
    return edge_topic(site, edge, "health")


def command_result_topic(site: str, edge: str) -> str:
    """Topic an edge publishes command results (accepted / rejected) to."""
    return edge_topic(site, edge, "cmd_result")


def bundle_topic(site: str, edge: str) -> str:
    """Topic an edge publishes bundles of its asset messages to.

    Examples
    --------
    >>> bundle_topic("lab1", "edge-1")
    'tf/v1/lab1/edge-1/bundle'
    """
    return f"{_edge_prefix(site, edge)}/{BUNDLE_KIND}"


def command_topic(site: str, edge: str, name: str) -> str:
    """Topic the hub publishes command ``name`` to.

    Examples
    --------
    >>> command_topic("lab1", "edge-1", "deploy")
    'tf/v1/lab1/edge-1/cmd/deploy'
    """
    if name not in COMMAND_NAMES:
        raise ValueError(f"command {name!r} not one of {COMMAND_NAMES}")
    return f"{_edge_prefix(site, edge)}/cmd/{name}"


def command_filter(site: str, edge: str) -> str:
    """Subscription filter for every command to one edge."""
    return f"{_edge_prefix(site, edge)}/cmd/#"


def ingest_filters() -> tuple[str, ...]:
    """The subscription filters a hub ingests with: every asset and edge kind of every edge, and bundles.

    Examples
    --------
    >>> ingest_filters()[0], ingest_filters()[-1], len(ingest_filters())
    ('tf/v1/+/+/+/features', 'tf/v1/+/+/bundle', 9)
    """
    return (tuple(f"{PREFIX}/+/+/+/{k}" for k in ASSET_KINDS) + tuple(f"{PREFIX}/+/+/{k}" for k in EDGE_KINDS)
            + (f"{PREFIX}/+/+/{BUNDLE_KIND}",))


def parse_topic(topic: str) -> Route:
    """Split an edge-to-hub topic into its :class:`Route`; ``ValueError`` names what is wrong.

    Examples
    --------
    >>> parse_topic("tf/v1/lab1/edge-1/pump-1/alert").asset
    'pump-1'
    >>> parse_topic("tf/v1/lab1/edge-1/pump-1/bogus")
    Traceback (most recent call last):
    ...
    ValueError: topic 'tf/v1/lab1/edge-1/pump-1/bogus' is not tf/v1/<site>/<edge>/<asset>/(features|alert|drift|waveform) or tf/v1/<site>/<edge>/(status|birth|health|cmd_result|bundle)
    """
    parts = topic.split("/")
    if len(parts) == 5 and parts[:2] == ["tf", "v1"] and (parts[4] in EDGE_KINDS or parts[4] == BUNDLE_KIND):
        route = Route(parts[4], parts[2], parts[3], None)
    elif len(parts) == 6 and parts[:2] == ["tf", "v1"] and parts[5] in ASSET_KINDS:
        route = Route(parts[5], parts[2], parts[3], parts[4])
    else:
        raise ValueError(f"topic {topic!r} is not {PREFIX}/<site>/<edge>/<asset>/({'|'.join(ASSET_KINDS)}) "
                         f"or {PREFIX}/<site>/<edge>/({'|'.join(EDGE_KINDS + (BUNDLE_KIND,))})")
    for what, seg in (("site", route.site), ("edge", route.edge), ("asset", route.asset)):
        if seg is not None and not SEGMENT.match(seg):
            raise ValueError(f"topic {topic!r}: {what} segment {seg!r} must be 1-64 characters of letters, "
                             f"digits, '.', '_' or '-'")
    return route


def _edge_prefix(site: str, edge: str) -> str:
    return f"{PREFIX}/{check_segment(site, 'site')}/{check_segment(edge, 'edge')}"
