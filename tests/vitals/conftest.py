"""Fixtures for the Django side of vitals: a clinic, its nurse, a patient, and helpers to record facts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role

NORMAL = {"systolic_bp": 122, "diastolic_bp": 78, "heart_rate": 72, "respiratory_rate": 16, "spo2": 98}


@pytest.fixture
def nurse(staff_a):
    return staff_a[Role.NURSE]


@pytest.fixture
def nurse_client(nurse):
    client = Client(raise_request_exception=True)
    client.force_login(nurse)
    return client


def client_for(user) -> Client:
    client = Client(raise_request_exception=True)
    client.force_login(user)
    return client


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
