"""The handover package: what the hub hands the SME and the provider when a challenge closes (docs/handover.md)."""
