"""Skills area of the hub: skill profiles with their sources and history, self-assessment, skill checks,
job matching, gap analysis, pathways, consent to share with SMEs, invitations, and the portal's API.

It consumes the challenges area (outcomes, evidence, teams) and sits above it; the challenges area
reaches it only through the hooks the hub wires (:mod:`cloud.challenges.hooks`).
"""
