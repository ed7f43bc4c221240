"""The HTTP ingest gateway: departments POST readings, the gateway publishes them to the feed topics."""
