"""The local stack without Docker: install, start, watch and stop the real servers and processes."""
