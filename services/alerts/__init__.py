"""The alert service: rule evaluations in, alert lifecycle in Redis, transitions out (topic, Alertmanager)."""
