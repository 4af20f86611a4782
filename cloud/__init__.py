"""TeachFab cloud hub: MQTT ingest, storage, API, live mentor pages, learning domain."""
