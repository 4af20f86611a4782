"""Hooks the challenges area calls when evidence is stored, an outcome is signed off and a challenge closes.

The skills and credentials areas sit above the challenges area (it consumes outcomes and
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

from cloud.challenges.models import Charter, LabSession, Outcome


@dataclass
class LearningHooks:
    """Callbacks after a session's evidence is stored (``on_evidence``), after a sign-off (``on_outcome``),
    after a credential decision (``on_credential_decision``, with the deciding user's id) and when a
    challenge closes (``on_close``: the charter and the closing user's id; the handover area)."""

    on_evidence: list[Callable[[Session, LabSession], None]] = field(default_factory=list)
    on_outcome: list[Callable[[Session, Outcome], None]] = field(default_factory=list)
    on_credential_decision: list[Callable[[Session, Outcome, int], None]] = field(default_factory=list)
    on_close: list[Callable[[Session, Charter, int | None], None]] = field(default_factory=list)

    def evidence(self, db: Session, session: LabSession) -> None:
        """Run the evidence callbacks (before the closing transaction commits)."""
        for hook in self.on_evidence:
            hook(db, session)

    def outcome(self, db: Session, outcome: Outcome) -> None:
        """Run the outcome callbacks (before the sign-off transaction commits)."""
        for hook in self.on_outcome:
            hook(db, outcome)

    def credential_decision(self, db: Session, outcome: Outcome, by_user: int) -> None:
        """Run the credential-decision callbacks (before the decision's transaction commits)."""
        for hook in self.on_credential_decision:
            hook(db, outcome, by_user)
    def closed(self, db: Session, charter: Charter, user_id: int | None) -> None:
        """Run the close callbacks (before the closing transaction commits)."""
        for hook in self.on_close:
            hook(db, charter, user_id)
