"""Hooks the challenges area calls when evidence is stored and an outcome is signed off.

The skills area sits above the challenges area (it consumes outcomes and
evidence), so the challenges area must not import it. Instead the hub hands
a :class:`LearningHooks` to the services that close sessions and sign off
outcomes (``app.state.hooks``, and the lab service's ``hooks``); each
callback runs inside the same transaction as the step that triggered it,
so a profile update and the outcome it comes from are committed together
or not at all.

Examples
--------
>>> seen = []
>>> hooks = LearningHooks(on_outcome=[lambda db, outcome: seen.append(outcome)])
>>> hooks.outcome(None, "outcome 7"); seen
['outcome 7']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cloud.challenges.models import LabSession, Outcome


@dataclass
class LearningHooks:
    """Callbacks after a session's evidence is stored (``on_evidence``) and after a sign-off (``on_outcome``)."""

    on_evidence: list[Callable[[Session, LabSession], None]] = field(default_factory=list)
    on_outcome: list[Callable[[Session, Outcome], None]] = field(default_factory=list)

    def evidence(self, db: Session, session: LabSession) -> None:
        """Run the evidence callbacks (before the closing transaction commits)."""
        for hook in self.on_evidence:
            hook(db, session)

    def outcome(self, db: Session, outcome: Outcome) -> None:
        """Run the outcome callbacks (before the sign-off transaction commits)."""
        for hook in self.on_outcome:
            hook(db, outcome)
