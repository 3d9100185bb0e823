"""Prescribers, pharmacies and medications for tests (synthetic people; NPIs and DEA numbers pass their
check digits but are made up)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from clinic.tenancy.context import tenant_context
from tests.dates import clinic_date

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
        "start_on": clinic_date() - datetime.timedelta(days=3),
    }
    values.update(changes)
    return values


def make_medication(clinic, patient, **changes: Any):
    from prescribers.services import medication_create

    with tenant_context(clinic):
        return medication_create(actor=None, patient=patient, fields=medication_fields(**changes))


def make_dispensation(clinic, patient, **changes: Any):
    """A PDMP fill on file, as an import would leave it: a PdmpImport and its Dispensation, written with the
    ORM (classified from the drug table like the import does). `import_fields` changes the import."""
    import uuid

    from django.utils import timezone

    from prescribers.models import Dispensation, PdmpImport
    from prescribers.services import classify

    import_changes = changes.pop("import_fields", {})
    filled_on = changes.pop("filled_on", clinic_date() - datetime.timedelta(days=5))
    days_supply = changes.pop("days_supply", 30)
    with tenant_context(clinic):
        pdmp_import = changes.pop("pdmp_import", None) or PdmpImport.objects.create(
            **{
                "patient": patient,
                "state": "OR",
                "format": PdmpImport.Format.FHIR,
                "storage_policy": "raw",
                "queried_at": timezone.now() - datetime.timedelta(hours=1),
                "transaction_id": f"txn-{uuid.uuid4().hex[:12]}",
                "fill_count": 1,
                "new_fill_count": 1,
                "imported_by_label": "Test Nurse",
                **import_changes,
            }
        )
        values: dict[str, Any] = {
            "drug_text": "Alprazolam 1 mg tablet",
            "strength": Decimal("1"),
            "strength_unit": "mg",
            "form": "tablet",
            "quantity": Decimal("60"),
            "quantity_unit": "tablet",
            "daily_amount": Decimal("2"),
            "prescriber_name": "Robin Hale",
            "pharmacy_name": "Corner Pharmacy",
            **changes,
        }
        dispensation = Dispensation(
            patient=patient,
            pdmp_import=pdmp_import,
            fingerprint=uuid.uuid4().hex,
            filled_on=filled_on,
            days_supply=days_supply,
            supply_end=filled_on + datetime.timedelta(days=days_supply - 1),
            **values,
        )
        classify(dispensation)
        dispensation.save()
        return dispensation


def make_fill(clinic, patient, *, prescriber=None, pharmacy=None, **changes: Any):
    """A PDMP fill ten days ago by default (the medication-list page tests)."""
    changes.setdefault("filled_on", clinic_date() - datetime.timedelta(days=10))
    return make_dispensation(clinic, patient, prescriber=prescriber, pharmacy=pharmacy, **changes)


def make_pharmacy(clinic, name: str = "Riverside Pharmacy", **fields: Any):
    from prescribers.services import pharmacy_resolve

    with tenant_context(clinic):
        return pharmacy_resolve(actor=None, name=name, **fields)
