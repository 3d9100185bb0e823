"""What an assessment's signed content is, and its canonical JSON and hash.

The hash covers exactly the clinical content, who assessed and signed it, and when; nothing that the
database may legitimately change (there is nothing: a signed row is frozen by a trigger).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from patients.intake import asam

DIMENSION_FIELDS = tuple(name for n in asam.DIMENSION_NUMBERS for name in (f"d{n}_rating", f"d{n}_notes"))
WITHDRAWAL_FIELDS = (
    "prior_withdrawal_attempts",
    "withdrawal_seizures",
    "withdrawal_seizures_when",
    "withdrawal_delirium",
    "withdrawal_delirium_when",
    "complicated_withdrawal_notes",
)
CO_OCCURRING_FLAGS = (
    "has_depression",
    "has_anxiety_panic",
    "has_ptsd",
    "has_insomnia",
    "has_chronic_pain",
    "has_bipolar",
    "suicidality_current",
    "suicidality_past",
)
CO_OCCURRING_FIELDS = (*CO_OCCURRING_FLAGS, "co_occurring_notes")
MEDICATION_FIELDS = ("current_benzodiazepine", "daily_dose_mg")
RECOMMENDATION_FIELDS = ("recommended_level", "rationale", "departure_reason")

# What the clinician writes (form fields); amendments may change any of these.
EDITABLE_FIELDS = (
    "assessed_on",
    *DIMENSION_FIELDS,
    *WITHDRAWAL_FIELDS,
    *CO_OCCURRING_FIELDS,
    *MEDICATION_FIELDS,
    *RECOMMENDATION_FIELDS,
)
AMENDABLE_FIELDS = EDITABLE_FIELDS
# Hashed at signing: the editable content plus what the system recorded about it.
SIGNED_FIELDS = (
    "id",
    "patient_id",
    "assessed_by_id",
    *EDITABLE_FIELDS,
    "suggested_level",
    "signed_by_id",
    "signed_at",
)


def json_value(value: Any) -> Any:
    """One value as it goes into canonical JSON (and into an amendment's `changes`)."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return f"{value:.2f}"
    if hasattr(value, "hex") and not isinstance(value, (bytes, str, int, float)):  # UUID
        return str(value)
    return value


def canonical_json(content: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {key: json_value(value) for key, value in content.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signed_content(assessment: Any) -> dict[str, Any]:
    return {name: getattr(assessment, name) for name in SIGNED_FIELDS}


def amendment_content(
    *,
    previous_hash: str,
    sequence: int,
    changes: Mapping[str, Any],
    reason: str,
    author_id: int,
    signed_at: datetime.datetime,
    assessment_id: Any,
) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "previous_hash": previous_hash,
        "sequence": sequence,
        "changes": {key: json_value(value) for key, value in changes.items()},
        "reason": reason,
        "author_id": author_id,
        "signed_at": signed_at,
    }
