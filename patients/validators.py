"""Field rules shared by the browser form and the API serializer (both read them off the model)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone

from patients.codes import lookup, unknown_code_message

MAX_AGE_YEARS = 120

mrn_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{0,19}$", "Use up to 20 capital letters, digits or dashes (for example SD-000123)."
)
phone_validator = RegexValidator(
    r"^\+?[0-9 ().-]{7,25}$", "Enter a phone number of 7–25 digits, spaces, dashes or brackets."
)
name_validator = RegexValidator(r"\S", "This cannot be blank.")


def validate_date_of_birth(value: date) -> None:
    today = timezone.localdate()
    if value > today:
        raise ValidationError("Date of birth cannot be in the future.")
    if value.year < today.year - MAX_AGE_YEARS:
        raise ValidationError(f"Date of birth is more than {MAX_AGE_YEARS} years ago; check the year.")


zip_validator = RegexValidator(
    r"^[0-9]{5}(-[0-9]{4})?$", "Enter a ZIP code of 5 digits, or ZIP+4 as 12345-6789."
)
identifier_system_validator = RegexValidator(
    r"^(urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^\s]+|https?://[^\s/]+[^\s]*)$",
    "Enter the identifier system as a URI: urn:oid:2.16.840.1.113883.… or https://ehr.example.org/mrn.",
)
identifier_value_validator = RegexValidator(
    r"^[^\s].{0,98}[^\s]$|^[^\s]$", "Enter the identifier without leading or trailing spaces."
)


def validate_not_future(value: date) -> None:
    if value > timezone.localdate():
        raise ValidationError("This date is in the future.")


def validate_diagnosis_code(value: str) -> None:
    if lookup(value) is None:
        raise ValidationError(unknown_code_message(value))
