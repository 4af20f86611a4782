"""Commands from the hub: verify, validate, dispatch, answer.

The hub publishes signed bundles (:mod:`contract.signing`) on
``tf/v1/{site}/{edge}/cmd/{name}`` with ``name`` in ``config``, ``deploy``,
``snapshot``. :class:`CommandRouter` checks, in this order: the topic, the
size, JSON (at most :data:`MAX_DEPTH` levels deep), the signature and
expiry, the payload schema, that the payload names this command, this site
and this edge, and that it is no replay (a ``bundle_id``
already handled, or a config/deploy older than the one applied). Only then
does it call the handler the agent registered. Whatever happens, it returns
a result ``{cmd, bundle_id, status: accepted|rejected, reason, detail, ts}``
that the publisher sends on ``tf/v1/{site}/{edge}/cmd_result``; it never
raises, and counts every rejection by reason.

Replay protection only holds if it outlives the process: the agent keeps
it in ``commands.json`` in its state directory (:func:`default_state_dir`
when none is configured), written before a command is answered, so a
restarted edge still refuses a bundle it applied and an older one
(a rollback).

Handlers are called from the MQTT network thread: they should validate and
hand the work over (e.g. ``loop.call_soon_threadsafe``) rather than block.
A handler rejects a command by raising ``ValueError("reason")``; it may
return a dict, sent back as ``detail``.

Examples
--------
>>> from contract.signing import generate_keypair, sign_bundle
>>> private, public = generate_keypair()
>>> deployed = []
>>> router = CommandRouter("lab", "edge-1", {"hub": public}, on_deploy=deployed.append)
>>> doc = {"cmd": "deploy", "bundle_id": "d-1", "site": "lab", "edge": "edge-1", "created_ns": 1_700_000_000_000_000_000,
...        "asset": "pump-1", "pipeline": {"threshold": 8}}
>>> bundle = sign_bundle(doc, private, "hub")
>>> router.handle("tf/v1/lab/edge-1/cmd/deploy", json.dumps(bundle).encode())["status"]
'accepted'
>>> deployed[0].pipeline
{'threshold': 8}
>>> router.handle("tf/v1/lab/edge-1/cmd/deploy", json.dumps(bundle).encode())["reason"]
"replay: bundle_id 'd-1' was already handled"
>>> router.handle("tf/v1/lab/edge-1/cmd/deploy", b"\\x00garbage")["reason"]
'payload is not JSON: Expecting value: line 1 column 1 (char 0)'
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.commands import (MAX_COMMAND_BYTES, ConfigCommand, DeployCommand, SnapshotCommand, command_result,
                               parse_command)
from contract.payloads import describe_errors, now_ns
from contract.signing import BundleError, verify_bundle
from contract.topics import COMMAND_NAMES

log = logging.getLogger(__name__)

#: Deepest nesting of objects and arrays a command may have (a pipeline needs 5).
MAX_DEPTH = 32


def default_state_dir(site: str, edge: str) -> Path:
    """Where an edge without a configured ``state_dir`` keeps its replay protection.

    ``$XDG_STATE_HOME/teachfab/edges/<site>/<edge>`` (``~/.local/state`` when
    the variable is unset), so a restart does not forget the bundles applied.

    Examples
    --------
    >>> default_state_dir("lab", "edge-1").parts[-4:]
    ('teachfab', 'edges', 'lab', 'edge-1')
    """
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "teachfab" / "edges" / site / edge


def json_depth_exceeds(payload: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests objects/arrays deeper than ``limit`` (brackets inside strings ignored).

    Checked on the bytes, before parsing, so no parser or validator recurses
    into a hostile document.

    Examples
    --------
    >>> json_depth_exceeds(b'[' * 40 + b']' * 40), json_depth_exceeds(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    (True, False)
    """
    depth, in_string, escaped = 0, False, False
    for byte in payload:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


