"""The vitals demo seed: synthetic weeks of readings and scores for patients in treatment, once."""

from __future__ import annotations

import random

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.services import care_episode_start
from tests.dates import clinic_date
from vitals.models import InstrumentResult, VitalReading

pytestmark = pytest.mark.django_db


def test_seed_vitals_is_idempotent_and_only_for_patients_in_treatment(clinic_a, staff_a, patient_a):
    from demo.vitals import seed_vitals
    from tests.conftest import make_patient

    not_admitted = make_patient(clinic_a, first_name="Nia")
    with tenant_context(clinic_a):
        care_episode_start(actor=None, patient=patient_a, level="iop", started_on=clinic_date())
    nurse = staff_a[Role.NURSE]
    created = seed_vitals(
        clinic=clinic_a, actor=nurse, patients=[patient_a, not_admitted], rng=random.Random("t")
    )
    assert created > 10
    with tenant_context(clinic_a):
        assert set(VitalReading.objects.values_list("patient_id", flat=True)) == {patient_a.pk}
        assert set(InstrumentResult.objects.values_list("instrument", flat=True)) == {
            "ciwa_b",
            "phq9",
            "gad7",
        }
        assert not InstrumentResult.objects.filter(flags__contains=["phq9_item9_positive"]).exists()
    assert seed_vitals(clinic=clinic_a, actor=nurse, patients=[patient_a], rng=random.Random("t")) == 0
