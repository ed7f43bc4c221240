"""Where faust-streaming 0.15 loses or stalls readings, and what the worker does about it: one module per fault
(README.md in this folder lists each with the tests that fail without it)."""
