"""Skills data of TeachFab: the ESCO skills subset, job profiles, the micro-credential catalogue and the
question bank, each a validated data file in ``labs/skills/data/``, and the pure functions the hub's
skills area builds on: job matching, gap analysis and minimum-ECTS pathways.

Nothing here imports the hub; ``docs/catalogue.md`` describes every file for authors.
"""
