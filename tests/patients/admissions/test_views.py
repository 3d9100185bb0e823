"""Admissions pages: who may see and act, bad input gets form errors and writes nothing, the board's
query count stays flat, and the whole pipeline works through the forms."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions.models import Inquiry, InquiryStageChange, ReportedBenzodiazepine
from patients.models import CareEpisode, Patient
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.patients.admissions.conftest import make_inquiry, walk_to

pytestmark = pytest.mark.django_db

FORM = {
    "referral_source": "self",
    "contact_name": "Riley Underbough",
    "contact_relationship": "self",
    "first_name": "Riley",
    "last_name": "Underbough",
    "date_of_birth": "1988-07-21",
    "reason": "Alprazolam for 6 years, wants to stop.",
    "other_substances": ["alcohol", "cannabis"],
    "benzo-TOTAL_FORMS": "3",
    "benzo-INITIAL_FORMS": "0",
    "benzo-MIN_NUM_FORMS": "3",
    "benzo-MAX_NUM_FORMS": "5",
    "benzo-0-drug": "alprazolam",
    "benzo-0-daily_dose_mg": "3",
    "benzo-1-drug": "",
    "benzo-1-daily_dose_mg": "",
    "benzo-2-drug": "",
    "benzo-2-daily_dose_mg": "",
}


def url(clinic, tail: str = "") -> str:
    return f"/c/{clinic.slug}/admissions/{tail}"


def as_role(client, staff, role):
    client.force_login(staff[role])
    return client


def _rows(clinic) -> tuple[int, ...]:
    with tenant_context(clinic):
        return (
            Inquiry.objects.count(),
            ReportedBenzodiazepine.objects.count(),
            InquiryStageChange.objects.count(),
            Patient.objects.count(),
            AuditEvent.objects.exclude(action__in=["view", "list"]).count(),
        )


# --- roles -------------------------------------------------------------------------------------------------
def test_nurse_sees_the_board_and_inquiry_but_cannot_act(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.NURSE)
    board = client.get(url(clinic_a))
    assert board.status_code == 200 and "Jordan Quillfeather" in board.content.decode()
    assert "New inquiry" not in board.content.decode()
    detail = client.get(url(clinic_a, f"inquiries/{inquiry_a.pk}/"))
    assert detail.status_code == 200 and "Mark pre-screened" not in detail.content.decode()
    before = _rows(clinic_a)
    assert (
        client.post(
            url(clinic_a, f"inquiries/{inquiry_a.pk}/advance/"), {"to_stage": "pre_screened"}
        ).status_code
        == 403
    )
    assert client.post(url(clinic_a, "new/"), FORM).status_code == 403
    assert client.post(url(clinic_a, f"inquiries/{inquiry_a.pk}/convert/")).status_code == 403
    assert _rows(clinic_a) == before


def test_auditor_gets_403_everywhere_and_no_nav_link(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.AUDITOR)
    for tail in ("", "new/", f"inquiries/{inquiry_a.pk}/", f"inquiries/{inquiry_a.pk}/edit/"):
        assert client.get(url(clinic_a, tail)).status_code == 403
    dashboard = client.get(f"/c/{clinic_a.slug}/")
    assert f'href="/c/{clinic_a.slug}/admissions/"' not in dashboard.content.decode()


def test_admissions_staff_get_the_nav_link(client, clinic_a, staff_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    page = client.get(f"/c/{clinic_a.slug}/").content.decode()
    assert f'href="/c/{clinic_a.slug}/admissions/"' in page


# --- forms -------------------------------------------------------------------------------------------------
def test_create_through_the_form(client, clinic_a, staff_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    response = client.post(url(clinic_a, "new/"), FORM)
    assert response.status_code == 302
    with tenant_context(clinic_a):
        inquiry = Inquiry.objects.get(last_name="Underbough")
        assert inquiry.other_substances == ["alcohol", "cannabis"]
        assert [str(b) for b in inquiry.benzodiazepines.all()] == ["Alprazolam (Xanax) 3 mg/day"]
    assert response["Location"] == url(clinic_a, f"inquiries/{inquiry.pk}/")


BAD_FORMS = {
    "missing": ({"benzo-TOTAL_FORMS": "3", "benzo-INITIAL_FORMS": "0"}, "first_name"),
    "impossible-dob": ({**FORM, "date_of_birth": "1990-02-30"}, "date_of_birth"),
    "future-dob": (
        {**FORM, "date_of_birth": (clinic_date() + datetime.timedelta(days=1)).isoformat()},
        "date_of_birth",
    ),
    "oversized-reason": ({**FORM, "reason": "r" * 2001}, "reason"),
    "unknown-substance": ({**FORM, "other_substances": ["glue"]}, "other_substances"),
    "dose-zero": ({**FORM, "benzo-0-daily_dose_mg": "0"}, "benzo"),
    "dose-negative": ({**FORM, "benzo-0-daily_dose_mg": "-2"}, "benzo"),
    "dose-huge": ({**FORM, "benzo-0-daily_dose_mg": "99999"}, "benzo"),
    "dose-without-drug": ({**FORM, "benzo-1-daily_dose_mg": "5"}, "benzo"),
    "drug-without-dose": ({**FORM, "benzo-1-drug": "diazepam"}, "benzo"),
    "same-drug-twice": ({**FORM, "benzo-1-drug": "alprazolam", "benzo-1-daily_dose_mg": "1"}, "benzo"),
    "unknown-drug": ({**FORM, "benzo-0-drug": "xanaxium"}, "benzo"),
}


@pytest.mark.parametrize(("data", "where"), BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_bad_form_input_shows_errors_and_writes_nothing(client, clinic_a, staff_a, data, where):
    as_role(client, staff_a, Role.ADMISSIONS)
    before = _rows(clinic_a)
    response = client.post(url(clinic_a, "new/"), data)
    assert response.status_code == 200
    if where == "benzo":
        formset = response.context["formset"]
        assert formset.total_error_count() > 0
        assert "Check the reported benzodiazepines" in response.content.decode()
    else:
        assert where in response.context["form"].errors
    assert _rows(clinic_a) == before


def test_huge_dose_message_is_clear(client, clinic_a, staff_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    page = client.post(url(clinic_a, "new/"), {**FORM, "benzo-0-daily_dose_mg": "900"}).content.decode()
    assert "above the 40 mg this form accepts for alprazolam" in page


def test_advance_refuses_an_unknown_or_skipping_stage(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    before = _rows(clinic_a)
    for target in ("cured", "admitted", "assessed"):
        response = client.post(
            url(clinic_a, f"inquiries/{inquiry_a.pk}/advance/"), {"to_stage": target}, follow=True
        )
        assert response.status_code == 200
        assert any(
            "not a stage" in str(m) or "can only move to" in str(m) for m in response.context["messages"]
        )
    assert _rows(clinic_a) == before


def test_schedule_intake_needs_a_time(client, clinic_a, staff_a, inquiry_a):
    inquiry = walk_to(clinic_a, inquiry_a, "benefits_verified")
    as_role(client, staff_a, Role.ADMISSIONS)
    before = _rows(clinic_a)
    response = client.post(
        url(clinic_a, f"inquiries/{inquiry.pk}/advance/"), {"to_stage": "intake_scheduled"}
    )
    assert response.status_code == 200 and "intake_at" in response.context["form"].errors
    response = client.post(
        url(clinic_a, f"inquiries/{inquiry.pk}/advance/"),
        {"to_stage": "intake_scheduled", "intake_at": "2026-02-31T10:00"},
    )
    assert "intake_at" in response.context["form"].errors
    assert _rows(clinic_a) == before


def test_intake_time_is_read_in_the_clinic_time_zone(client, clinic_a, staff_a, inquiry_a):
    clinic_a.timezone = "America/Chicago"
    clinic_a.save()
    inquiry = walk_to(clinic_a, inquiry_a, "benefits_verified")
    as_role(client, staff_a, Role.ADMISSIONS)
    when = (clinic_date() + datetime.timedelta(days=3)).isoformat() + "T10:00"
    response = client.post(
        url(clinic_a, f"inquiries/{inquiry.pk}/advance/"), {"to_stage": "intake_scheduled", "intake_at": when}
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        stored = Inquiry.objects.get(pk=inquiry.pk).intake_at
    assert stored.astimezone(datetime.UTC).hour in (15, 16)  # 10:00 in Chicago (CDT or CST)


def test_decline_needs_a_reason(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    page = url(clinic_a, f"inquiries/{inquiry_a.pk}/advance/")
    response = client.post(page, {"to_stage": "declined"})
    assert "closed_reason" in response.context["form"].errors
    response = client.post(page, {"to_stage": "declined", "closed_reason": "other"})
    assert "closed_note" in response.context["form"].errors
    response = client.post(
        page, {"to_stage": "declined", "closed_reason": "cost", "closed_note": "Deductible too high"}
    )
    assert response.status_code == 302
    with tenant_context(clinic_a):
        assert Inquiry.objects.get(pk=inquiry_a.pk).stage == "declined"
    board = client.get(url(clinic_a) + "?closed=declined").content.decode()
    assert "Quillfeather" in board and "Cost" in board


def test_convert_warns_of_duplicates_then_links_or_creates(client, clinic_a, staff_a, inquiry_a):
    existing = make_patient(
        clinic_a, first_name="Jordan", last_name="Quillfeather", date_of_birth=datetime.date(1979, 4, 12)
    )
    as_role(client, staff_a, Role.ADMISSIONS)
    page = url(clinic_a, f"inquiries/{inquiry_a.pk}/convert/")
    shown = client.get(page).content.decode()
    assert "Possible duplicate" in shown and existing.mrn in shown
    before = _rows(clinic_a)
    refused = client.post(page, {"action": "create"})
    assert refused.status_code == 200 and "Possible duplicate" in refused.content.decode()
    assert _rows(clinic_a) == before
    linked = client.post(page, {"action": "link", "patient_id": str(existing.pk)})
    assert linked.status_code == 302
    with tenant_context(clinic_a):
        assert Inquiry.objects.get(pk=inquiry_a.pk).patient == existing
        assert Patient.objects.count() == before[3]


def test_convert_with_a_malformed_patient_id_is_a_clear_error(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    response = client.post(
        url(clinic_a, f"inquiries/{inquiry_a.pk}/convert/"), {"action": "link", "patient_id": "nope"}
    )
    assert response.status_code == 200 and "Choose the existing patient" in response.content.decode()


def test_full_pipeline_through_the_pages_ends_on_the_patient(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    advance = url(clinic_a, f"inquiries/{inquiry_a.pk}/advance/")
    assert client.post(advance, {"to_stage": "pre_screened"}).status_code == 302
    assert client.post(advance, {"to_stage": "benefits_verified"}).status_code == 302
    when = (clinic_date() + datetime.timedelta(days=2)).isoformat() + "T09:30"
    assert client.post(advance, {"to_stage": "intake_scheduled", "intake_at": when}).status_code == 302
    assert client.post(advance, {"to_stage": "assessed", "level_of_care": "iop"}).status_code == 302
    assert client.get(advance + "?to=admitted").context["needs_patient"] is True
    assert (
        client.post(url(clinic_a, f"inquiries/{inquiry_a.pk}/convert/"), {"action": "create"}).status_code
        == 302
    )
    response = client.post(
        advance,
        {"to_stage": "admitted", "level_of_care": "iop", "admitted_on": clinic_date().isoformat()},
    )
    with tenant_context(clinic_a):
        inquiry = Inquiry.objects.get(pk=inquiry_a.pk)
        assert inquiry.stage == "admitted"
        assert CareEpisode.objects.get(patient=inquiry.patient).level == "iop"
    assert response["Location"] == f"/c/{clinic_a.slug}/patients/{inquiry.patient_id}/"
    detail = client.get(url(clinic_a, f"inquiries/{inquiry_a.pk}/")).content.decode()
    assert f"/c/{clinic_a.slug}/patients/{inquiry.patient_id}/" in detail
    assert (
        client.get(url(clinic_a, f"inquiries/{inquiry_a.pk}/edit/")).status_code == 302
    )  # closed: read-only


def test_detail_view_is_audited(client, clinic_a, staff_a, inquiry_a):
    as_role(client, staff_a, Role.NURSE)
    client.get(url(clinic_a, f"inquiries/{inquiry_a.pk}/"))
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(
            action="view", object_id=str(inquiry_a.pk), actor=staff_a[Role.NURSE]
        ).exists()


# --- query count -----------------------------------------------------------------------------------------
def _board_queries(client, clinic) -> list[str]:
    # A first request warms what is kept between requests (the session's last-seen stamp, the alert badge).
    assert client.get(url(clinic)).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(clinic)).status_code == 200
    # The idle-timeout middleware re-reads the clinic's timeout once a minute per session: not the board's.
    return [q["sql"] for q in queries if "idle_timeout_minutes" not in q["sql"]]


def test_board_query_count_is_flat(client, clinic_a, staff_a):
    as_role(client, staff_a, Role.ADMISSIONS)
    stages_cycle = ["new", "pre_screened", "benefits_verified"]

    def add(n: int) -> None:
        for i in range(n):
            inquiry = make_inquiry(
                clinic_a,
                actor=staff_a[Role.ADMISSIONS],
                last_name=f"Board{i}",
                assigned_to=staff_a[Role.ADMISSIONS],
            )
            walk_to(clinic_a, inquiry, stages_cycle[i % 3])
        with tenant_context(clinic_a):
            for inquiry in Inquiry.objects.filter(stage="new")[:2]:
                from patients.admissions.services import inquiry_close

                inquiry_close(actor=None, inquiry=inquiry, to_stage="declined", reason="no_contact")

    add(10)
    ten = _board_queries(client, clinic_a)
    add(90)
    hundred = _board_queries(client, clinic_a)
    assert len(hundred) == len(ten), "\n".join(
        f"{a[:90]!s:90} | {b[:90]}" for a, b in zip(ten + [""] * 5, hundred, strict=False)
    )


# --- reviews due (the insurance sub-app's authorizations) --------------------------------------------------
def _authorization(clinic, patient, *, review_in_days: int, number: str):
    insurance = pytest.importorskip("patients.insurance.services")
    today = clinic_date()
    with tenant_context(clinic):
        coverage = insurance.coverage_create(
            actor=None,
            patient=patient,
            fields={
                "payer_name": "Acme Health Plan",
                "payer_id": "ACME1",
                "member_id": f"ACM-{number[-6:]}",
                "effective_from": datetime.date(today.year, 1, 1),
                "priority": "primary",
            },
        )
        return insurance.authorization_create(
            actor=None,
            coverage=coverage,
            fields={
                "level_of_care": "iop",
                "authorization_number": number,
                "units_authorized": 12,
                "unit_type": "days",
                "start_date": today - datetime.timedelta(days=5),
                "end_date": today + datetime.timedelta(days=25),
                "next_review_date": today + datetime.timedelta(days=review_in_days),
            },
        )


def test_board_lists_reviews_due_to_roles_that_may_see_insurance(client, clinic_a, staff_a, patient_a):
    from patients.admissions import selectors

    if selectors.authorizations_review_due is None:
        pytest.skip("the insurance sub-app does not provide authorizations_review_due")
    other = make_patient(clinic_a, first_name="Later", last_name="Review")
    _authorization(clinic_a, patient_a, review_in_days=3, number="UR-100001")
    _authorization(clinic_a, other, review_in_days=20, number="UR-100002")
    as_role(client, staff_a, Role.ADMISSIONS)
    page = client.get(url(clinic_a)).content.decode()
    assert "Utilization reviews due" in page and "UR-100001" in page and "UR-100002" not in page
    assert "UR-100002" in client.get(url(clinic_a) + "?review_days=30").content.decode()
    as_role(client, staff_a, Role.NURSE)  # may see the pipeline, not insurance
    assert "UR-100001" not in client.get(url(clinic_a)).content.decode()
