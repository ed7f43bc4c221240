"""Intake: what decides whether a department's record counts, wherever it enters (gateway, worker, `publish`).
Pure: no I/O."""

from citywatch.intake.admission import Refusal, admission, registry_problems, scope_problem
from citywatch.intake.clock import ClockBounds

__all__ = ["ClockBounds", "Refusal", "admission", "registry_problems", "scope_problem"]
