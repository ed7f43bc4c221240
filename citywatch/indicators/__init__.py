"""Indicator computations: pure processors the stream agents wrap. No I/O."""
