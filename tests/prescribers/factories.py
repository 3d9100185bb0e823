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


def make_dispensation(clinic, patient, **changes: Any):
    """A PDMP fill straight into the table (the import's own tests go through the parsers)."""
    import uuid as _uuid

    from prescribers.models import Dispensation, PdmpImport

    filled_on = changes.pop("filled_on", datetime.date.today() - datetime.timedelta(days=2))
    days = changes.pop("days_supply", 30)
    values: dict[str, Any] = {
        "drug_text": "Alprazolam 1 MG Oral Tablet",
        "ingredient": "alprazolam",
        "drug_class": "benzodiazepine",
        "strength": Decimal(1),
        "strength_unit": "mg",
        "form": "tablet",
        "quantity": Decimal(60),
        "daily_amount": Decimal(2),
    }
    values.update(changes)
    with tenant_context(clinic):
        pdmp_import = changes.get("pdmp_import") or PdmpImport.objects.create(
            patient=patient, state="OR", format="fhir", storage_policy="raw"
        )
        values.pop("pdmp_import", None)
        return Dispensation.objects.create(
            patient=patient,
            pdmp_import=pdmp_import,
            fingerprint=_uuid.uuid4().hex,
            filled_on=filled_on,
            days_supply=days,
            supply_end=filled_on + datetime.timedelta(days=days - 1),
            **values,
        )
