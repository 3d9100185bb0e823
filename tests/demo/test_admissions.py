"""The demo pipeline: every stage represented, admitted inquiries linked and in care, idempotent."""

from __future__ import annotations

import random

import pytest

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from demo.admissions import seed_admissions
from patients.admissions import stages
from patients.admissions.models import Inquiry
from patients.models import CareEpisode, Patient
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_seed_fills_every_stage_and_is_idempotent(clinic_a, staff_a):
    patients = [
        make_patient(clinic_a, first_name=f"Demo{i}", last_name="Intakeperson", status="intake")
        for i in range(3)
    ]
    actor = staff_a[Role.ADMISSIONS]
    created = seed_admissions(clinic=clinic_a, actor=actor, patients=patients, rng=random.Random(7))
    assert created == 16
    with tenant_context(clinic_a):
        assert set(Inquiry.objects.values_list("stage", flat=True)) == {stage.value for stage in stages.Stage}
        for inquiry in Inquiry.objects.filter(stage="admitted"):
            assert inquiry.patient in patients
            assert CareEpisode.objects.filter(patient=inquiry.patient, ended_on__isnull=True).exists()
            assert Patient.objects.get(pk=inquiry.patient_id).status == Patient.Status.ACTIVE
        for inquiry in Inquiry.objects.all():
            history = list(inquiry.stage_changes.order_by("changed_at"))
            assert history[0].to_stage == "new" and history[-1].to_stage == inquiry.stage
            assert history[-1].changed_at == inquiry.stage_entered_at
    assert seed_admissions(clinic=clinic_a, actor=actor, patients=patients, rng=random.Random(7)) == 0
