"""Builders for consent tests and the tenancy registry: recipients, consents, disclosures in a clinic."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from clinic.tenancy.context import tenant_context
from patients.consent import services
from patients.consent.models import Consent, Disclosure, Recipient
from tests.dates import clinic_date

_serial = itertools.count(1)


def recipient_in(clinic, *, kind: str = "prescriber", **fields) -> Recipient:
    n = next(_serial)
    values = {
        "name": f"Dr. Rowan Prescott {n}",
        "kind": kind,
        "organization": "Maple Family Medicine",
        "address": "12 Elm St, Springfield",
        **fields,
    }
    if kind == "intermediary":
        values.setdefault("participants", "Maple Family Medicine; Riverside Hospital")
    with tenant_context(clinic):
        return services.recipient_create(actor=None, fields=values)


def signed_fields(**overrides) -> dict[str, Any]:
    today = clinic_date()
    return {
        "purpose": "treatment",
        "information_categories": ["medications", "attendance"],
        "expiry_kind": "date",
        "expires_on": today + datetime.timedelta(days=180),
        "signed_on": today - datetime.timedelta(days=10),
        "signed_by": "patient",
        "signature_method": "wet",
        **overrides,
    }


def consent_in(clinic, patient, *, recipients=(), **overrides) -> Consent:
    with tenant_context(clinic):
        return services.consent_create(
            actor=None, patient=patient, fields=signed_fields(**overrides), recipients=list(recipients)
        )


def tpo_fields(**overrides) -> dict[str, Any]:
    return signed_fields(
        purpose="tpo",
        general_designation=True,
        information_categories=["all_records"],
        expiry_kind="none",
        expires_on=None,
        **overrides,
    )


def disclosure_in(clinic, patient) -> Disclosure:
    recipient = recipient_in(clinic)
    consent_in(clinic, patient, recipients=[recipient])
    with tenant_context(clinic):
        return services.disclose(
            actor=None,
            patient=patient,
            recipient=recipient,
            purpose="treatment",
            information=["medications"],
            channel="fax",
            description="Taper summary faxed to prescriber",
        )


def tpo_consent_in(clinic, patient) -> Consent:
    """The single TPO consent most patients sign at admission: covers payers (e.g. eligibility inquiries)."""
    with tenant_context(clinic):
        return services.consent_create(actor=None, patient=patient, fields=tpo_fields(), recipients=[])
