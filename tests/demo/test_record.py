"""The record demo seeder fills records through the services and is idempotent."""

from __future__ import annotations

import random

import pytest

from clinic.tenancy.context import tenant_context
from demo.record import seed_record
from patients.models import Allergy, CareEpisode, Diagnosis, ExternalIdentifier, SubstanceUse
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_seed_record_fills_records_once(clinic_a):
    patients = [make_patient(clinic_a, last_name=f"Demo{n}", status="active") for n in range(4)]
    assert seed_record(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(7)) == 4
    with tenant_context(clinic_a):
        counts = [
            m.objects.count() for m in (Allergy, Diagnosis, ExternalIdentifier, SubstanceUse, CareEpisode)
        ]
        assert Diagnosis.objects.filter(is_primary=True).count() == 4
        assert CareEpisode.objects.filter(ended_on__isnull=True).count() == 4
    assert all(counts)
    assert seed_record(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(7)) == 0
    with tenant_context(clinic_a):
        assert [
            m.objects.count() for m in (Allergy, Diagnosis, ExternalIdentifier, SubstanceUse, CareEpisode)
        ] == counts
