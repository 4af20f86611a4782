"""Learning pathways: the catalogue entries that close a job's gaps at minimum total ECTS, in order.

Choosing entries is weighted set cover with precedence constraints, solved
exactly as a mixed-integer programme (:func:`scipy.optimize.milp`):

- a binary ``x_c`` per candidate entry; minimise ``Σ ECTS_c x_c`` plus a tie-breaker
  (fewer entries, then catalogue order) too small to trade any ECTS;
- each gap ``(skill s, level L)``: ``Σ x_c ≥ 1`` over the entries reaching ``s`` at ``≥ L``;
- each prerequisite group of a chosen entry (alternatives ``p1 | p2 ...``)
  not already held: ``x_c ≤ Σ x_p``;
- entries already held, or whose every skill level the learner's verified
  profile already meets ("evidenced"), are fixed: never chosen, they satisfy prerequisites.

The choice is then ordered by prerequisites with :class:`graphlib.TopologicalSorter`
(ties: lower EQF, fewer ECTS, id). Gaps no admissible entry can close are
named with the reason. :func:`greedy` and :func:`exhaustive` are the
baselines the tests and the benchmark compare with.

Examples
--------
>>> from labs.skills.catalogue import load_catalogue
>>> cat = load_catalogue()
>>> p = plan({"signal-processing": 3, "sensors": 2}, cat)
>>> p.ordered, p.total_ects
(['sensors-and-measurement', 'pdm-bearing-early-detection', 'pdm-bearing-fault-diagnosis'], 4.5)
>>> plan({"signal-processing": 3}, cat, max_eqf=4).unclosable
{'signal-processing': 'no entry reaches level 3 within the filters'}
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from labs.skills.catalogue import Entry


@dataclass
class Pathway:
    """A pathway: the entries to take in order, their ECTS, and the gaps left open (with why)."""

    ordered: list[str]
    total_ects: float
    covers: dict[str, list[str]] = field(default_factory=dict)  # entry -> gaps (skills) it closes
    unclosable: dict[str, str] = field(default_factory=dict)     # skill -> reason
    recognised: list[str] = field(default_factory=list)           # entries held or evidenced (not taken)
    method: str = "milp"


def _admissible(e: Entry, max_eqf, min_eqf, languages, modes) -> bool:
    return ((max_eqf is None or e.eqf_level <= max_eqf) and (min_eqf is None or e.eqf_level >= min_eqf)
            and (not languages or e.language in languages) and (not modes or e.mode in modes))


def _candidates(gaps: Mapping[str, int], catalogue: Mapping[str, Entry], held: Collection[str],
                verified: Mapping[str, int], max_eqf=None, min_eqf=None, languages=(), modes=()):
    """Recognised entries, the admissible candidates whose prerequisites can be met, and the unclosable gaps."""
    recognised = {e.id for e in catalogue.values()
                  if e.id in held or all(verified.get(s, 0) >= lvl for s, lvl in e.skills.items())}
    cands = {i: e for i, e in catalogue.items()
             if i not in recognised and _admissible(e, max_eqf, min_eqf, languages, modes)}
    changed = True
    while changed:  # drop entries with a prerequisite group no candidate or recognised entry satisfies
        changed = False
        for i, e in list(cands.items()):
            if any(not any(p in recognised or p in cands for p in g) for g in e.prerequisite_groups()):
                del cands[i]
                changed = True
    unclosable = {}
    for s, lvl in gaps.items():
        if not any(e.skills.get(s, 0) >= lvl for e in cands.values()):
            anywhere = any(e.skills.get(s, 0) >= lvl for e in catalogue.values())
            unclosable[s] = ("no entry reaches level %d within the filters" % lvl if anywhere else
                             "no catalogue entry reaches level %d" % lvl)
    return recognised, cands, unclosable


def _order(chosen: Collection[str], catalogue: Mapping[str, Entry]) -> list[str]:
    ts = graphlib.TopologicalSorter({c: {p for g in catalogue[c].prerequisite_groups() for p in g if p in chosen}
                                     for c in chosen})
    ts.prepare()
    out = []
    while ts.is_active():
        ready = sorted(ts.get_ready(), key=lambda c: (catalogue[c].eqf_level, catalogue[c].ects, c))
        for c in ready:
            out.append(c)
            ts.done(c)
    return out


def _result(chosen, gaps, catalogue, recognised, unclosable, method) -> Pathway:
    ordered = _order(chosen, catalogue)
    covers = {c: [s for s, lvl in gaps.items() if s not in unclosable and catalogue[c].skills.get(s, 0) >= lvl]
              for c in ordered}
    return Pathway(ordered, round(sum(catalogue[c].ects for c in ordered), 3), covers, unclosable,
                   sorted(recognised), method)


def plan(gaps: Mapping[str, int], catalogue: Mapping[str, Entry], held: Collection[str] = (),
         verified: Mapping[str, int] | None = None, max_eqf: int | None = None, min_eqf: int | None = None,
         languages: Collection[str] = (), modes: Collection[str] = ()) -> Pathway:
    """The minimum-ECTS pathway closing ``gaps`` (``skill -> level required``), solved exactly (MILP).

    Parameters
    ----------
    gaps : mapping
        What to close (:func:`labs.skills.matching.gaps`).
    catalogue : mapping
        Entries by id (:func:`labs.skills.catalogue.load_catalogue`).
    held : collection of str
        Entries the learner completed.
    verified : mapping, optional
        The learner's evidence- or assessor-verified levels; an entry whose
        every skill they meet counts as evidenced (not taken, satisfies prerequisites).
    max_eqf, min_eqf, languages, modes
        Only entries within these limits are taken.
    """
    recognised, cands, unclosable = _candidates(gaps, catalogue, held, verified or {}, max_eqf, min_eqf,
                                                languages, modes)
    todo = {s: lvl for s, lvl in gaps.items() if s not in unclosable}
    if not todo:
        return _result([], gaps, catalogue, recognised, unclosable, "milp")
    ids = list(cands)
    col = {c: k for k, c in enumerate(ids)}
    n = len(ids)
    cost = np.array([cands[c].ects for c in ids]) + 1e-3 + 1e-6 * np.arange(n) / max(n, 1)
    rows, lb, ub = [], [], []
    for s, lvl in todo.items():
        row = np.zeros(n)
        for c in ids:
            if cands[c].skills.get(s, 0) >= lvl:
                row[col[c]] = 1
        rows.append(row), lb.append(1), ub.append(np.inf)
    for c in ids:
        for g in cands[c].prerequisite_groups():
            if any(p in recognised for p in g):
                continue
            row = np.zeros(n)
            row[col[c]] = 1
            for p in g:
                if p in col:
                    row[col[p]] -= 1
            rows.append(row), lb.append(-np.inf), ub.append(0)
    res = milp(cost, constraints=LinearConstraint(np.array(rows), lb, ub), integrality=np.ones(n),
               bounds=Bounds(0, 1))
    if res.status != 0 or res.x is None:  # cannot happen once unclosable gaps are removed; say so if it does
        raise RuntimeError(f"pathway MILP failed: {res.message}")
    chosen = [c for c in ids if res.x[col[c]] > 0.5]
    return _result(chosen, gaps, catalogue, recognised, unclosable, "milp")


def _feasible(chosen: set[str], todo: Mapping[str, int], cands, recognised) -> bool:
    if any(not any(cands[c].skills.get(s, 0) >= lvl for c in chosen) for s, lvl in todo.items()):
        return False
    return all(any(p in chosen or p in recognised for p in g) for c in chosen for g in cands[c].prerequisite_groups())


def exhaustive(gaps: Mapping[str, int], catalogue: Mapping[str, Entry], held: Collection[str] = (),
               verified: Mapping[str, int] | None = None, max_candidates: int = 18, **filters) -> Pathway:
    """The same optimum by trying every subset of candidates (for small catalogues only)."""
    recognised, cands, unclosable = _candidates(gaps, catalogue, held, verified or {}, **filters)
    todo = {s: lvl for s, lvl in gaps.items() if s not in unclosable}
    if len(cands) > max_candidates:
        raise ValueError(f"{len(cands)} candidates: too many for exhaustive search (at most {max_candidates})")
    ids = list(cands)
    best, best_key = [], None
    for r in range(0 if not todo else 1, len(ids) + 1):
        for combo in itertools.combinations(ids, r):
            key = (round(sum(cands[c].ects for c in combo), 6), r)
            if best_key is not None and key >= best_key:
                continue
            if _feasible(set(combo), todo, cands, recognised):
                best, best_key = list(combo), key
        if not todo:
            break
    return _result(best, gaps, catalogue, recognised, unclosable, "exhaustive")


def greedy(gaps: Mapping[str, int], catalogue: Mapping[str, Entry], held: Collection[str] = (),
           verified: Mapping[str, int] | None = None, **filters) -> Pathway:
    """The cheapest-looking choice at each step: most gaps closed per ECTS among entries open now.

    When no open entry closes a remaining gap, take the cheapest open
    prerequisite of one that does. Not optimal (the tests show a case); a baseline only.
    """
    recognised, cands, unclosable = _candidates(gaps, catalogue, held, verified or {}, **filters)
    todo = {s: lvl for s, lvl in gaps.items() if s not in unclosable}
    chosen: list[str] = []

    def is_open(c):
        return c not in chosen and all(any(p in chosen or p in recognised for p in g)
                                       for g in cands[c].prerequisite_groups())

    while todo:
        gain = {c: sum(cands[c].skills.get(s, 0) >= lvl for s, lvl in todo.items()) for c in cands if is_open(c)}
        useful = {c: g for c, g in gain.items() if g}
        if useful:
            pick = max(useful, key=lambda c: (useful[c] / cands[c].ects, -cands[c].ects, c))
        else:
            frontier = [c for c in cands if c not in chosen and any(cands[c].skills.get(s, 0) >= lvl
                                                                    for s, lvl in todo.items())]
            wanted: set[str] = set()
            while frontier:  # every entry some closing entry needs, directly or through its prerequisites
                c = frontier.pop()
                for p in (p for g in cands[c].prerequisite_groups() for p in g if p in cands):
                    if p not in wanted:
                        wanted.add(p)
                        frontier.append(p)
            opened = [c for c in gain if c in wanted]
            if not opened:
                break
            pick = min(opened, key=lambda c: (cands[c].ects, c))
        chosen.append(pick)
        todo = {s: lvl for s, lvl in todo.items() if cands[pick].skills.get(s, 0) < lvl}
    if todo:
        raise RuntimeError(f"greedy left {sorted(todo)} open although the MILP can close them")
    return _result(chosen, gaps, catalogue, recognised, unclosable, "greedy")
