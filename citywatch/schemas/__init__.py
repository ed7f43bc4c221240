"""Record schemas of every topic (pydantic v2). Pure: no I/O."""
