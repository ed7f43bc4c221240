"""Benchmarks against the real local stack (`citywatch bench ...`); figures go to `bench-results/` as JSON."""
