"""The tables of numbers: every limit, breakpoint and target lives in exactly one module here.

Modules outside `tables/` compute; they never hold a number from a standard.
"""
