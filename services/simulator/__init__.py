"""The feed simulator and replay: realistic readings for demos and tests, posted through the ingest gateway.

Pure (deterministic functions of seed, site and time; no I/O): `air`, `water`, `bus`, `waste` (one generator module
per feed), `incidents` (scripted incidents as small declarative objects), `scenario` (what each simulated hour
posts, incidents applied) and `clock` (accelerated until it reaches the wall clock, never ahead of it).
I/O: `run` (the loop posting each department's batches, retrying until accepted) and `replay` (recorded files).
"""
