"""Every message the skills area's API can answer with, in English (the gettext ``msgid``).

The translations are the gettext catalogues ``cloud/skills/locale/<lang>/LC_MESSAGES/messages.po``
(read with Babel); ``tests/hub/test_skills_i18n.py`` fails when any message
lacks a translation in one of the six languages.
"""

from __future__ import annotations

MESSAGES = {
    "unknown_skill": "skill {skill!r} is not in the skills framework",
    "level_range": "level of {skill}: {value}; expected 1 (Beginner) to 4 (Expert)",
    "no_job": "no job profile {job!r}",
    "no_entry": "no catalogue entry {entry!r}",
    "no_learner": "no learner {user} in your scope",
    "no_team": "no team {team} in your scope",
    "no_company": "no company {site!r} in your scope",
    "not_a_company": "{site!r} is not an SME site; consent is given to companies",
    "no_questions": "skill {skill!r} has no skill check: the question bank has fewer than 5 questions on it",
    "no_check": "no skill check {check} of yours",
    "check_done": "skill check {check} was answered already; start a new one",
    "answers_count": "answers: {given} given; expected {expected}, one per question",
    "answer_range": "answers[{index}]: {value!r}; expected the index of an option, 0 to 3",
    "language": "language {value!r}; expected one of en, es, fr, it, tr, sl",
    "text_too_long": "text: {length} characters; expected at most {limit}",
    "invitation_unknown": "this invitation link is unknown: ask your mentor for a new one",
    "invitation_used": "this invitation was accepted already: log in with your e-mail and password",
    "invitation_expired": "this invitation expired on {when}: ask your mentor for a new one",
    "email_taken": "a user with the e-mail {email!r} exists already: log in instead",
    "weak_password": "the password {problem}",
    "password_short": "the password has {length} characters; expected at least {minimum}",
    "password_known": "the password is a well-known default; choose another",
    "shipped_job": "job profile {job!r} is shipped with TeachFab; change labs/skills/data/jobs.yaml instead",
    "import_refused": "import refused, nothing imported: {problems}",
    "import_format": "format {value!r}; expected csv or json",
}
