"""The intake demo seed writes valid, varied assessments once and nothing on a second run."""

from __future__ import annotations

import random

import pytest

from clinic.tenancy.context import tenant_context
from demo.intake import seed_intake
from patients.intake.models import AssessmentAmendment, IntakeAssessment
from tests.conftest import make_patient
from tests.patients.intake.factories import make_clinician

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", range(4))  # several random draws, so the amendment's departure rule is hit
def test_seed_is_idempotent_and_covers_every_state(clinic_a, seed):
    clinician = make_clinician(clinic_a)
    patients = [make_patient(clinic_a, first_name="Demo", last_name=f"Person{n}") for n in range(7)]
    assert seed_intake(clinic=clinic_a, actor=clinician, patients=patients, rng=random.Random(seed)) == 6
    assert seed_intake(clinic=clinic_a, actor=clinician, patients=patients, rng=random.Random(seed)) == 0
    with tenant_context(clinic_a):
        statuses = list(IntakeAssessment.objects.values_list("status", flat=True))
        assert statuses.count("signed") == 5 and statuses.count("draft") == 1
        assert AssessmentAmendment.objects.count() == 1
