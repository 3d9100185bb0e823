"""Errors raised by the taper catalogue and engine."""

from __future__ import annotations


class TaperError(Exception):
    """Base class for every error the taper package raises."""


class TaperInputError(TaperError, ValueError):
    """Bad input. `field` names the offending input so forms and the API can attach the message to it."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class TaperCapError(TaperError):
    """The requested plan reduces faster than the guideline cap and no override reason was given.

    `violations` lists each offending step (see engine.CapViolation) so the page can show them; `schedule`
    is the schedule as it would be, with those steps flagged `over_cap` (for the preview and alternatives).
    """

    def __init__(self, violations, schedule=None):
        self.violations = tuple(violations)
        self.schedule = schedule
        lines = "; ".join(v.describe() for v in self.violations)
        super().__init__(
            f"{len(self.violations)} step(s) exceed the guideline cap: {lines}. "
            "Slow the rate, lengthen the interval, or have a psychiatrist accept these steps "
            "(override_steps with an override_reason)."
        )
