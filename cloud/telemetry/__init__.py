"""Telemetry storage."""
