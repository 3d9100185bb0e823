"""Vitals fixtures: the nurse's browser, and helpers that record readings and scores through the services.

The people and clinics are the shared ones (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from tests.conftest import client_for

NORMAL = {"systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 72, "respiratory_rate": 16, "spo2": 98}


@pytest.fixture
def nurse_client(nurse) -> Client:
    return client_for(nurse)


def record(clinic, patient, *, actor=None, minutes_ago=10, values=None, **extra):
    from vitals.services import vitals_record

    values = NORMAL if values is None else values
    kwargs = {
        "taken_by": "Nurse Ratched",
        "source": "clinic",
        "position": "sitting" if "systolic_bp" in values or "diastolic_bp" in values else "",
        **extra,
    }
    with tenant_context(clinic):
        return vitals_record(
            actor=actor,
            patient=patient,
            taken_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
            values=values,
            **kwargs,
        )


def score(clinic, patient, instrument, answers, *, actor=None, minutes_ago=5):
    from vitals.services import instrument_result_record

    with tenant_context(clinic):
        return instrument_result_record(
            actor=actor,
            patient=patient,
            instrument=instrument,
            answers=answers,
            completed_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
            source="clinic",
        )
