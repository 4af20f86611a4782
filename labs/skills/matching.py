"""Job matching and gap analysis: the fit score of a learner for a job profile, and what is missing.

The formula (``docs/skills.md`` has a worked example). For a job with
required skills ``s`` at minimum level ``r_s`` and a learner at level
``l_s`` (0 when the skill is not in the profile):

- each skill's **coverage** is ``c_s = min(l_s, r_s) / r_s`` — capped at 1,
  so exceeding one requirement does not make up for another;
- its **weight** is ``w_s = 2`` for an essential skill, ``1`` for an optional one;
- the **fit** is ``100 · Σ w_s c_s / Σ w_s`` (0-100).

Per skill the learner is *met* (``l ≥ r``), *under* level (by ``r − l``),
*missing* (``l = 0``), or the skill is *not required* by the job.

:class:`Matcher` computes the fit of many learners against many jobs at
once: since ``min(l, r)/r = Σ_{k=1..r} [l ≥ k] / r`` for integer levels,
the numerator is one matrix product of the learners' level indicators
``[l_s ≥ k]`` with the jobs' weights ``w_s [r_s ≥ k] / r_s``.

Examples
--------
>>> job = {"signal-processing": (3, True), "sensors": (2, True), "python": (2, False)}
>>> round(fit_score({"signal-processing": 2, "sensors": 4}, job), 3)   # 100·(2·2/3 + 2·1 + 1·0)/5
66.667
>>> [(g.skill, g.status, g.short_by) for g in skill_status({"signal-processing": 2, "sensors": 4}, job)]
[('signal-processing', 'under', 1), ('sensors', 'met', 0), ('python', 'missing', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ESSENTIAL_WEIGHT = 2.0
OPTIONAL_WEIGHT = 1.0
#: A job's requirements: ``skill -> (minimum level 1-4, essential)``.
Requirements = Mapping[str, tuple[int, bool]]


def fit_score(levels: Mapping[str, int], required: Requirements) -> float:
    """The fit (0-100) of a learner at ``levels`` for a job requiring ``required`` (the documented formula).

    A straightforward loop: the reference :class:`Matcher` is tested and benchmarked against.
    """
    num = den = 0.0
    for skill, (r, essential) in required.items():
        w = ESSENTIAL_WEIGHT if essential else OPTIONAL_WEIGHT
        num += w * min(levels.get(skill, 0), r) / r
        den += w
    return 100.0 * num / den if den else 0.0


@dataclass(frozen=True)
class SkillStatus:
    """One skill of a match: the level required and held, and what that means."""

    skill: str
    required: int
    level: int
    essential: bool
    status: str  # met | under | missing | not_required
    short_by: int


def skill_status(levels: Mapping[str, int], required: Requirements) -> list[SkillStatus]:
    """Per skill: met, under level (by how much), missing; then the learner's skills the job does not require."""
    out = []
    for skill, (r, essential) in required.items():
        lvl = levels.get(skill, 0)
        status = "met" if lvl >= r else "missing" if lvl == 0 else "under"
        out.append(SkillStatus(skill, r, lvl, essential, status, max(0, r - lvl)))
    out += [SkillStatus(s, 0, lvl, False, "not_required", 0) for s, lvl in levels.items()
            if s not in required and lvl > 0]
    return out


def gaps(levels: Mapping[str, int], required: Requirements) -> dict[str, int]:
    """The gaps of a learner for a job: ``skill -> level required`` where the learner is below it."""
    return {s: r for s, (r, _) in required.items() if levels.get(s, 0) < r}


def aggregate_gaps(profiles: Sequence[Mapping[str, int]], required: Requirements) -> list[dict]:
    """Gaps of a group of learners for one job: per required skill, how many are short and by how much.

    Returns one row per required skill, most people short first: ``skill,
    required, essential, short`` (people below the level), ``missing``
    (people without the skill), ``mean_short_by`` (over those short), ``mean_level``.
    """
    rows = []
    for skill, (r, essential) in required.items():
        lv = [p.get(skill, 0) for p in profiles]
        short = [r - x for x in lv if x < r]
        rows.append({"skill": skill, "required": r, "essential": essential, "short": len(short),
                     "missing": sum(1 for x in lv if x == 0),
                     "mean_short_by": round(sum(short) / len(short), 2) if short else 0.0,
                     "mean_level": round(sum(lv) / len(lv), 2) if lv else 0.0})
    return sorted(rows, key=lambda r: (-r["short"], not r["essential"], r["skill"]))


class Matcher:
    """Fit scores of many learners against many jobs in one matrix product.

    Parameters
    ----------
    skills : sequence of str
        The skill ids: the columns of the learners' level matrix.
    jobs : sequence of Requirements
        Each job's ``skill -> (minimum level, essential)``.

    Examples
    --------
    >>> m = Matcher(["a", "b"], [{"a": (2, True)}, {"a": (1, False), "b": (4, True)}])
    >>> m.scores(np.array([[1, 4], [2, 0]])).round(3).tolist()
    [[50.0, 100.0], [100.0, 33.333]]
    """

    def __init__(self, skills: Sequence[str], jobs: Sequence[Requirements]) -> None:
        self.skills = list(skills)
        col = {s: i for i, s in enumerate(self.skills)}
        b = np.zeros((len(jobs), 4 * len(self.skills)))
        wsum = np.zeros(len(jobs))
        for j, req in enumerate(jobs):
            for skill, (r, essential) in req.items():
                if skill not in col:
                    raise KeyError(f"job {j} requires skill {skill!r}, which is not a column of the matcher")
                w = ESSENTIAL_WEIGHT if essential else OPTIONAL_WEIGHT
                b[j, 4 * col[skill]: 4 * col[skill] + r] = w / r
                wsum[j] += w
        self._b_t = np.ascontiguousarray(b.T)
        self._scale = np.divide(100.0, wsum, out=np.zeros_like(wsum), where=wsum > 0)

    def level_matrix(self, profiles: Sequence[Mapping[str, int]]) -> np.ndarray:
        """Learners' levels as an integer matrix (learners × skills), 0 where a skill is not held."""
        col = {s: i for i, s in enumerate(self.skills)}
        out = np.zeros((len(profiles), len(self.skills)), dtype=np.int8)
        for i, p in enumerate(profiles):
            for s, lvl in p.items():
                if s in col:
                    out[i, col[s]] = lvl
        return out

    def scores(self, levels: np.ndarray) -> np.ndarray:
        """Fit scores (learners × jobs) of the level matrix ``levels`` (learners × skills, values 0-4)."""
        levels = np.asarray(levels)
        if levels.ndim != 2 or levels.shape[1] != len(self.skills):
            raise ValueError(f"levels: shape {levels.shape}; expected (learners, {len(self.skills)})")
        if levels.size and (levels.min() < 0 or levels.max() > 4):
            raise ValueError("levels: expected values 0-4")
        ind = (levels[:, :, None] >= np.arange(1, 5)).reshape(len(levels), -1).astype(np.float64)
        return (ind @ self._b_t) * self._scale
