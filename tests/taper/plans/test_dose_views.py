"""Recording doses in the browser: one-click "as planned" (htmx), amounts for a chosen day, the compact
form, inline errors that change nothing (future day, negative, unknown drug, not a number), roles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from taper import services
from taper.models import DoseRecord
from tests.conftest import client_for
from tests.taper.plans.progress_support import D, active_plan, today_in, url

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def records(clinic) -> list[DoseRecord]:
    with tenant_context(clinic):
        return list(DoseRecord.objects.order_by("day"))


@pytest.fixture
def plan(clinic_a, patient_a, psychiatrist):
    return active_plan(clinic_a, patient_a, psychiatrist)


def test_taken_as_planned_today_with_htmx(clinic_a, plan, nurse):
    today = today_in(clinic_a)
    response = client_for(nurse).post(
        url(clinic_a, "dose", plan),
        {"day": today.isoformat(), "action": "as_planned", "where": "progress"},
        **HX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="dose-saved"' in body and "as planned" in body
    # The new row arrives out of band, with the chart and the step table.
    assert 'id="dose-records" hx-swap-oob="true"' in body and f'id="dose-{today.isoformat()}"' in body
    assert 'id="progress-chart" hx-swap-oob="true"' in body and "<svg" in body
    assert 'id="step-progress" hx-swap-oob="true"' in body
    [record] = records(clinic_a)
    assert record.day == today and record.as_planned is True and record.source == "nurse"
    assert record.de_mg == record.planned_de_mg and record.recorded_by_id == nurse.pk
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(object_id=str(record.pk), action="create").exists()


def test_amounts_for_another_day_without_js(clinic_a, plan, nurse):
    yesterday = today_in(clinic_a) - D(days=1)
    client = client_for(nurse)
    response = client.post(
        url(clinic_a, "dose", plan),
        {
            "day": yesterday.isoformat(),
            "mg_0": "12.5",
            "note": "Skipped the evening half",
            "action": "amounts",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("/progress/")
    [record] = records(clinic_a)
    assert record.day == yesterday and record.as_planned is None
    assert record.mg_by_drug == {"diazepam": "12.5"} and record.de_mg == Decimal("12.5")
    assert record.note == "Skipped the evening half"
    page = client.get(response["Location"]).content.decode()
    assert "12.5" in page and "Recorded for" in page


def test_a_second_entry_for_the_day_replaces_the_first(clinic_a, plan, nurse):
    client = client_for(nurse)
    today = today_in(clinic_a).isoformat()
    client.post(url(clinic_a, "dose", plan), {"day": today, "action": "as_planned"}, **HX)
    client.post(url(clinic_a, "dose", plan), {"day": today, "mg_0": "0", "action": "amounts"}, **HX)
    [record] = records(clinic_a)
    assert record.de_mg == 0 and record.as_planned is None


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"day": "FUTURE", "mg_0": "5"}, "not happened yet"),
        ({"day": "TODAY", "mg_0": "-5"}, "cannot be negative"),
        ({"day": "TODAY", "mg_0": "five"}, "number of mg"),
        ({"day": "TODAY", "other_drug": "unobtainium", "other_mg": "2"}, "Unknown medication"),
        ({"day": "TODAY", "other_drug": "alprazolam"}, "how much of it"),
        ({"day": "TODAY", "mg_0": "5000"}, "not plausible"),
        ({"day": "TODAY"}, "Enter how much was taken"),
        ({"day": "not a date", "mg_0": "5"}, "Enter a date"),
        ({"day": "BEFORE", "mg_0": "5"}, "before the plan started"),
    ],
)
def test_bad_input_is_shown_inline_and_changes_nothing(clinic_a, plan, nurse, data, field_error):
    today = today_in(clinic_a)
    days = {"FUTURE": today + D(days=1), "TODAY": today, "BEFORE": today - D(days=60)}
    data = {**data, "day": days.get(data["day"], data["day"]), "action": "amounts"}
    client = client_for(nurse)
    htmx = client.post(url(clinic_a, "dose", plan), data, **HX)
    assert htmx.status_code == 200  # swapped in place by htmx
    body = htmx.content.decode()
    assert 'id="error-summary"' in body and field_error in body
    assert 'id="dose-form"' in body
    plain = client.post(url(clinic_a, "dose", plan), data)
    assert plain.status_code == 400 and field_error in plain.content.decode()
    assert records(clinic_a) == []


def test_unknown_drug_error_points_at_the_field(clinic_a, plan, nurse):
    body = (
        client_for(nurse)
        .post(
            url(clinic_a, "dose", plan),
            {
                "day": today_in(clinic_a).isoformat(),
                "other_drug": "unobtainium",
                "other_mg": "2",
                "action": "amounts",
            },
            **HX,
        )
        .content.decode()
    )
    assert 'href="#id_other_drug"' in body
    body = (
        client_for(nurse)
        .post(
            url(clinic_a, "dose", plan),
            {"day": today_in(clinic_a).isoformat(), "mg_0": "5000", "action": "amounts"},
            **HX,
        )
        .content.decode()
    )
    assert 'href="#id_mg_0"' in body and "not plausible" in body


def test_compact_form_page_and_fragment(clinic_a, plan, nurse):
    client = client_for(nurse)
    page = client.get(url(clinic_a, "dose", plan))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<html" in body and 'id="dose-as-planned"' in body and 'name="mg_0"' in body
    assert "Diazepam: total mg taken that day" in body and "Ashton" in body
    fragment = client.get(url(clinic_a, "dose", plan), **HX).content.decode()
    assert "<html" not in fragment and 'id="dose-entry"' in fragment
    # Saved from the compact page: back to it, not to the progress page.
    response = client.post(
        url(clinic_a, "dose", plan),
        {"day": today_in(clinic_a).isoformat(), "action": "as_planned", "where": "compact"},
    )
    assert response["Location"].endswith("/doses/")
    htmx = client.post(
        url(clinic_a, "dose", plan),
        {"day": today_in(clinic_a).isoformat(), "action": "as_planned", "where": "compact"},
        **HX,
    ).content.decode()
    assert 'id="dose-records" hx-swap-oob="true"' in htmx and 'id="progress-chart"' not in htmx


def test_no_dose_on_a_closed_plan(clinic_a, plan, nurse, psychiatrist):
    with tenant_context(clinic_a):
        services.plan_close(actor=psychiatrist, plan=plan, outcome="stopped", reason="Transferred")
    client = client_for(nurse)
    response = client.post(
        url(clinic_a, "dose", plan), {"day": today_in(clinic_a).isoformat(), "action": "as_planned"}
    )
    assert response.status_code == 400 and "only while a plan is active" in response.content.decode()
    assert client.get(url(clinic_a, "dose", plan)).status_code == 200
    assert records(clinic_a) == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.NURSE, 302),
        (Role.CLINICIAN, 302),
        (Role.PSYCHIATRIST, 302),
        (Role.ADMISSIONS, 403),
        (Role.CLINIC_ADMIN, 403),
        (Role.AUDITOR, 403),
    ],
)
def test_dose_roles(clinic_a, staff_a, patient_a, role, status):
    plan = active_plan(clinic_a, patient_a, staff_a[Role.PSYCHIATRIST])
    response = client_for(staff_a[role]).post(
        url(clinic_a, "dose", plan), {"day": today_in(clinic_a).isoformat(), "action": "as_planned"}
    )
    assert response.status_code == status
    assert len(records(clinic_a)) == (1 if status == 302 else 0)


def test_other_clinic_cannot_record(clinic_a, clinic_b, plan):
    from tests.conftest import make_member

    nurse_b = make_member(clinic_b, Role.NURSE)
    response = client_for(nurse_b).post(
        f"/c/{clinic_b.slug}/taper/plans/{plan.pk}/doses/",
        {"day": today_in(clinic_a).isoformat(), "action": "as_planned"},
    )
    assert response.status_code == 404
    assert records(clinic_a) == []


def test_patient_panel_links_to_the_compact_form(clinic_a, patient_a, plan, nurse):
    panel = client_for(nurse).get(f"/c/{clinic_a.slug}/taper/patients/{patient_a.pk}/panel/").content.decode()
    assert f"/taper/plans/{plan.pk}/doses/" in panel and 'id="taper-record-dose"' in panel