class CommandRouter:
    """Verify and dispatch hub commands to the agent's handlers.

    Parameters
    ----------
    site, edge : str
        This edge's topic segments; commands for others are rejected.
    public_keys : mapping of str to Ed25519PublicKey
        Keys trusted to sign commands, by ``key_id``.
    on_config, on_deploy, on_snapshot : callable, optional
        ``handler(command) -> dict | None``; raise ``ValueError`` to reject.
        A command without a handler is rejected.
    allow_unsigned : tuple of str
        Command names accepted without a signature (default none; e.g.
        ``("snapshot",)`` on a closed lab network).
    state_path : str or Path, optional
        JSON file keeping replay protection across restarts (the agent
        always gives one; without it the history lives in memory only).
    max_seen : int
        How many handled ``bundle_id`` values are remembered.
    """

    def __init__(self, site: str, edge: str, public_keys: Mapping[str, Any], *,
                 on_config: Callable[[ConfigCommand], dict | None] | None = None,
                 on_deploy: Callable[[DeployCommand], dict | None] | None = None,
                 on_snapshot: Callable[[SnapshotCommand], dict | None] | None = None,
                 allow_unsigned: tuple[str, ...] = (), state_path: str | Path | None = None,
                 max_seen: int = 1024) -> None:
        unknown = set(allow_unsigned) - set(COMMAND_NAMES)
        if unknown:
            raise ValueError(f"allow_unsigned names unknown command(s) {sorted(unknown)}; known: {COMMAND_NAMES}")
        self.site, self.edge = site, edge
        self.public_keys = dict(public_keys)
        self.handlers = {"config": on_config, "deploy": on_deploy, "snapshot": on_snapshot}
        self.allow_unsigned = tuple(allow_unsigned)
        self.state_path = Path(state_path) if state_path else None
        self.max_seen = max_seen
        self.received = self.accepted = self.rejected = 0
        self.rejected_by: Counter[str] = Counter()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._applied: dict[str, int] = {}  # "config" / "deploy:<asset>" -> created_ns applied
        self._load_state()

    @property
    def names(self) -> list[str]:
        """Commands this edge has handlers for."""
        return [n for n, h in self.handlers.items() if h is not None]

    def stats(self) -> dict:
        """Counters: received, accepted, rejected (and by reason category)."""
        return {"received": self.received, "accepted": self.accepted, "rejected": self.rejected,
                "rejected_by": dict(self.rejected_by)}

    def handle(self, topic: str, payload: bytes) -> dict:
        """Check and dispatch one command message; return its result (never raises)."""
        try:
            return self._handle(topic, payload)
        except Exception as exc:  # the last guard: an unforeseen input is refused, never left unanswered
            log.exception("command on %s: unexpected failure", topic)
            self.rejected += 1
            self.rejected_by["internal"] += 1
            return _result(topic.rsplit("/", 1)[-1], None, "rejected", f"internal error: {type(exc).__name__}")

    def _handle(self, topic: str, payload: bytes) -> dict:
        self.received += 1
        name = topic.rsplit("/", 1)[-1]
        bundle_id = None
        try:
            name, bundle_id, cmd = self._check(topic, payload)
            handler = self.handlers.get(cmd.cmd)
            if handler is None:
                raise _Rejected("no_handler", f"this edge does not handle {cmd.cmd!r} commands "
                                              f"(it handles: {', '.join(self.names) or 'none'})")
            try:
                detail = handler(cmd)
            except ValueError as exc:
                raise _Rejected("handler", f"{cmd.cmd} refused by the agent: {exc}") from None
            except Exception as exc:  # a handler bug must not take the MQTT thread down
                log.exception("command %s %s: handler failed", cmd.cmd, cmd.bundle_id)
                raise _Rejected("handler", f"{cmd.cmd} handler failed: {type(exc).__name__}: {exc}") from None
        except _Rejected as exc:
            self.rejected += 1
            self.rejected_by[exc.category] += 1
            log.warning("command on %s rejected: %s", topic, exc.reason)
            return _result(name, exc.bundle_id or bundle_id, "rejected", exc.reason)
        self._remember(cmd)
        self.accepted += 1
        log.info("command %s %s accepted", cmd.cmd, cmd.bundle_id)
        return _result(cmd.cmd, cmd.bundle_id, "accepted", None, detail if isinstance(detail, dict) else None)

    def _check(self, topic: str, payload: bytes) -> tuple[str, str | None, ConfigCommand | DeployCommand | SnapshotCommand]:
        parts = topic.split("/")
        name = parts[-1]
        if parts[:4] != ["tf", "v1", self.site, self.edge] or len(parts) != 6 or parts[4] != "cmd":
            raise _Rejected("topic", f"topic {topic!r} is not tf/v1/{self.site}/{self.edge}/cmd/<name>")
        if name not in COMMAND_NAMES:
            raise _Rejected("topic", f"unknown command {name!r}; expected one of {', '.join(COMMAND_NAMES)}")
        if len(payload) > MAX_COMMAND_BYTES:
            raise _Rejected("too_large", f"payload of {len(payload)} bytes exceeds {MAX_COMMAND_BYTES}")
        if json_depth_exceeds(payload):
            raise _Rejected("too_deep", f"payload nests deeper than {MAX_DEPTH} levels")
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _Rejected("not_json", f"payload is not JSON: {exc}") from None
        inner = doc.get("payload", doc) if isinstance(doc, dict) else None
        bundle_id = inner.get("bundle_id") if isinstance(inner, dict) else None
        bundle_id = bundle_id if isinstance(bundle_id, str) and len(bundle_id) <= 64 else None
        try:
            if name in self.allow_unsigned and isinstance(doc, dict) and "signature" not in doc:
                body = doc
            else:
                try:
                    body = verify_bundle(doc, self.public_keys)
                except BundleError as exc:
                    raise _Rejected("signature", exc.reason) from None
            try:
                cmd = parse_command(body)
            except ValidationError as exc:
                raise _Rejected("schema", f"{name} payload: {describe_errors(exc)}") from None
            if cmd.cmd != name:
                raise _Rejected("schema", f"payload is a {cmd.cmd!r} command but arrived on cmd/{name}")
            if cmd.site != self.site or cmd.edge != self.edge:
                raise _Rejected("edge", f"command is for edge {cmd.site!r}/{cmd.edge!r}, "
                                        f"this is {self.site!r}/{self.edge!r}")
            if cmd.bundle_id in self._seen:
                raise _Rejected("replay", f"replay: bundle_id {cmd.bundle_id!r} was already handled")
            applied = self._applied.get(_scope(cmd))
            if applied is not None and cmd.created_ns < applied:
                raise _Rejected("replay", f"stale: {cmd.cmd} created_ns {cmd.created_ns} is older than the "
                                          f"one applied ({applied}); re-sign it as a new bundle to roll back")
        except _Rejected as exc:
            exc.bundle_id = bundle_id  # best effort, so the hub can correlate even a refusal
            raise
        return name, cmd.bundle_id, cmd

    def _remember(self, cmd) -> None:
        self._seen[cmd.bundle_id] = None
        while len(self._seen) > self.max_seen:
            self._seen.popitem(last=False)
        scope = _scope(cmd)
        if scope is not None:
            self._applied[scope] = max(cmd.created_ns, self._applied.get(scope, 0))
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps({"seen": list(self._seen), "applied": self._applied}))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_path)

    def _load_state(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self._seen = OrderedDict.fromkeys(str(s) for s in state.get("seen", [])[-self.max_seen:])
            self._applied = {str(k): int(v) for k, v in state.get("applied", {}).items()}
        except (ValueError, TypeError, AttributeError) as exc:
            log.error("command state %s unreadable (%s); starting without replay history", self.state_path, exc)


class _Rejected(Exception):
    def __init__(self, category: str, reason: str) -> None:
        super().__init__(reason)
        self.category, self.reason = category, reason
        self.bundle_id: str | None = None


def _scope(cmd) -> str | None:
    """Which applied state a command replaces (snapshots replace nothing)."""
    if isinstance(cmd, DeployCommand):
        return f"deploy:{cmd.asset}"
    return "config" if isinstance(cmd, ConfigCommand) else None


def _result(cmd: str | None, bundle_id: str | None, status: str, reason: str | None,
            detail: dict | None = None) -> dict:
    return command_result(cmd, bundle_id, status, reason, now_ns(), detail)
