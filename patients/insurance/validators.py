"""Field rules taken from the pure eligibility package, so the app and the X12 builder agree, and the model
validation every insurance write runs."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Model

from patients.eligibility.inquiry import npi_is_valid


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(
            "Enter a valid 10-digit NPI (its last digit is a check digit; check for a typo)."
        )


def full_clean(obj: Model, *, exclude: Iterable[str] = ()) -> None:
    # Constraints are checked by the service itself (with field-level messages) or by the database.
    obj.full_clean(exclude=list(exclude), validate_constraints=False)
