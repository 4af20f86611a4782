"""MQTT ingest of edge payloads."""
