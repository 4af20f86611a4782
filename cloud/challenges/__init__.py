"""Challenges and remote lab sessions: evidence scored against ground truth (issue 5, in progress)."""
