"""Taper plan fixtures: a psychiatrist, a nurse and a clinician in clinic A, and a plan input."""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from tests.conftest import make_member
from tests.taper.factories import START, plan_input

__all__ = ["START", "plan_input"]


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
