"""The feed simulator: realistic readings for demos and tests, posted through the ingest gateway."""
