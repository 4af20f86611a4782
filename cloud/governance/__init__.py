"""Data governance: the charter's data agreement enforced, retention, learners' rights, the access log (docs/governance.md)."""
