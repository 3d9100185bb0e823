"""Check-in fixtures: a patient in treatment (a check-in link needs an active patient) and their link."""

from __future__ import annotations

import pytest

from tests.conftest import make_patient
from tests.vitals.checkins.factories import make_link


@pytest.fixture
def patient(clinic_a):
    """Active, unlike the shared `patient_a` (in intake); "Quill" must never show on the patient's page."""
    return make_patient(clinic_a, first_name="Avery", last_name="Quill", status="active")


@pytest.fixture
def link(clinic_a, patient):
    return make_link(clinic_a, patient)
