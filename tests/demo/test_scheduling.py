"""The scheduling demo: programs, groups with two weeks of history, patients enrolled at their level of
care, past attendance taken and notes signed by the facilitator; once."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from patients.services import care_episode_start
from scheduling.models import Booking, Enrolment, Occurrence, SessionNote

pytestmark = pytest.mark.django_db


def test_seed_scheduling_enrols_patients_in_treatment_and_records_the_past_once(clinic_a, staff_a, patient_a):
    from demo.scheduling import seed_scheduling
    from tests.conftest import make_patient

    not_admitted = make_patient(clinic_a, first_name="Nia")
    with tenant_context(clinic_a):
        started = clinic_today() - dt.timedelta(days=40)
        care_episode_start(actor=None, patient=patient_a, level="iop", started_on=started)
    admin = staff_a[Role.CLINIC_ADMIN]
    for role in (Role.CLINICIAN, Role.NURSE, Role.PSYCHIATRIST):  # the facilitators the demo asks for
        staff_a[role]
    created = seed_scheduling(
        clinic=clinic_a, actor=admin, patients=[patient_a, not_admitted], rng=random.Random("t")
    )
    assert created > 10
    with tenant_context(clinic_a):
        today = clinic_today()
        enrolment = Enrolment.objects.get()
        assert (enrolment.patient_id, enrolment.program.level) == (patient_a.pk, "iop")
        past = Booking.objects.filter(patient=patient_a, occurrence__local_date__lt=today)
        assert past.exists() and not past.filter(attendance="").exists()
        future = Booking.objects.filter(patient=patient_a, occurrence__local_date__gt=today)
        assert future.exists() and not future.exclude(attendance="").exists()
        past_sessions = Occurrence.objects.filter(local_date__lt=today, bookings__isnull=False).distinct()
        signed = SessionNote.objects.filter(occurrence__in=past_sessions, signed_at__isnull=False)
        assert signed.count() == past_sessions.count()
        assert not Booking.objects.filter(patient=not_admitted).exists()
    assert seed_scheduling(clinic=clinic_a, actor=admin, patients=[patient_a], rng=random.Random("t")) == 0
