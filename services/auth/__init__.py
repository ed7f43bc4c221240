"""API keys: one per department and role, stored hashed in Redis, checked by every HTTP service."""
