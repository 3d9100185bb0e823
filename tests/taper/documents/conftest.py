"""Fixtures for taper documents: an active plan made through the services (the care team is the shared one,
tests/conftest.py)."""

from __future__ import annotations

import datetime

import pytest

from taper.services import PlanInput
from tests.dates import clinic_date
from tests.taper.factories import make_taper_plan
from tests.taper.factories import plan_input as factory_input

# Forty days ago, so doses can be recorded (never for a day that has not happened yet).
START = clinic_date() - datetime.timedelta(days=40)


def plan_input(**changes) -> PlanInput:
    """Diazepam 7.5 mg in the morning and 10 mg at night (17.5 mg DE: high, confirmed) from START."""
    values = dict(
        regimen=[
            {"drug": "diazepam", "dose_mg": "7.5", "time_of_day": "08:00"},
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"},
        ],
        start_date=START,
        high_dose_confirmation="17.5",
    )
    values.update(changes)
    return factory_input(**values)


def make_active_plan(clinic, patient, psychiatrist, **changes):
    return make_taper_plan(clinic, patient, psychiatrist, status="active", data=plan_input(**changes))


@pytest.fixture
def active_plan(clinic_a, patient_a, psychiatrist):
    return make_active_plan(clinic_a, patient_a, psychiatrist)
