"""The question bank of the skill check: four-option questions with one correct option and an explanation.

A skill with at least :data:`CHECK_SIZE` questions gets a check of that
many. :func:`draw` picks them and shuffles every question's options with a
seed (the bank lists the correct option first; the learner never sees that
order), :func:`grade` scores the answers and finds the level shown: the
highest level ``L`` such that every question asked at a level ≤ ``L`` was
answered correctly (0 when a level-1 question was missed).

Examples
--------
>>> bank = load_questions()
>>> sorted(checkable(bank))[:2]
['machine-learning', 'monitor-automated-machines']
>>> check = draw(bank, "signal-processing", seed=7)
>>> len(check), all(sorted(q.order) == [0, 1, 2, 3] for q in check)
(5, True)
>>> right = [q.order.index(bank[q.id].correct) for q in check]
>>> grade(bank, check, right)["correct"], grade(bank, check, right)["level"]
(5, 3)
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from labs.skills.common import DATA_DIR, DataError, Strict, read_yaml, validation_errors
from labs.skills.framework import ID, load_framework

#: Questions in one skill check.
CHECK_SIZE = 5


class Question(Strict):
    """One question: four options, exactly one correct (``correct``, 0-based), the skill and level it probes."""

    id: str = Field(pattern=ID)
    skill: str
    level: int = Field(ge=1, le=4)
    question: str = Field(min_length=10)
    options: list[str] = Field(min_length=4, max_length=4)
    correct: int = Field(ge=0, le=3)
    explanation: str = Field(min_length=10)

    @field_validator("options")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len({o.strip().casefold() for o in v}) != 4 or any(not o.strip() for o in v):
            raise ValueError("expected four distinct, non-empty options")
        return v

    @model_validator(mode="after")
    def _known_skill(self) -> "Question":
        if self.skill not in load_framework().skills:
            raise ValueError(f"skill {self.skill!r} is not in the skills framework")
        return self


@dataclass(frozen=True)
class Asked:
    """A question as asked: its id and the order its options are shown in (indices into ``options``)."""

    id: str
    order: tuple[int, ...]


@functools.cache
def _load(path: Path) -> dict[str, Question]:
    doc = read_yaml(path)
    items = doc.get("questions")
    if not isinstance(items, list):
        raise DataError(path.name, [f"{path.name}: questions: missing; expected a list"])
    out, errors = {}, []
    for i, item in enumerate(items):
        try:
            q = Question.model_validate(item)
        except ValidationError as exc:
            errors += validation_errors(path.name, exc, prefix=f"questions[{i}].")
            continue
        if q.id in out:
            errors.append(f"{path.name}: questions[{i}].id = {q.id!r}: duplicate id")
        out[q.id] = q
    if errors:
        raise DataError(path.name, errors)
    return out


def load_questions(path: str | Path | None = None) -> dict[str, Question]:
    """The question bank of ``path`` (default: the shipped ``data/questions.yaml``) by id, validated."""
    return dict(_load(Path(path) if path else DATA_DIR / "questions.yaml"))


def checkable(bank: dict[str, Question]) -> list[str]:
    """Skills with enough questions for a check."""
    counts: dict[str, int] = {}
    for q in bank.values():
        counts[q.skill] = counts.get(q.skill, 0) + 1
    return sorted(s for s, n in counts.items() if n >= CHECK_SIZE)


def draw(bank: dict[str, Question], skill: str, seed: int) -> list[Asked]:
    """:data:`CHECK_SIZE` questions on ``skill``, spread over its levels, with shuffled options."""
    pool = sorted((q for q in bank.values() if q.skill == skill), key=lambda q: (q.level, q.id))
    if len(pool) < CHECK_SIZE:
        raise ValueError(f"skill {skill!r} has {len(pool)} question(s) in the bank; a check needs {CHECK_SIZE}")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(pool, CHECK_SIZE), key=lambda q: (q.level, q.id))
    out = []
    for q in chosen:
        order = list(range(4))
        rng.shuffle(order)
        out.append(Asked(q.id, tuple(order)))
    return out


def grade(bank: dict[str, Question], asked: list[Asked], answers: list[int]) -> dict:
    """Score ``answers`` (the index of the option chosen, as shown) to ``asked``.

    Returns ``{"correct", "total", "level", "items"}``; each item says the
    question, the option chosen and the correct one (as shown), and the explanation.
    """
    if len(answers) != len(asked):
        raise ValueError(f"answers: {len(answers)} given; expected {len(asked)}, one per question")
    items, ok_by_level = [], {}
    for a, choice in zip(asked, answers):
        if not (isinstance(choice, int) and 0 <= choice <= 3):
            raise ValueError(f"answers: {choice!r} for question {a.id!r}; expected an option index 0-3")
        q = bank[a.id]
        right = a.order.index(q.correct)
        ok = choice == right
        ok_by_level.setdefault(q.level, []).append(ok)
        items.append({"id": q.id, "level": q.level, "chosen": choice, "correct_option": right, "ok": ok,
                      "explanation": q.explanation})
    level = 0
    for lvl in sorted(ok_by_level):
        if not all(ok_by_level[lvl]):
            break
        level = lvl
    return {"correct": sum(i["ok"] for i in items), "total": len(items), "level": level, "items": items}
