"""Taper plan fixtures: a psychiatrist, a nurse and a clinician in clinic A, and a plan input."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from clinic.tenancy.context import tenant_context
from taper.services import PlanInput
from tests.conftest import make_member

START = datetime.date(2026, 1, 5)


@pytest.fixture
def psychiatrist_a(clinic_a):
    return make_member(clinic_a, "psychiatrist")


@pytest.fixture
def nurse_a(clinic_a):
    return make_member(clinic_a, "nurse")


@pytest.fixture
def clinician_a(clinic_a):
    return make_member(clinic_a, "clinician")


@pytest.fixture
def in_a(clinic_a):
    with tenant_context(clinic_a):
        yield clinic_a


def plan_input(**changes) -> PlanInput:
    values = dict(
        regimen=[
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "08:00"},
            {"drug": "diazepam", "dose_mg": "10", "time_of_day": "21:00"},
        ],
        start_date=START,
        rate_percent=Decimal(10),
        interval_days=14,
        table="ashton",
        strategy="direct",
    )
    values.update(changes)
    return PlanInput(**values)
