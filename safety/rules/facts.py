"""Plain facts the rules read: built by safety/evaluation.py and safety/sweeps.py from the database.

Pure: no Django. Vital values are keyed by the vital names of vitals/data/vital_signs.json
(systolic_bp, diastolic_bp, heart_rate, respiratory_rate, body_temperature, spo2, body_weight).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

# VitalValue.kind codes (contracts.md) that differ from the vital names in vital_signs.json.
KIND_TO_VITAL = {"temperature": "body_temperature", "weight": "body_weight"}


def vital_name(kind: str) -> str:
    return KIND_TO_VITAL.get(kind, kind)


@dataclass(frozen=True)
class Reading:
    """One vital-signs reading (a VitalReading and its values)."""

    id: UUID
    patient_id: UUID
    taken_at: datetime
    values: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class InstrumentScore:
    """One scored instrument (an InstrumentResult): raw item answers and the total."""

    id: UUID
    patient_id: UUID
    instrument: str
    total: Decimal
    answers: Mapping[str, int]
    completed_at: datetime


@dataclass(frozen=True)
class CheckInFact:
    id: UUID
    patient_id: UUID
    local_date: date
    submitted_at: datetime
    guidance: str  # "emergency" | "call_team" | ""


@dataclass(frozen=True)
class ScorePoint:
    """One score of a series the trend rule reads, on the clinic's local day it was taken."""

    day: date
    value: Decimal
    source_id: UUID
    at: datetime
