"""The browser side: inbox (filters, bulk acknowledge, flat query count), the alert page and its actions
(with plain form errors), a patient's alert history and panel, the settings page, and who may do what."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from safety import services
from safety.models import Alert, SafetySettings
from tests.conftest import client_for, make_patient
from tests.safety.conftest import raise_one

pytestmark = pytest.mark.django_db

BASE = "/c/clinic-a/alerts/"


@pytest.fixture
def alert(clinic_a, patient_a):
    return raise_one(
        clinic_a, patient_a, "spo2_low", values={"spo2": "89"}, taken_at="2026-03-02T15:00:00+00:00"
    )


# --- inbox ------------------------------------------------------------------------------------------------
def test_inbox_lists_most_severe_first_and_filters(clinic_a, clinician_client, patient_a, staff_a):
    moderate = raise_one(clinic_a, patient_a, "checkin_missed")
    critical = raise_one(clinic_a, patient_a, "spo2_low")
    high = raise_one(clinic_a, patient_a, "bp_stage2")
    page = clinician_client.get(BASE)
    assert page.status_code == 200
    assert [a.pk for a in page.context["page"].object_list] == [critical.pk, high.pk, moderate.pk]
    only_high = clinician_client.get(BASE, {"severity": "high"}).context["page"].object_list
    assert [a.pk for a in only_high] == [high.pk]
    by_rule = clinician_client.get(BASE, {"rule": "checkin_missed"}).context["page"].object_list
    assert [a.pk for a in by_rule] == [moderate.pk]
    with tenant_context(clinic_a):
        services.alert_assign(actor=None, alert=high, assignee=staff_a[Role.CLINICIAN])
    mine = clinician_client.get(BASE, {"mine": "on"}).context["page"].object_list
    assert [a.pk for a in mine] == [high.pk]
    nonsense = clinician_client.get(BASE, {"severity": "extreme", "status": "??"})
    assert nonsense.status_code == 200 and len(nonsense.context["page"].object_list) == 3


def test_inbox_patient_filter_and_closed_alerts(clinic_a, clinician_client, staff_a, patient_a):
    other = make_patient(clinic_a, first_name="Other", last_name="Person", mrn="SD-700001")
    mine = raise_one(clinic_a, patient_a)
    theirs = raise_one(clinic_a, other)
    with tenant_context(clinic_a):
        services.alert_resolve(actor=staff_a[Role.NURSE], alert=theirs, note="Done.")
    listed = clinician_client.get(BASE, {"patient": str(patient_a.pk)})
    assert [a.pk for a in listed.context["page"].object_list] == [mine.pk]
    assert b"Show all patients" in listed.content
    resolved = clinician_client.get(BASE, {"status": "resolved"}).context["page"].object_list
    assert [a.pk for a in resolved] == [theirs.pk]


def _inbox_queries(client) -> list[str]:
    client.get(BASE)  # warm: session, audit chain head
    with CaptureQueriesContext(connection) as captured:
        assert client.get(BASE).status_code == 200
    return [q["sql"] for q in captured if "idle_timeout_minutes" not in q["sql"]]


def test_inbox_query_count_is_flat(clinic_a, clinician_client, staff_a):
    def add(n: int, start: int) -> None:
        for i in range(n):
            patient = make_patient(clinic_a, mrn=f"SD-6{start + i:05d}")
            alert = raise_one(clinic_a, patient, ["spo2_low", "bp_stage2", "checkin_missed"][i % 3])
            with tenant_context(clinic_a):
                if i % 2:
                    services.alert_acknowledge(actor=staff_a[Role.NURSE], alert=alert)
                services.alert_assign(actor=None, alert=alert, assignee=staff_a[Role.PSYCHIATRIST])

    add(3, 0)
    few = _inbox_queries(clinician_client)
    add(12, 100)
    many = _inbox_queries(clinician_client)
    assert len(many) == len(few), "\n".join(many)


def test_bulk_acknowledge_with_htmx_rerenders_the_rows(clinic_a, clinician_client, patient_a):
    alerts = [raise_one(clinic_a, patient_a) for _ in range(3)]
    response = clinician_client.post(
        f"{BASE}acknowledge/",
        {"alert": [str(alerts[0].pk), str(alerts[1].pk)], "query": "status=open"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert b"Acknowledged 2 alerts." in response.content
    assert [a.pk for a in response.context["page"].object_list] == [alerts[2].pk]  # still status=open
    with tenant_context(clinic_a):
        assert Alert.objects.filter(status="acknowledged").count() == 2


def test_bulk_acknowledge_without_js_redirects_back_with_the_filters(clinic_a, clinician_client, patient_a):
    alert = raise_one(clinic_a, patient_a)
    response = clinician_client.post(
        f"{BASE}acknowledge/", {"alert": [str(alert.pk)], "query": "severity=critical"}
    )
    assert response.status_code == 302 and response["Location"] == f"{BASE}?severity=critical"
    empty = clinician_client.post(f"{BASE}acknowledge/", {"query": ""}, follow=True)
    assert b"Choose at least one alert" in empty.content


# --- one alert --------------------------------------------------------------------------------------------
def test_alert_page_shows_evidence_source_what_to_do_and_audits_the_read(
    clinic_a, clinician_client, alert, staff_a
):
    page = clinician_client.get(f"{BASE}{alert.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Low oxygen saturation" in html and "What to do" in html and "naloxone" in html
    assert "SpO2 (%)" in html and "89" in html
    assert "Mar 2, 2026 10:00" in html  # the evidence time, in the clinic's zone (New York)
    assert "clinical.md 5c" in html
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(
            action="view", object_id=str(alert.pk), actor=staff_a[Role.CLINICIAN]
        ).exists()


def test_acknowledge_then_resolve_and_history_shows_both(clinic_a, clinician_client, alert):
    assert clinician_client.post(f"{BASE}{alert.pk}/acknowledge/").status_code == 302
    response = clinician_client.post(
        f"{BASE}{alert.pk}/resolve/", {"note": "Rechecked: 97% on air."}, follow=True
    )
    html = response.content.decode()
    assert "Resolved. The note is in the alert" in html
    history = response.context["history"]
    assert [event.kind for event in history] == ["raised", "acknowledged", "resolved"]
    assert history[-1].note == "Rechecked: 97% on air."


def test_resolve_without_note_is_a_form_error_and_writes_nothing(clinic_a, clinician_client, alert):
    response = clinician_client.post(f"{BASE}{alert.pk}/resolve/", {"note": "  "})
    assert response.status_code == 400
    assert "a resolved alert needs a note" in response.content.decode()
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).status == "open"


def test_dismiss_without_reason_is_a_form_error(clinic_a, clinician_client, alert):
    response = clinician_client.post(f"{BASE}{alert.pk}/dismiss/", {"reason": ""})
    assert response.status_code == 400
    assert "a dismissed alert needs a reason" in response.content.decode()


def test_resolving_a_dismissed_alert_is_refused_plainly(clinic_a, clinician_client, alert, staff_a):
    with tenant_context(clinic_a):
        services.alert_dismiss(actor=staff_a[Role.NURSE], alert=alert, reason="Probe on cold finger.")
    response = clinician_client.post(f"{BASE}{alert.pk}/resolve/", {"note": "Late note"})
    assert response.status_code == 409
    assert "a dismissed alert cannot be changed" in response.content.decode()
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).resolution_note == ""


def test_assign_from_the_alert_page(clinic_a, clinician_client, alert, staff_a):
    psychiatrist = staff_a[Role.PSYCHIATRIST]
    response = clinician_client.post(f"{BASE}{alert.pk}/assign/", {"assigned_to": str(psychiatrist.pk)})
    assert response.status_code == 302
    refused = clinician_client.post(
        f"{BASE}{alert.pk}/assign/", {"assigned_to": str(staff_a[Role.ADMISSIONS].pk)}
    )
    assert refused.status_code == 400
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).assigned_to == psychiatrist


# --- who may do what --------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.ADMISSIONS, Role.AUDITOR, Role.CLINIC_ADMIN])
def test_non_care_team_roles_cannot_see_or_act_on_alerts(role, clinic_a, staff_a, alert):
    client = client_for(staff_a[role])
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}{alert.pk}/").status_code == 403
    assert client.post(f"{BASE}{alert.pk}/acknowledge/").status_code == 403
    with tenant_context(clinic_a):
        assert Alert.objects.get(pk=alert.pk).status == "open"


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN, Role.PSYCHIATRIST])
def test_care_team_may_act(role, clinic_a, staff_a, alert):
    assert client_for(staff_a[role]).post(f"{BASE}{alert.pk}/acknowledge/").status_code == 302


def test_nav_shows_the_open_alert_count_to_the_care_team_only(clinic_a, staff_a, alert, patient_a):
    raise_one(clinic_a, patient_a)
    page = client_for(staff_a[Role.NURSE]).get("/c/clinic-a/").content.decode()
    assert 'id="open-alert-count"' in page and ">2<" in page
    assert "open-alert-count" not in client_for(staff_a[Role.ADMISSIONS]).get("/c/clinic-a/").content.decode()


def test_another_clinics_alert_is_404(clinic_b, patient_b, clinician_client):
    foreign = raise_one(clinic_b, patient_b)
    assert clinician_client.get(f"{BASE}{foreign.pk}/").status_code == 404
    assert clinician_client.post(f"{BASE}{foreign.pk}/acknowledge/").status_code == 404


# --- patient pages ----------------------------------------------------------------------------------------
def test_patient_record_links_to_the_alert_panel_and_history(clinic_a, clinician_client, patient_a, staff_a):
    open_alert = raise_one(clinic_a, patient_a, "bp_hypertensive_crisis")
    closed = raise_one(clinic_a, patient_a, "checkin_missed")
    with tenant_context(clinic_a):
        services.alert_dismiss(actor=staff_a[Role.NURSE], alert=closed, reason="Was in clinic that day.")
    record = clinician_client.get(f"/c/clinic-a/patients/{patient_a.pk}/").content.decode()
    assert f"{BASE}patients/{patient_a.pk}/panel/" in record
    panel = clinician_client.get(f"{BASE}patients/{patient_a.pk}/panel/", headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "1 alert needs action" in panel.content.decode()
    assert [a.pk for a in panel.context["alerts"]] == [open_alert.pk]
    history = clinician_client.get(f"{BASE}patients/{patient_a.pk}/")
    assert {a.pk for a in history.context["page"].object_list} == {open_alert.pk, closed.pk}
    assert "Was in clinic that day." in history.content.decode()
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(
            action="view", patient_id=patient_a.pk, detail__page="patient_alert_history"
        ).exists()


# --- settings ---------------------------------------------------------------------------------------------
def test_admin_sets_escalation_cutoff_and_on_call(clinic_a, staff_a):
    admin = client_for(staff_a[Role.CLINIC_ADMIN])
    page = admin.get(f"{BASE}settings/")
    assert page.status_code == 200 and b"No on-call recipients" in page.content
    response = admin.post(
        f"{BASE}settings/",
        {
            "escalate_after_minutes": "20",
            "checkin_cutoff": "19:30",
            "on_call_users": [str(staff_a[Role.NURSE].pk)],
            "on_call_emails": "pager@alder.example.org\nPAGER@alder.example.org",
        },
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        saved = SafetySettings.objects.get()
        assert saved.escalate_after_minutes == 20
        assert saved.checkin_cutoff == datetime.time(19, 30)
        assert saved.on_call_user_ids == [staff_a[Role.NURSE].pk]
        assert saved.on_call_emails == ["pager@alder.example.org"]
        assert AuditEvent.objects.filter(action="admin", detail__event="safety_settings_saved").exists()


def test_settings_refuse_bad_values_with_form_errors(clinic_a, staff_a, clinic_b):
    from tests.conftest import make_member

    outsider = make_member(clinic_b, Role.NURSE, email="b.nurse@example.org")
    admin = client_for(staff_a[Role.CLINIC_ADMIN])
    response = admin.post(
        f"{BASE}settings/",
        {
            "escalate_after_minutes": "2",
            "checkin_cutoff": "25:00",
            "on_call_users": [str(outsider.pk)],
            "on_call_emails": "not-an-email",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"escalate_after_minutes", "checkin_cutoff", "on_call_users"} <= set(errors)
    ok_but_bad_email = admin.post(
        f"{BASE}settings/",
        {"escalate_after_minutes": "30", "checkin_cutoff": "20:00", "on_call_emails": "x@"},
    )
    assert ok_but_bad_email.status_code == 400
    assert "x@ is not an email address." in ok_but_bad_email.content.decode()
    with tenant_context(clinic_a):
        assert SafetySettings.objects.get().on_call_emails == []


def test_settings_are_admin_only(staff_a):
    for role in (Role.NURSE, Role.PSYCHIATRIST, Role.AUDITOR):
        assert client_for(staff_a[role]).get(f"{BASE}settings/").status_code == 403
