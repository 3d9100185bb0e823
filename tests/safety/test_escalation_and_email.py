"""Escalation after the clinic-set time and the emails: claimed before sending, so a task that runs twice
(or two sweeps) sends one email. Explicit `now` values instead of sleeping."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety import services
from safety.models import Alert, AlertEvent
from safety.services import alert_notify, alerts_escalate_due, safety_settings_update
from safety.tasks import escalate_alerts, notify_alert
from tests.conftest import make_patient
from tests.safety.conftest import T0, raise_one

pytestmark = pytest.mark.django_db

MIN = datetime.timedelta(minutes=1)


def _set_minutes(clinic, admin, minutes: int, recipients: list[int] | None = None) -> None:
    with tenant_context(clinic):
        safety_settings_update(
            actor=admin,
            escalate_after_minutes=minutes,
            checkin_cutoff=datetime.time(20, 0),
            on_call_user_ids=recipients or [],
            on_call_emails=["oncall@alder.example.org"],
        )


def test_escalates_after_the_clinic_set_time_only(clinic_a, staff_a, patient_a):
    _set_minutes(clinic_a, staff_a[Role.CLINIC_ADMIN], 45)
    alert = raise_one(clinic_a, patient_a, now=T0)
    assert alerts_escalate_due(clinic=clinic_a, now=T0 + 44 * MIN) == []
    assert alerts_escalate_due(clinic=clinic_a, now=T0 + 45 * MIN) == [alert.pk]
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).escalated_at == T0 + 45 * MIN
        assert AlertEvent.objects.filter(alert=alert, kind="escalated").get().note == (
            "Not acknowledged within 45 minutes"
        )


def test_acknowledged_closed_and_lower_severity_alerts_do_not_escalate(clinic_a, staff_a, patient_a):
    nurse = staff_a[Role.NURSE]
    acknowledged = raise_one(clinic_a, patient_a, now=T0)
    dismissed = raise_one(clinic_a, patient_a, now=T0)
    raise_one(clinic_a, patient_a, "checkin_missed", now=T0)
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=nurse, alert=acknowledged)
        services.alert_dismiss(actor=nurse, alert=dismissed, reason="Probe slipped.")
    assert alerts_escalate_due(clinic=clinic_a, now=T0 + datetime.timedelta(days=1)) == []


def test_each_clinic_uses_its_own_time(clinic_a, clinic_b, staff_a, staff_b, patient_a, patient_b):
    _set_minutes(clinic_a, staff_a[Role.CLINIC_ADMIN], 10)
    _set_minutes(clinic_b, staff_b[Role.CLINIC_ADMIN], 60)
    raise_one(clinic_a, patient_a, now=T0)
    raise_one(clinic_b, patient_b, now=T0)
    assert len(alerts_escalate_due(clinic=clinic_a, now=T0 + 15 * MIN)) == 1
    assert alerts_escalate_due(clinic=clinic_b, now=T0 + 15 * MIN) == []


def test_escalation_sends_exactly_one_email_even_when_run_twice(
    clinic_a, staff_a, patient_a, eager_celery, django_capture_on_commit_callbacks
):
    _set_minutes(clinic_a, staff_a[Role.CLINIC_ADMIN], 30, recipients=[staff_a[Role.NURSE].pk])
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_one(clinic_a, patient_a, now=T0)  # the new-alert email
    assert len(mail.outbox) == 1
    mail.outbox.clear()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            alerts_escalate_due(clinic=clinic_a, now=T0 + 31 * MIN)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.startswith("ESCALATED: Critical safety alert")
    assert set(message.to) == {staff_a[Role.NURSE].email, "oncall@alder.example.org"}
    assert f"/c/clinic-a/alerts/{alert.pk}/" in message.body
    # And the escalation task itself, twice, sends nothing more.
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            notify_alert.delay(clinic_a.pk, str(alert.pk), "escalation")
    assert len(mail.outbox) == 1


def test_notify_twice_sends_one_email_without_patient_details(clinic_a, staff_a, on_call):
    patient = make_patient(clinic_a, first_name="Quincy", last_name="Zephyrine", mrn="SD-424242")
    alert = raise_one(clinic_a, patient, "phq9_item9_positive", answer=1)
    with tenant_context(clinic_a):
        assert alert_notify(alert_id=alert.pk) is True
        assert alert_notify(alert_id=alert.pk) is False
        assert Alert.objects.get(pk=alert.pk).notified_at is not None
        notes = list(AlertEvent.objects.filter(alert=alert, kind="notified").values_list("note", flat=True))
    assert len(mail.outbox) == 1 and len(notes) == 1
    message = mail.outbox[0]
    assert message.to == on_call
    assert message.subject == "Critical safety alert at Alder Clinic: PHQ-9 item 9 answered above zero"
    text = message.subject + message.body
    for private in (patient.first_name, patient.last_name, patient.mrn, str(patient.pk), "1980"):
        assert private not in text
    assert "minimum necessary" in message.body


def test_no_on_call_staff_means_no_email_and_the_history_says_so(clinic_a, patient_a):
    alert = raise_one(clinic_a, patient_a)
    with tenant_context(clinic_a):
        assert alert_notify(alert_id=alert.pk) is False
        event = AlertEvent.objects.get(alert=alert, kind="not_notified")
    assert "no on-call staff" in event.note.lower() and mail.outbox == []


def test_an_alert_acknowledged_before_the_email_goes_is_not_emailed(clinic_a, staff_a, patient_a, on_call):
    alert = raise_one(clinic_a, patient_a)
    with tenant_context(clinic_a):
        services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=alert)
        assert alert_notify(alert_id=alert.pk) is False
    assert mail.outbox == []


def test_a_failed_send_releases_the_claim_so_the_retry_sends(clinic_a, patient_a, on_call, monkeypatch):
    from django.core.mail import EmailMessage

    alert = raise_one(clinic_a, patient_a)
    real_send = EmailMessage.send

    def broken(self, *args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(EmailMessage, "send", broken)
    with tenant_context(clinic_a), pytest.raises(OSError):
        alert_notify(alert_id=alert.pk)
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).notified_at is None
    monkeypatch.setattr(EmailMessage, "send", real_send)
    with tenant_context(clinic_a):
        assert alert_notify(alert_id=alert.pk) is True
    assert len(mail.outbox) == 1


def test_deactivated_on_call_member_is_not_emailed(clinic_a, staff_a, patient_a, on_call):
    from clinic.tenancy.models import Membership

    Membership.objects.filter(user=staff_a[Role.NURSE], clinic=clinic_a).update(is_active=False)
    alert = raise_one(clinic_a, patient_a)
    with tenant_context(clinic_a):
        alert_notify(alert_id=alert.pk)
    assert mail.outbox[0].to == ["pager@alder.example.org"]


def test_the_escalation_job_also_resends_notifications_that_were_lost(
    clinic_a, patient_a, on_call, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    from safety import services as module

    raise_one(clinic_a, patient_a, now=T0)  # its on-commit email never ran (this test's transaction)
    raise_one(clinic_a, make_patient(clinic_a, mrn="SD-777777"), "checkin_missed", now=T0)
    monkeypatch.setattr(module.timezone, "now", lambda: T0 + 10 * MIN)
    with django_capture_on_commit_callbacks(execute=True):
        result = escalate_alerts.delay(clinic_a.pk).get()
    assert result == {"escalated": 0, "notifications_requeued": 1}
    assert len(mail.outbox) == 1
