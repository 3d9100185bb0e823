"""Taper plan fixtures: a plan input, and a test run inside clinic A (`in_a`). The psychiatrist, nurse and
clinician are the shared people of clinic A (tests/conftest.py)."""

from __future__ import annotations

import pytest

from clinic.tenancy.context import tenant_context
from tests.taper.factories import START, plan_input

__all__ = ["START", "plan_input"]


@pytest.fixture
def in_a(clinic_a):
    with tenant_context(clinic_a):
        yield clinic_a
