"""Verifiable micro-credentials: Open Badges 3.0 with eddsa-rdfc-2022 Data Integrity proofs (docs/credentials.md)."""
