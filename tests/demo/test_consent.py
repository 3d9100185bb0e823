"""The consent demo loader adds realistic consents and disclosures once, and nothing on a second run."""

from __future__ import annotations

import random

import pytest

from clinic.tenancy.context import tenant_context
from demo.consent import seed_consent
from patients.consent.models import Consent, Disclosure
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent(clinic_a):
    patients = [make_patient(clinic_a, first_name=f"Demo{n}", last_name="Person") for n in range(6)]
    created = seed_consent(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(7))
    assert created >= 6
    with tenant_context(clinic_a):
        counts = Consent.objects.count(), Disclosure.objects.count()
        assert counts[1] > 0
    assert seed_consent(clinic=clinic_a, actor=None, patients=patients, rng=random.Random(7)) == 0
    with tenant_context(clinic_a):
        assert (Consent.objects.count(), Disclosure.objects.count()) == counts
