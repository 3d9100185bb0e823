"""Inquiries for the admissions tests, made through the services like the app makes them."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from patients.admissions import stages
from patients.admissions.services import inquiry_advance, inquiry_convert_to_patient, inquiry_create
from tests.dates import clinic_date

INQUIRY = {
    "referral_source": "primary_care",
    "referral_detail": "Dr. Fennel, Elm Street Family Practice",
    "contact_name": "Morgan Quillfeather",
    "contact_relationship": "spouse",
    "contact_phone": "555-0142",
    "first_name": "Jordan",
    "last_name": "Quillfeather",
    "date_of_birth": datetime.date(1979, 4, 12),
    "phone": "555-0143",
    "email": "jordan@example.org",
    "reason": "Long-term clonazepam; wants a supervised taper.",
    "other_substances": ["alcohol"],
}
BENZOS = [{"drug": "clonazepam", "daily_dose_mg": "2"}]


def requirements_for(stage: stages.Stage) -> dict:
    return {
        stages.Stage.INTAKE_SCHEDULED: {"intake_at": timezone.now() + datetime.timedelta(days=2)},
        stages.Stage.ASSESSED: {"level_of_care": "iop"},
        stages.Stage.ADMITTED: {"level_of_care": "iop", "admitted_on": clinic_date()},
    }.get(stage, {})


def make_inquiry(clinic, actor=None, benzodiazepines=BENZOS, **fields):
    with tenant_context(clinic):
        return inquiry_create(actor=actor, fields={**INQUIRY, **fields}, benzodiazepines=benzodiazepines)


def walk_to(clinic, inquiry, stage: stages.Stage, actor=None):
    """Advance through the pipeline up to `stage` (converting to a patient before admitting)."""
    with tenant_context(clinic):
        while inquiry.stage != stage:
            following = stages.PIPELINE[stages.PIPELINE.index(stages.Stage(inquiry.stage)) + 1]
            if following == stages.Stage.ADMITTED and not inquiry.patient_id:
                inquiry_convert_to_patient(actor=actor, inquiry=inquiry, confirm_duplicate=True)
            inquiry = inquiry_advance(
                actor=actor, inquiry=inquiry, to_stage=following, **requirements_for(following)
            )
        return inquiry


@pytest.fixture
def inquiry_a(clinic_a, staff_a):
    from clinic.tenancy.roles import Role

    return make_inquiry(clinic_a, actor=staff_a[Role.ADMISSIONS])
