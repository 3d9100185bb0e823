"""Prescribers, pharmacies and medications for tests (synthetic people; NPIs and DEA numbers pass their
check digits but are made up)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from clinic.tenancy.context import tenant_context

# Valid check digits (Luhn over 80840 + NPI; DEA weighted sum), not real registrations.
NPIS = ["1234567893", "1000003990", "1987654328", "1245319599", "1679576722", "1104202761", "1987654336"]
DEAS = ["AP5836727", "BS1234563", "FM2345672", "AB1234563"]


def prescriber_fields(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"first_name": "Robin", "last_name": "Hale", "credentials": "MD", "npi": NPIS[0]}
    values.update(changes)
    return values


def make_prescriber(clinic, **changes: Any):
    from prescribers.services import prescriber_create

    with tenant_context(clinic):
        return prescriber_create(actor=None, fields=prescriber_fields(**changes))


def medication_fields(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "drug_text": "Oxycodone 10 mg tablet",
        "strength": Decimal("10"),
        "strength_unit": "mg",
        "dose": Decimal("1"),
        "dose_unit": "tablet",
        "doses_per_day": Decimal("4"),
        "start_on": datetime.date.today() - datetime.timedelta(days=3),
    }
    values.update(changes)
    return values


def make_medication(clinic, patient, **changes: Any):
    from prescribers.services import medication_create

    with tenant_context(clinic):
        return medication_create(actor=None, patient=patient, fields=medication_fields(**changes))
