"""Field rules taken from the pure eligibility package, so the app and the X12 builder agree."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from patients.eligibility.inquiry import npi_is_valid


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(
            "Enter a valid 10-digit NPI (its last digit is a check digit; check for a typo)."
        )
