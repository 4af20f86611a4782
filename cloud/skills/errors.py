"""Errors of the skills area, translatable: each carries a message id and its parameters.

The English text is the message; :func:`cloud.skills.i18n.translate` gives
it in the caller's language, and the hub's handler for :class:`SkillsError`
answers in the language the request asks for (``Accept-Language`` or
``?lang=``). Each also is the :mod:`cloud.errors` error of its HTTP status.

Examples
--------
>>> e = SkillsInvalid("level_range", skill="python", value=7)
>>> str(e), e.status
('level of python: 7; expected 1 (Beginner) to 4 (Expert)', 422)
"""

from __future__ import annotations

from cloud.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from cloud.skills.messages import MESSAGES


class SkillsError(DomainError):
    """A refusal of the skills area: ``key`` names the message, ``params`` fill it in."""

    def __init__(self, key: str, **params) -> None:
        self.key, self.params = key, params
        super().__init__(MESSAGES[key].format(**params))


class SkillsNotFound(SkillsError, NotFound):
    """Unknown, or outside the caller's scope."""


class SkillsInvalid(SkillsError, Invalid):
    """The request's content is wrong; the message names the field."""


class SkillsConflict(SkillsError, Conflict):
    """The state of what is addressed does not allow it."""


class SkillsForbidden(SkillsError, Forbidden):
    """The caller may not do this."""
