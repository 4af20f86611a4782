"""What a caller may see: sites seen whole, single assets, challenges — or everything.

A :class:`Scope` is a plain value; who gets which scope is decided by
:func:`cloud.challenges.scope.scope_of` (it depends on teams and challenges)
and handed to the accounts area at start-up, so the registry and the
telemetry routes filter by scope without knowing about challenges.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scope:
    """Sites seen whole, single assets seen, or everything.

    Examples
    --------
    >>> s = Scope(sites=frozenset({"plant-a"}), assets=frozenset({("lab", "pump-1")}))
    >>> s.asset("plant-a", "press"), s.asset("lab", "pump-1"), s.asset("lab", "fan"), s.site("lab")
    (True, True, False, True)
    """

    everything: bool = False
    sites: frozenset[str] = field(default_factory=frozenset)
    assets: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    challenge_ids: frozenset[int] = field(default_factory=frozenset)

    def asset(self, site: str, asset: str) -> bool:
        """Whether telemetry, alerts and drift of ``asset`` at ``site`` are visible."""
        return self.everything or site in self.sites or (site, asset) in self.assets

    def site(self, site: str) -> bool:
        """Whether ``site`` (its registry entry and edges) is visible: whole, or one of its assets."""
        return self.everything or site in self.sites or any(s == site for s, _ in self.assets)

    def whole_site(self, site: str) -> bool:
        """Whether every asset of ``site`` is visible."""
        return self.everything or site in self.sites

    def challenge(self, challenge_id: int) -> bool:
        """Whether the challenge is visible."""
        return self.everything or challenge_id in self.challenge_ids
