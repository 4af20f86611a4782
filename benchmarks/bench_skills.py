"""Job matching and pathways at scale, side by side in one run.

Matching: 10,000 learners × 700 job profiles (the size of the European
job-profile database: the 15 shipped profiles plus seeded synthetic ones
over the same 56 skills, 4-10 required skills each, a third of them
optional) scored with :class:`labs.skills.matching.Matcher` (one matrix
product) and with a straightforward pure-Python loop over the same
documented formula (:func:`labs.skills.matching.fit_score`); the scores
must be identical (to 1e-9), and the goal is ≥ 20× faster. Then what one
learner's page costs: 700 jobs for one profile, Matcher built and scored.

Pathways: 1,000 learners, each with a seeded catalogue of 12 entries (small
enough for exhaustive search: 4,096 subsets) with prerequisites and random
gaps, solved by the MILP (:func:`labs.skills.pathways.plan`) and by
exhaustive search; the optimum ECTS must be identical. Then the MILP for
1,000 learners on the shipped 34-entry catalogue against random target
jobs. Times per pathway.

Run: ``.venv/bin/python benchmarks/bench_skills.py [--learners N] [--jobs M] [--pathways K]``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labs.skills import pathways  # noqa: E402
from labs.skills.catalogue import Entry, load_catalogue  # noqa: E402
from labs.skills.common import LANGUAGES  # noqa: E402
from labs.skills.framework import load_framework  # noqa: E402
from labs.skills.jobs import load_jobs  # noqa: E402
from labs.skills.matching import Matcher, fit_score, gaps  # noqa: E402


def synthetic_jobs(skills: list[str], n: int, rng: random.Random) -> list[dict]:
    jobs = [j.required() for j in load_jobs().values()]
    while len(jobs) < n:
        chosen = rng.sample(skills, rng.randint(4, 10))
        jobs.append({s: (rng.randint(1, 4), rng.random() > 1 / 3) for s in chosen})
    return jobs[:n]


def learners(skills: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    held = rng.random((n, len(skills))) < 0.2  # about 11 skills each
    return (rng.integers(1, 5, size=(n, len(skills))) * held).astype(np.int8)


def bench_matching(n_learners: int, n_jobs: int) -> None:
    fw = load_framework()
    skills = fw.ids()
    jobs = synthetic_jobs(skills, n_jobs, random.Random(1))
    levels = learners(skills, n_learners, np.random.default_rng(2))
    profiles = [{s: int(v) for s, v in zip(skills, row) if v} for row in levels]

    t0 = time.perf_counter()
    matcher = Matcher(skills, jobs)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = matcher.scores(levels)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    slow = [[fit_score(p, req) for req in jobs] for p in profiles]
    t_slow = time.perf_counter() - t0
    diff = float(np.max(np.abs(fast - np.array(slow))))

    one = profiles[0]
    reps = 50
    t0 = time.perf_counter()
    for _ in range(reps):
        m = Matcher(skills, jobs)
        m.scores(m.level_matrix([one]))
    t_one = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        [fit_score(one, req) for req in jobs]
    t_one_py = (time.perf_counter() - t0) / reps

    pairs = n_learners * n_jobs
    print(f"matching {n_learners} learners x {n_jobs} job profiles ({pairs:,} scores, {len(skills)} skills)")
    print(f"  Matcher: build {t_build * 1e3:8.1f} ms, score {t_fast:7.3f} s  ({t_fast / pairs * 1e9:6.1f} ns per score)")
    print(f"  pure-Python loop:             {t_slow:7.3f} s  ({t_slow / pairs * 1e9:6.1f} ns per score)")
    print(f"  speed-up {t_slow / (t_build + t_fast):6.1f}x incl. build (goal >= 20x); max |difference| {diff:.1e} "
          f"({'identical' if diff < 1e-9 else 'DIFFERENT'})")
    print(f"  one learner's page, {n_jobs} jobs: Matcher {t_one * 1e3:.2f} ms (built each time), "
          f"pure Python {t_one_py * 1e3:.2f} ms; per learner in the batch {(t_build + t_fast) / n_learners * 1e6:.1f} us")


def _entry(i: int, ects: float, skills: dict, prereqs: list) -> Entry:
    return Entry(id=f"e{i}", title={lang: f"e{i}" for lang in LANGUAGES}, awarding_body="Bench", issuer_country="EU",
                 location="online", eqf_level=4, ects=ects, mode="online", language="en", assessment_type="test",
                 form_of_participation="online", quality_assurance="internal", learning_outcomes=["x"],
                 skills=skills, prerequisites=prereqs)


def small_catalogue(rng: random.Random, size: int, skills: list[str]) -> dict[str, Entry]:
    entries = []
    for i in range(size):
        earlier = [e.id for e in entries]
        prereqs = []
        if earlier and rng.random() < 0.4:
            prereqs.append(rng.choice(earlier))
        if len(earlier) > 1 and rng.random() < 0.2:
            prereqs.append(rng.sample(earlier, 2))
        entries.append(_entry(i, rng.choice([0.5, 1, 1.5, 2, 3, 4, 5]),
                              {s: rng.randint(1, 4) for s in rng.sample(skills, rng.randint(1, 3))}, prereqs))
    return {e.id: e for e in entries}


def bench_pathways(n: int, size: int = 12) -> None:
    rng = random.Random(3)
    skills = load_framework().ids()[:10]
    t_milp = t_brute = 0.0
    same = 0
    for _ in range(n):
        cat = small_catalogue(rng, size, skills)
        want = {s: rng.randint(1, 3) for s in rng.sample(skills, 4)}
        t0 = time.perf_counter()
        a = pathways.plan(want, cat)
        t_milp += time.perf_counter() - t0
        t0 = time.perf_counter()
        b = pathways.exhaustive(want, cat)
        t_brute += time.perf_counter() - t0
        same += a.total_ects == b.total_ects and a.unclosable == b.unclosable
    print(f"pathways for {n} learners, each a {size}-entry catalogue with prerequisites (2^{size} subsets)")
    print(f"  MILP {t_milp / n * 1e3:7.2f} ms per pathway; exhaustive {t_brute / n * 1e3:7.2f} ms per pathway; "
          f"identical optimum for {same}/{n}")

    cat, jobs = load_catalogue(), list(load_jobs().values())
    fw = load_framework()
    nrng = np.random.default_rng(4)
    levels = learners(fw.ids(), n, nrng)
    t = 0.0
    total = 0.0
    for i in range(n):
        profile = {s: int(v) for s, v in zip(fw.ids(), levels[i]) if v}
        job = jobs[i % len(jobs)]
        t0 = time.perf_counter()
        p = pathways.plan(gaps(profile, job.required()), cat)
        t += time.perf_counter() - t0
        total += p.total_ects
    print(f"  MILP on the shipped {len(cat)}-entry catalogue, {n} learners x the {len(jobs)} jobs in turn: "
          f"{t / n * 1e3:.2f} ms per pathway (mean {total / n:.1f} ECTS)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=700)
    ap.add_argument("--pathways", type=int, default=1_000)
    args = ap.parse_args()
    bench_matching(args.learners, args.jobs)
    bench_pathways(args.pathways)


if __name__ == "__main__":
    main()
