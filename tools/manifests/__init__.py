"""Deployment manifests generated from the site registry and the topic definitions (see `kubernetes.py`)."""
