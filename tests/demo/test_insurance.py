import random

import pytest

from clinic.tenancy.context import tenant_context
from demo.insurance import seed_insurance
from patients.insurance.models import Authorization, Coverage
from tests.conftest import make_patient
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db


def test_seed_insurance_is_idempotent(clinic_a):

    from patients.services import care_episode_start

    patients = [make_patient(clinic_a, first_name=f"Demo{n}", last_name="Seed") for n in range(8)]
    with tenant_context(clinic_a):  # authorizations are only made for patients in treatment
        for patient in patients[:4]:
            care_episode_start(actor=None, patient=patient, level="iop", started_on=clinic_date())
    created = seed_insurance(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(3))
    assert created > 0
    assert seed_insurance(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(3)) == 0
    with tenant_context(clinic_a):
        assert Coverage.objects.count() == created and Authorization.objects.exists()
        # Each authorization is for the level of care its patient is at.
        assert set(Authorization.objects.values_list("level_of_care", flat=True)) == {"iop"}
