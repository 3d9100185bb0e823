"""Fixtures of the alert pipeline tests: findings, alerts raised through alerts_raise, people, and Celery in
eager mode (a task sent after commit runs right there, so an email it sends lands in mail.outbox)."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.test import Client

from clinic.tenancy.roles import Role
from safety.findings import Finding
from tests.conftest import client_for, make_member

_serial = itertools.count(1)
T0 = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def finding(patient, rule_id: str = "spo2_low", key: str | None = None, **evidence) -> Finding:
    return Finding(
        rule_id=rule_id,
        patient_id=patient.pk,
        dedup_key=key or f"{rule_id}:{patient.pk}:{next(_serial)}",
        evidence=evidence or {"kind": "vital_reading", "values": {"spo2": "89"}},
        occurred_at=T0,
    )


def raise_one(clinic, patient, rule_id: str = "spo2_low", *, now=None, **kwargs):
    from safety.services import alerts_raise

    return alerts_raise(clinic=clinic, findings=[finding(patient, rule_id, **kwargs)], now=now)[0]


@pytest.fixture
def eager_celery():
    from clinic.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def on_call(clinic_a, staff_a):
    """The clinic's nurse is on call (by membership) plus one extra mailbox."""
    from clinic.tenancy.context import tenant_context
    from safety.services import safety_settings_update

    nurse = staff_a[Role.NURSE]
    with tenant_context(clinic_a):
        safety_settings_update(
            actor=staff_a[Role.CLINIC_ADMIN],
            escalate_after_minutes=30,
            checkin_cutoff=datetime.time(20, 0),
            on_call_user_ids=[nurse.pk],
            on_call_emails=["pager@alder.example.org"],
        )
    return [nurse.email, "pager@alder.example.org"]


@pytest.fixture
def clinician_client(clinician) -> Client:
    return client_for(clinician)


@pytest.fixture
def other_clinician(clinic_a):
    return make_member(clinic_a, Role.CLINICIAN, email="second.clinician@clinic-a.example.org")
