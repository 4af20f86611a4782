"""Which answer of an edge to a signed command counts (the genuine-answer rule).

An edge answers each command it receives once, on ``cmd_result``, and
refuses a bundle it has handled before, so a second, different answer to
the same ``bundle_id`` means somebody else published one. The hub therefore
never takes "the first" or "the oldest" answer blindly:

1. an answer dated before the command was signed cannot be the edge's (a
   forged ``rejected`` dated 2000-01-01 is dismissed);
2. when the remaining answers agree, that is the answer;
3. when they disagree, the answers sent from the edge's current boot (the
   one its status announced) win;
4. if they still disagree the result is ``"conflict"``: nothing is taken as
   applied, and the evidence says why.

Broker ACLs (only an edge may publish on its own topics, see the onboarding
documentation) keep forgeries off the broker; this rule keeps one that got
through from deciding what a learner's pipeline did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: How far an edge's clock may run behind the hub's when it answers (seconds).
CLOCK_SKEW_NS = 5 * 10**9


def genuine_answers(results: Iterable[dict], issued_ns: Mapping[str, int], edge_boot: str | None = None) -> dict[str, str]:
    """The answer that counts per ``bundle_id``: ``"accepted"``, ``"rejected"`` or ``"conflict"``.

    Parameters
    ----------
    results : iterable of dict
        Rows of ``store.command_results`` (``bundle_id``, ``status``, ``ts``, ``boot``).
    issued_ns : mapping
        When each command was signed (epoch ns), by ``bundle_id``; bundles not in it keep all answers.
    edge_boot : str or None
        The boot the edge's status announces now.

    Examples
    --------
    >>> T = 1_790_000_000_000_000_000
    >>> forged = {"bundle_id": "b1", "status": "rejected", "ts": 946_684_800 * 10**9, "boot": "x"}
    >>> edge = {"bundle_id": "b1", "status": "accepted", "ts": T + 10**9, "boot": "B"}
    >>> genuine_answers([forged, edge], {"b1": T}, "B")
    {'b1': 'accepted'}
    >>> late_forgery = {**forged, "ts": T + 2 * 10**9}
    >>> genuine_answers([late_forgery, edge], {"b1": T}, "B"), genuine_answers([late_forgery, edge], {"b1": T})
    ({'b1': 'accepted'}, {'b1': 'conflict'})
    """
    by_bundle: dict[str, list[dict]] = {}
    for r in results:
        bundle = r.get("bundle_id")
        if not bundle:
            continue
        issued = issued_ns.get(bundle)
        if issued is not None and r["ts"] < issued - CLOCK_SKEW_NS:
            continue  # dated before the command existed
        by_bundle.setdefault(bundle, []).append(r)
    out = {}
    for bundle, rows in by_bundle.items():
        statuses = {r["status"] for r in rows}
        if len(statuses) > 1 and edge_boot is not None:
            current = {r["status"] for r in rows if r.get("boot") == edge_boot}
            statuses = current or statuses
        out[bundle] = statuses.pop() if len(statuses) == 1 else "conflict"
    return out
