"""HTTP API and live streams."""
