"""Prescribers of record, the coordination log and tasks, and the tasks due on the Today page."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.tenancy.context import tenant_context
from prescribers import services
from prescribers.models import CoordinationEntry, CoordinationTask, PatientPrescriber
from tests.conftest import client_for, make_patient
from tests.dates import clinic_date
from tests.prescribers.factories import NPIS, make_medication, make_prescriber

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"prescribers:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def _outside_benzo(clinic, patient, last_name="Outside", npi=NPIS[1]):
    outside = make_prescriber(clinic, npi=npi, last_name=last_name)
    make_medication(
        clinic,
        patient,
        drug_text="Alprazolam 1 mg tablet",
        strength=Decimal("1"),
        doses_per_day=Decimal("2"),
        prescriber=outside,
    )
    return outside


# --- prescribers of record -------------------------------------------------------------------------------
def test_a_psychiatrist_names_the_benzo_prescriber_and_the_tasks_opened_are_shown(
    clinic_a, patient_a, psychiatrist
):
    ours = make_prescriber(clinic_a, npi=NPIS[0], last_name="Ours", in_program=True)
    outside = _outside_benzo(clinic_a, patient_a)
    client = client_for(psychiatrist)
    response = client.post(
        url("of-record-set", clinic_a, patient_id=patient_a.pk),
        {"prescriber": str(ours.pk), "role": "benzo"},
        follow=True,
    )
    body = response.content.decode()
    assert "is now benzodiazepine prescriber of record" in body
    assert "1 coordination task opened" in body
    assert f"Ask {outside.display_name} to consolidate" in body  # listed on the prescribers-of-record page
    with tenant_context(clinic_a):
        (task,) = CoordinationTask.objects.all()
        assert task.prescriber_id == outside.pk and task.due_on == TODAY + datetime.timedelta(days=3)


def test_a_nurse_adds_other_prescribers_but_not_the_benzo_prescriber(clinic_a, patient_a, nurse):
    prescriber = make_prescriber(clinic_a)
    client = client_for(nurse)
    refused = client.post(
        url("of-record-set", clinic_a, patient_id=patient_a.pk),
        {"prescriber": str(prescriber.pk), "role": "benzo"},
    )
    assert refused.status_code == 400
    assert "Only a psychiatrist may name the benzodiazepine prescriber of record" in refused.content.decode()
    with tenant_context(clinic_a):
        assert not PatientPrescriber.objects.exists()
    assert (
        client.post(
            url("of-record-set", clinic_a, patient_id=patient_a.pk),
            {"prescriber": str(prescriber.pk), "role": "other"},
        ).status_code
        == 302
    )
    with tenant_context(clinic_a):
        link = PatientPrescriber.objects.get()
    page = client.get(url("patient-prescribers", clinic_a, patient_id=patient_a.pk)).content.decode()
    assert prescriber.display_name in page and "Other prescriber" in page
    end = url("of-record-end", clinic_a, of_record_id=link.pk)
    assert client.post(end, {"until": "2000-01-01"}).status_code == 400
    assert client.post(end, {"until": TODAY.isoformat()}).status_code == 302
    with tenant_context(clinic_a):
        assert PatientPrescriber.objects.get().until == TODAY


def test_only_a_psychiatrist_ends_the_benzo_prescriber_of_record(clinic_a, patient_a, nurse, psychiatrist):
    prescriber = make_prescriber(clinic_a)
    with tenant_context(clinic_a):
        link = services.prescriber_of_record_set(
            actor=psychiatrist, patient=patient_a, prescriber=prescriber, role="benzo"
        )
    end = url("of-record-end", clinic_a, of_record_id=link.pk)
    refused = client_for(nurse).post(end, {"until": TODAY.isoformat()})
    assert refused.status_code == 400 and "Only a psychiatrist may end" in refused.content.decode()
    assert client_for(psychiatrist).post(end, {"until": TODAY.isoformat()}).status_code == 302


def test_the_service_refuses_a_benzo_prescriber_of_record_from_a_non_psychiatrist(clinic_a, patient_a, nurse):
    from django.core.exceptions import ValidationError

    prescriber = make_prescriber(clinic_a)
    with tenant_context(clinic_a), pytest.raises(ValidationError) as error:
        services.prescriber_of_record_set(actor=nurse, patient=patient_a, prescriber=prescriber, role="benzo")
    assert "Only a psychiatrist" in error.value.message_dict["role"][0]


# --- the log ---------------------------------------------------------------------------------------------
def test_log_a_call_and_refuse_one_in_the_future(clinic_a, patient_a, nurse):
    prescriber = make_prescriber(clinic_a)
    client = client_for(nurse)
    create = url("entry-create", clinic_a, patient_id=patient_a.pk)
    page = client.get(create, {"prescriber": str(prescriber.pk)})
    assert page.status_code == 200 and page.context["form"].initial["prescriber"] == prescriber.pk
    here = zoneinfo.ZoneInfo(clinic_a.timezone)  # the form takes the clinic's local time
    future = (timezone.localtime(timezone=here) + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    data = {"kind": "call", "direction": "out", "prescriber": str(prescriber.pk), "summary": "Left a message"}
    bad = client.post(create, {**data, "at": future})
    assert bad.status_code == 400 and "not in the future" in bad.content.decode()
    assert client.post(create, {**data, "summary": ""}).status_code == 400
    with tenant_context(clinic_a):
        assert not CoordinationEntry.objects.exists()
    now = timezone.localtime(timezone=here).strftime("%Y-%m-%dT%H:%M")
    assert client.post(create, {**data, "at": now}).status_code == 302
    log = client.get(url("coordination", clinic_a, patient_id=patient_a.pk)).content.decode()
    assert "Left a message" in log and "Phone call" in log and prescriber.display_name in log


# --- tasks and Today -------------------------------------------------------------------------------------
def test_add_and_close_a_task(clinic_a, patient_a, nurse):
    client = client_for(nurse)
    create = url("task-create", clinic_a, patient_id=patient_a.pk)
    assert client.post(create, {"title": "Call Dr Hale", "due_on": "2099-01-01"}).status_code == 400
    assert client.post(create, {"title": "", "due_on": TODAY.isoformat()}).status_code == 400
    assert client.post(create, {"title": "Call Dr Hale", "due_on": TODAY.isoformat()}).status_code == 302
    with tenant_context(clinic_a):
        task = CoordinationTask.objects.get()
    close = url("task-close", clinic_a, task_id=task.pk)
    assert client.post(close, {"status": "done", "outcome": ""}).status_code == 400
    assert client.post(close, {"status": "done", "outcome": "Agreed to stop on the 12th"}).status_code == 302
    again = client.post(close, {"status": "done", "outcome": "again"})
    assert again.status_code == 400 and "Already done" in again.content.decode()
    with tenant_context(clinic_a):
        task.refresh_from_db()
    assert (
        task.status == "done" and task.outcome == "Agreed to stop on the 12th" and task.done_by_id == nurse.pk
    )


def _task(clinic, patient, title, due_on):
    with tenant_context(clinic):
        return services.coordination_task_create(actor=None, patient=patient, title=title, due_on=due_on)


def test_today_shows_tasks_due_today_and_overdue_with_a_count(clinic_a, patient_a, nurse, admissions):
    _task(clinic_a, patient_a, "Overdue: fax Dr Hale", TODAY - datetime.timedelta(days=2))
    _task(clinic_a, patient_a, "Due today: call the pain clinic", TODAY)
    _task(clinic_a, patient_a, "Later: check the refill", TODAY + datetime.timedelta(days=5))
    dashboard = reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})
    body = client_for(nurse).get(dashboard).content.decode()
    assert "Overdue: fax Dr Hale" in body and "Due today: call the pain clinic" in body
    assert "Later: check the refill" not in body
    assert 'id="due-task-count">2<' in body and "Overdue since" in body
    assert url("coordination", clinic_a, patient_id=patient_a.pk) in body
    assert 'id="coordination-due"' not in client_for(admissions).get(dashboard).content.decode()


def test_today_query_count_is_flat_in_the_number_of_tasks(clinic_a, nurse, django_assert_max_num_queries):
    dashboard = reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})
    client = client_for(nurse)
    first = make_patient(clinic_a, first_name="One", last_name="Patient")
    _task(clinic_a, first, "Task 0", TODAY)
    client.get(dashboard)

    def count() -> int:
        with django_assert_max_num_queries(40) as captured:
            client.get(dashboard)
        skip = ("django_session", "idle_timeout_minutes")
        return len([q for q in captured.captured_queries if not any(s in q["sql"] for s in skip)])

    one = count()
    for n in range(1, 10):
        patient = make_patient(clinic_a, first_name=f"P{n}", last_name="Patient")
        _task(clinic_a, patient, f"Task {n}", TODAY - datetime.timedelta(days=n))
    assert count() == one


def test_closing_from_today_returns_to_today(clinic_a, patient_a, nurse):
    task = _task(clinic_a, patient_a, "Call", TODAY)
    close = url("task-close", clinic_a, task_id=task.pk)
    assert 'value="today"' in client_for(nurse).get(close, {"next": "today"}).content.decode()
    response = client_for(nurse).post(
        close, {"status": "cancelled", "outcome": "Not needed", "next": "today"}
    )
    assert response["Location"] == reverse("clinic-dashboard", kwargs={"clinic_slug": clinic_a.slug})
