"""citywatch: an event-driven monitor for a city's plan indicators."""

__version__ = "0.1.0"
