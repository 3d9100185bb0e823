"""Demo Part 2 consents: recipients, TPO and named consents (one revoked, one expired, one unsigned) and a
few recorded disclosures. Synthetic only. Idempotent: a clinic that already has recipients is left alone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from django.core.exceptions import ValidationError

from clinic.actors import ActorLike
from clinic.tenancy.context import tenant_context
from clinic.tenancy.models import Clinic
from patients.consent import services
from patients.consent.models import Recipient
from patients.models import Patient

# Fictional people and organisations (.example addresses, 555 numbers).
RECIPIENTS = (
    {
        "name": "Dr. Priya Natarajan",
        "kind": "prescriber",
        "organization": "Maple Family Medicine",
        "address": "120 Maple Ave, Springfield",
        "phone": "555-0141",
        "fax": "555-0142",
    },
    {
        "name": "Dr. Marcus Bell",
        "kind": "treating_provider",
        "organization": "Riverside Psychiatry",
        "address": "8 River Rd, Springfield",
        "phone": "555-0150",
    },
    {
        "name": "Acme Health Plan",
        "kind": "health_plan",
        "organization": "Acme Health Plan",
        "address": "PO Box 100, Capital City",
        "phone": "555-0100",
    },
    {"name": "Jordan Reyes", "kind": "family", "phone": "555-0177"},
    {
        "name": "Heartland HIE",
        "kind": "intermediary",
        "organization": "Heartland Health Information Exchange",
        "participants": "Maple Family Medicine; Riverside Psychiatry; St. Anne Hospital",
    },
)


def seed_consent(*, clinic: Clinic, actor: ActorLike, patients: Sequence[Patient], rng: random.Random) -> int:
    """Returns how many consents were created."""
    with tenant_context(clinic):
        if Recipient.objects.exists():
            return 0
        recipients = [services.recipient_create(actor=actor, fields=spec) for spec in RECIPIENTS]
        prescriber, psychiatrist, plan, family, _hie = recipients
        today = services.clinic_today()
        created = 0
        for patient in patients:
            signed = max(today - dt.timedelta(days=rng.randint(5, 120)), patient.date_of_birth)
            plans = [
                (
                    {
                        "purpose": "tpo",
                        "general_designation": True,
                        "information_categories": ["all_records"],
                        "expiry_kind": "none",
                    },
                    [],
                ),
                (
                    {
                        "purpose": "treatment",
                        "information_categories": ["medications", "attendance"],
                        "expiry_kind": "event",
                        "expiry_event": "end of treatment",
                    },
                    [prescriber, psychiatrist],
                ),
            ]
            if rng.random() < 0.3:
                plans.append(
                    (
                        {
                            "purpose": "patient_request",
                            "information_categories": ["attendance"],
                            "expiry_kind": "date",
                            "expires_on": signed + dt.timedelta(days=90),
                        },
                        [family],
                    )
                )
            for fields, named in plans[: rng.randint(1, len(plans))]:
                values = {
                    **fields,
                    "signed_on": signed,
                    "signed_by": "patient",
                    "signature_method": rng.choice(["wet", "electronic"]),
                }
                if values["signature_method"] == "electronic":
                    values["signature_name"] = f"{patient.first_name} {patient.last_name}"
                try:
                    consent = services.consent_create(
                        actor=actor, patient=patient, fields=values, recipients=named
                    )
                except ValidationError:
                    continue  # e.g. a demo patient whose dates do not fit; the rest of the demo still loads
                created += 1
                if fields["purpose"] == "treatment" and rng.random() < 0.7:
                    services.disclose(
                        actor=actor,
                        patient=patient,
                        recipient=prescriber,
                        purpose="treatment",
                        information=["medications"],
                        channel=rng.choice(["fax", "pdf"]),
                        description="Weekly taper summary sent to the prescriber",
                    )
                elif fields["purpose"] == "tpo" and rng.random() < 0.5:
                    services.disclose(
                        actor=actor,
                        patient=patient,
                        recipient=plan,
                        purpose="payment",
                        information=["attendance", "diagnoses"],
                        channel="mail",
                        description="Attendance and diagnoses for a claim",
                    )
                if fields["purpose"] == "patient_request" and rng.random() < 0.5:
                    services.consent_revoke(
                        actor=actor,
                        consent=consent,
                        revoked_on=today,
                        method="oral",
                        reason="Patient no longer wants updates shared",
                    )
        return created
