"""The check-in page also says when the patient's next sessions are: theirs only, not cancelled ones."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from scheduling.models import Occurrence
from scheduling.services import booking_add, booking_cancel
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.scheduling.factories import make_room, make_series
from tests.vitals.checkins.factories import link_path

pytestmark = pytest.mark.django_db


def _upcoming(clinic, series, count: int) -> list[Occurrence]:
    with tenant_context(clinic):
        return list(
            Occurrence.objects.filter(series=series, local_date__gt=clinic_date(clinic)).order_by(
                "starts_at"
            )[:count]
        )


def test_the_page_lists_the_patients_next_sessions_and_not_others_or_cancelled(
    clinic_a, patient, link, staff_a
):
    room = make_room(clinic_a, "Garden room")
    series = make_series(clinic_a, staff_a[Role.CLINICIAN], title="Evening skills", room=room, minutes=90)
    other = make_patient(clinic_a, first_name="Bo", last_name="Other", status="active")
    first, second, third = _upcoming(clinic_a, series, 3)
    with tenant_context(clinic_a):
        kept = booking_add(actor=None, occurrence=first, patient=patient)
        dropped = booking_add(actor=None, occurrence=second, patient=patient)
        booking_cancel(actor=None, booking=dropped, reason="Away")
        booking_add(actor=None, occurrence=third, patient=other)
    body = Client().get(link_path(clinic_a, link)).content.decode()
    assert "Your next sessions" in body and "Garden room" in body and "(90 min)" in body
    local = kept.starts_at.astimezone(ZoneInfo(clinic_a.timezone))  # the clinic's wall clock
    assert f"{local:%A, %b} {local.day} at {local.hour % 12 or 12}:{local:%M %p}" in body
    assert body.count("Evening skills") == 1  # the cancelled one and the other patient's are not shown


def test_no_sessions_no_section(clinic_a, link):
    body = Client().get(link_path(clinic_a, link)).content.decode()
    assert "Your next sessions" not in body
