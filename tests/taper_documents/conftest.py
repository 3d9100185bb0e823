"""Fixtures for taper documents: an active plan made through the services, and the care team."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper import services
from taper.services import PlanInput
from tests.conftest import make_member

# Forty days ago, so doses can be recorded (never for a day that has not happened yet).
START = datetime.date.today() - datetime.timedelta(days=40)


def plan_input(**changes) -> PlanInput:
    values = dict(
        regimen=[
            {"drug": "diazepam", "dose_mg": "7.5", "time_of_day": "08:00"},
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


@pytest.fixture
def psychiatrist(clinic_a):
    return make_member(clinic_a, Role.PSYCHIATRIST)


@pytest.fixture
def nurse(clinic_a):
    return make_member(clinic_a, Role.NURSE)


def make_active_plan(clinic, patient, psychiatrist, **changes):
    with tenant_context(clinic):
        plan = services.plan_create(actor=psychiatrist, patient=patient, data=plan_input(**changes))
        services.plan_approve(actor=psychiatrist, plan=plan)
        return services.plan_activate(actor=psychiatrist, plan=plan)


@pytest.fixture
def active_plan(clinic_a, patient_a, psychiatrist):
    return make_active_plan(clinic_a, patient_a, psychiatrist)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
