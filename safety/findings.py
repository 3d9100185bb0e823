"""What a safety rule hands to the alert pipeline. Pure: no Django import.

A rule evaluator (safety.evaluation, the sweeps) looks at facts and returns Findings; `alerts_raise` turns
each new one into an Alert. The dedup key names the event the finding is about (the rule, the patient and
the reading, score, check-in or day it fired on), so the same event found twice — by the on-save hook and
again by the sweep, or by a job run twice — is one alert.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

MAX_DEDUP_KEY = 200


@dataclass(frozen=True)
class Finding:
    rule_id: str
    patient_id: uuid.UUID
    dedup_key: str
    evidence: dict[str, Any]
    occurred_at: datetime.datetime

    def __post_init__(self) -> None:
        if not self.rule_id:
            raise ValueError("A finding needs its rule id")
        if not self.dedup_key or len(self.dedup_key) > MAX_DEDUP_KEY:
            raise ValueError(f"A finding's dedup key must be 1–{MAX_DEDUP_KEY} characters")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        if not isinstance(self.evidence, dict):
            raise TypeError("evidence must be a dict (it is stored as JSON)")


def dedup_key(rule_id: str, patient_id: uuid.UUID | str, *event: object) -> str:
    """The conventional key: `rule:patient:event…`, e.g. dedup_key("spo2_low", pid, reading_id) or
    dedup_key("checkin_missed", pid, "2026-03-08"). Same inputs, same key."""
    parts = [rule_id, str(patient_id), *(str(part) for part in event)]
    key = ":".join(parts)
    if len(key) > MAX_DEDUP_KEY:
        raise ValueError(f"dedup key longer than {MAX_DEDUP_KEY} characters: {key[:60]}…")
    return key
