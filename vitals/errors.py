"""Errors raised by vitals classification and instrument scoring. All are ValueErrors with plain messages."""

from __future__ import annotations


class VitalsError(ValueError):
    """Base class: every refusal in this package is a ValueError carrying a plain-language message."""


class InvalidValue(VitalsError):
    """Not a usable number (wrong type, not finite, more decimals than the vital is recorded with)."""

    def __init__(self, vital: str, message: str) -> None:
        super().__init__(message)
        self.vital = vital
        self.message = message


class ImpossibleValue(InvalidValue):
    """Outside the physiologically possible limits: refused, never stored."""


class InvalidReading(VitalsError):
    """A whole reading had one or more refused fields; `errors` maps field name to its message and
    `impossible` names the fields refused as physiologically impossible (as opposed to malformed)."""

    def __init__(self, errors: dict[str, str], impossible: set[str] | frozenset[str] = frozenset()) -> None:
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in errors.items()))
        self.errors = errors
        self.impossible = frozenset(impossible)


class OverrideError(VitalsError):
    """A clinic threshold override is malformed (unknown key, wrong type, outside possible limits)."""


class LooseningRefused(OverrideError):
    """A clinic override would make a safety threshold looser than the reference default."""


class DefinitionError(ValueError):
    """An instrument definition failed schema validation; `problems` lists every problem found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: invalid instrument definition:\n  - " + "\n  - ".join(problems))
        self.source = source
        self.problems = problems


class AnswerError(ValueError):
    """Answers to an instrument are missing, unknown or out of range; `problems` lists each one."""

    def __init__(self, instrument: str, problems: list[str]) -> None:
        super().__init__(f"{instrument}: cannot score: " + "; ".join(problems))
        self.instrument = instrument
        self.problems = problems
