"""Day-before reminders: the Today page's list for the front desk, marking a patient reminded, and the
optional transport that messages patients (off by default; says only that there is an appointment)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from scheduling import reminders
from scheduling.models import Booking, Occurrence
from scheduling.services import booking_add, booking_cancel
from tests.conftest import client_for, make_patient
from tests.dates import clinic_date
from tests.scheduling.factories import make_series

pytestmark = pytest.mark.django_db
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]


def _on(clinic, series, day: dt.date) -> Occurrence:
    with tenant_context(clinic):
        return Occurrence.objects.get(series=series, local_date=day)


def _book(clinic, occurrence, patient) -> Booking:
    with tenant_context(clinic):
        return booking_add(actor=None, occurrence=occurrence, patient=patient)


@pytest.fixture
def daily(clinic_a, staff_a):
    return make_series(
        clinic_a, staff_a[Role.CLINICIAN], title="Daily skills", weekdays=EVERY_DAY, capacity=40
    )


def _panel(html: str) -> str:
    """The reminders panel alone (the page's recent-patients list names patients too)."""
    start = html.index('id="reminders"')
    return html[start : html.index("</section>", start)]


def _patients(clinic, count: int, **fields):
    return [
        make_patient(clinic, first_name=f"Pat{i}", last_name=f"Remind{i}", status="active", **fields)
        for i in range(count)
    ]


def test_today_lists_tomorrows_booked_patients_only_and_marks_them_reminded(clinic_a, daily, admissions):
    tomorrow = clinic_date(clinic_a) + dt.timedelta(days=1)
    coming, cancelled, today_only, later = _patients(clinic_a, 4, phone="555-0142")
    booking = _book(clinic_a, _on(clinic_a, daily, tomorrow), coming)
    with tenant_context(clinic_a):
        booking_cancel(actor=None, booking=_book(clinic_a, _on(clinic_a, daily, tomorrow), cancelled))
    _book(clinic_a, _on(clinic_a, daily, tomorrow - dt.timedelta(days=1)), today_only)
    _book(clinic_a, _on(clinic_a, daily, tomorrow + dt.timedelta(days=1)), later)
    client = client_for(admissions)
    body = _panel(client.get(f"/c/{clinic_a.slug}/").content.decode())
    assert "Reminders for tomorrow" in body and "tel:555-0142" in body
    assert "Remind0" in body and not any(f"Remind{i}" in body for i in (1, 2, 3))
    url = f"/c/{clinic_a.slug}/schedule/bookings/{booking.pk}/reminded/"
    assert client.post(url).status_code == 302
    with tenant_context(clinic_a):
        booking.refresh_from_db()
        assert booking.reminded_at is not None and booking.reminded_via == "phone"
        assert AuditEvent.objects.filter(object_id=str(booking.pk), detail__reminded_via="phone").count() == 1
    client.post(url)  # twice keeps the first
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_id=str(booking.pk), detail__reminded_via="phone").count() == 1
    assert "Mark reminded" not in client.get(f"/c/{clinic_a.slug}/").content.decode()


def test_a_role_that_does_not_book_sees_no_list_and_cannot_mark(clinic_a, daily, auditor):
    tomorrow = clinic_date(clinic_a) + dt.timedelta(days=1)
    (patient,) = _patients(clinic_a, 1)
    booking = _book(clinic_a, _on(clinic_a, daily, tomorrow), patient)
    client = client_for(auditor)
    assert "Reminders for tomorrow" not in client.get(f"/c/{clinic_a.slug}/").content.decode()
    response = client.post(f"/c/{clinic_a.slug}/schedule/bookings/{booking.pk}/reminded/")
    assert response.status_code == 403


def test_today_query_count_is_flat_in_the_number_of_bookings(
    clinic_a, daily, admissions, django_assert_max_num_queries
):
    tomorrow = _on(clinic_a, daily, clinic_date(clinic_a) + dt.timedelta(days=1))
    people = _patients(clinic_a, 24)
    client = client_for(admissions)
    for patient in people[:2]:
        _book(clinic_a, tomorrow, patient)
    client.get(f"/c/{clinic_a.slug}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/c/{clinic_a.slug}/")
    for patient in people[2:]:
        _book(clinic_a, tomorrow, patient)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = _panel(client.get(f"/c/{clinic_a.slug}/").content.decode())
    assert body.count("Mark reminded<") == 24


def test_transport_is_off_by_default_and_sends_once_without_clinical_detail(clinic_a, daily):
    tomorrow = clinic_date(clinic_a) + dt.timedelta(days=1)
    with_mail, without_mail = _patients(clinic_a, 1, email="pat.remind@example.org") + _patients(clinic_a, 1)
    _book(clinic_a, _on(clinic_a, daily, tomorrow), with_mail)
    _book(clinic_a, _on(clinic_a, daily, tomorrow), without_mail)
    with tenant_context(clinic_a):
        assert reminders.reminders_send(day=tomorrow) == 0 and not mail.outbox
        with override_settings(STEPDOWN_REMINDER_TRANSPORT="scheduling.reminders.EmailTransport"):
            assert reminders.reminders_send(day=tomorrow) == 1
            assert reminders.reminders_send(day=tomorrow) == 0  # never twice
        assert Booking.objects.filter(patient=with_mail, reminded_via="email").count() == 1
        assert Booking.objects.get(patient=without_mail).reminded_at is None
    (message,) = mail.outbox
    assert message.to == ["pat.remind@example.org"] and "appointment tomorrow" in message.body
    assert "skills" not in message.body.lower() and clinic_a.name not in message.body


def test_reminders_are_due_from_the_reminder_hour_of_the_clinics_own_day(clinic_a):
    from zoneinfo import ZoneInfo

    clinic_a.timezone = "Pacific/Auckland"
    zone = ZoneInfo(clinic_a.timezone)
    afternoon = dt.datetime(2026, 7, 14, 15, 59, tzinfo=zone)
    with tenant_context(clinic_a), override_settings(STEPDOWN_REMINDER_HOUR=16):
        assert reminders.reminders_due_day(afternoon) is None
        assert reminders.reminders_due_day(afternoon + dt.timedelta(minutes=1)) == dt.date(2026, 7, 15)
        # the same instant is 23:59 on the 13th in Honolulu: its tomorrow is the 14th
        clinic_a.timezone = "Pacific/Honolulu"
        assert reminders.reminders_due_day(afternoon) == dt.date(2026, 7, 14)


def test_the_hourly_job_sends_tomorrows_reminders_once_and_only_with_a_transport(clinic_a, daily):
    from django.conf import settings

    from scheduling import tasks

    assert settings.CELERY_BEAT_SCHEDULE["session-reminders"]["task"] == tasks.send_all_reminders.name
    patient = _patients(clinic_a, 1, email="pat.job@example.org")[0]
    _book(clinic_a, _on(clinic_a, daily, clinic_date(clinic_a) + dt.timedelta(days=1)), patient)
    assert tasks.send_all_reminders.apply().get() == 0  # no transport: no clinic is even visited
    with override_settings(STEPDOWN_REMINDER_TRANSPORT="scheduling.reminders.EmailTransport"):
        with override_settings(STEPDOWN_REMINDER_HOUR=24):  # never evening yet
            assert tasks.send_reminders.apply(args=[clinic_a.pk]).get() == 0
        with override_settings(STEPDOWN_REMINDER_HOUR=0):
            assert tasks.send_reminders.apply(args=[clinic_a.pk]).get() == 1
            assert tasks.send_reminders.apply(args=[clinic_a.pk]).get() == 0
    assert [m.to for m in mail.outbox] == [["pat.job@example.org"]]
