"""Taper documents: the patient's calendar, the prescriber's summary, sending it through the consent gate."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import subprocess

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import clinic_today, tenant_context
from clinic.tenancy.roles import Role
from patients.consent import notice
from patients.consent.models import Disclosure
from taper import documents, services
from taper.catalogue import EquivalenceTable, load_catalogue
from taper.models import TaperPlan
from tests.conftest import client_for, make_member
from tests.patients.consent.factories import consent_in, recipient_in
from tests.pdf_checks import assert_pdf_has_content
from tests.taper.documents.conftest import START

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def _url(name: str, plan: TaperPlan, clinic) -> str:
    return reverse(f"taper:{name}", kwargs={"clinic_slug": clinic.slug, "plan_id": plan.pk})


def pdf_text(content: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


def _prints(clinic, plan, document: str) -> int:
    with tenant_context(clinic):
        return AuditEvent.objects.filter(
            action=AuditEvent.Action.PRINT, object_id=str(plan.pk), detail__document=document
        ).count()


# --- the patient's calendar -------------------------------------------------------------------------------
def test_calendar_pdf_has_every_day_in_plain_words(clinic_a, active_plan, nurse):
    response = client_for(nurse).get(_url("calendar-pdf", active_plan, clinic_a))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert_pdf_has_content(response.content, min_pages=2)
    text = pdf_text(response.content)
    assert "Do not change your dose without talking to your care team" in text
    assert "Alder Clinic" in text and "Avery Alder" in text
    assert re.search(r"8 am: \S+ (tablets? of diazepam|mL of diazepam liquid)", text), text[:800]
    assert "9 pm: 1 tablet of diazepam 10 mg" in text
    assert "equivalent" not in text.lower() and " DE " not in text  # no jargon for patients
    assert _prints(clinic_a, active_plan, documents.CALENDAR_DOCUMENT) == 1

    with tenant_context(clinic_a):
        context = documents.calendar_context(active_plan, clinic=clinic_a, printed_on=clinic_today())
        steps = list(active_plan.current_version.steps.order_by("index"))
        html = render_to_string("pdf/taper_calendar.html", context)
    days = [entry.day for entry in context["days"]]
    expected = [START + DAY * n for n in range((steps[-1].start - START).days + 1)]
    assert days == expected, "every day from the first step to the last step's start, none twice"
    for day in expected:
        assert f'data-day="{day.isoformat()}"' in html
    starts = {entry.day for entry in context["days"] if entry.is_step_start}
    assert starts == {s.start for s in steps}
    assert context["steps"][-1].note.startswith("You have finished the taper")


def test_calendar_marks_hold_days(clinic_a, active_plan, psychiatrist):
    hold_from = START + DAY * 20
    with tenant_context(clinic_a):
        services.plan_hold(
            actor=psychiatrist,
            plan=active_plan,
            from_date=hold_from,
            days=10,
            reason="Symptoms",
            today=hold_from,
        )
        context = documents.calendar_context(active_plan, clinic=clinic_a, printed_on=clinic_today())
    held = [entry for entry in context["days"] if entry.is_hold]
    assert held, "the hold shows on the calendar"
    assert held[0].day == hold_from and held[0].marker == "Hold: same dose"
    assert all(entry.step.lines == held[0].step.lines for entry in held)
    before = next(entry for entry in context["days"] if entry.day == hold_from - DAY)
    assert [str(line) for line in before.step.lines] == [str(line) for line in held[0].step.lines]


def test_draft_calendar_says_not_to_follow_it(clinic_a, patient_a, psychiatrist):
    from tests.taper.documents.conftest import plan_input
    from tests.taper.factories import make_taper_plan

    plan = make_taper_plan(clinic_a, patient_a, psychiatrist, status="draft", data=plan_input())
    response = client_for(psychiatrist).get(_url("calendar-pdf", plan, clinic_a))
    assert response.status_code == 200
    assert "not approved yet. Do not follow it" in pdf_text(response.content)


# --- the clinical summary ---------------------------------------------------------------------------------
def test_summary_pdf_names_table_sources_and_versions(clinic_a, active_plan, nurse, psychiatrist):
    with tenant_context(clinic_a):
        services.dose_record(
            actor=nurse, plan=active_plan, day=START + DAY, source="nurse", mg_by_drug={"diazepam": "20"}
        )
    response = client_for(nurse).get(_url("summary-pdf", active_plan, clinic_a))
    assert response.status_code == 200
    assert_pdf_has_content(response.content, min_pages=2)
    text = pdf_text(response.content)
    assert "Ashton (2002, rev. 2007)" in text
    assert "JGIM 2025), Table 7" in text  # the table's source, from the catalogue
    assert "Verified (primary source)" in text
    assert "Typically do not exceed 25%" in text  # the cap wording and its source
    assert "Version history" in text and "Created" in text and "New plan" in text
    assert "MRN SD-" in text and "May 17, 1980" in text
    assert "Planned vs actual" in text and "Daily dose: planned and taken" in text  # the chart
    assert "1 differs from the plan" in text
    assert "42 CFR part 2). These rules" not in text  # no redisclosure notice when printed inside the clinic
    assert _prints(clinic_a, active_plan, documents.SUMMARY_DOCUMENT) == 1
    with tenant_context(clinic_a):
        context = documents.summary_context(
            active_plan, clinic=clinic_a, today=clinic_today(), printed_by="x"
        )
        html = render_to_string("pdf/taper_summary.html", context)
    diazepam = load_catalogue().drug("diazepam").equivalence(EquivalenceTable.ASHTON)
    assert [line.drug for line in context["table"].lines] == ["diazepam"]
    assert diazepam.source and diazepam.source in html  # every equivalence value with its own source
    for form in context["formulations"]:
        assert form.source and form.source.replace("&", "&amp;") in html


def test_summary_lists_a_cap_override_with_its_reason(clinic_a, patient_a, psychiatrist):
    from decimal import Decimal

    from tests.taper.documents.conftest import plan_input
    from tests.taper.factories import create_plan

    reason = "Patient chose a fast taper after discussion"
    with tenant_context(clinic_a):
        try:
            create_plan(patient_a, psychiatrist, plan_input(rate_percent=Decimal(40), override_reason=reason))
        except services.PlanRefused as refused:  # the override names the steps it accepts
            steps = [v.step for v in refused.violations]
        data = plan_input(rate_percent=Decimal(40), override_reason=reason, override_steps=steps)
        plan = create_plan(patient_a, psychiatrist, data)
        content = documents.render_summary(plan, clinic=clinic_a, today=clinic_today(), printed_by="Dr Test")
    text = pdf_text(content)
    assert "Cap overrides" in text and "Patient chose a fast taper after discussion" in text
    assert "not approved by a psychiatrist" in text


# --- sending outside the clinic -------------------------------------------------------------------------
def _send(client, plan, clinic, recipient, purpose="treatment"):
    return client.post(
        _url("summary-send", plan, clinic),
        {"recipient": str(recipient.pk), "purpose": purpose, "channel": "fax"},
    )


def test_send_refused_without_consent_records_nothing(clinic_a, active_plan, nurse):
    recipient = recipient_in(clinic_a)
    client = client_for(nurse)
    page = client.get(_url("summary-send", active_plan, clinic_a))
    assert page.status_code == 200 and b"Download to send" not in page.content
    assert b"does not fax or e-mail" in page.content
    response = _send(client, active_plan, clinic_a, recipient)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not sent: no consent allows this disclosure" in body
    assert "no consent on file for this patient" in body
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).exists()


def test_send_refused_when_consent_does_not_cover_the_purpose(clinic_a, active_plan, patient_a, nurse):
    recipient = recipient_in(clinic_a)
    consent_in(clinic_a, patient_a, recipients=[recipient])  # treatment only
    response = _send(client_for(nurse), active_plan, clinic_a, recipient, purpose="payment")
    assert response.status_code == 400 and "purpose payment not covered" in response.content.decode()
    with tenant_context(clinic_a):
        assert Disclosure.objects.count() == 0


def test_send_with_consent_records_one_disclosure_and_offers_the_pdf(clinic_a, active_plan, patient_a, nurse):
    recipient = recipient_in(clinic_a, name="Dr. Quinn Harper")
    consent_in(clinic_a, patient_a, recipients=[recipient])
    response = _send(client_for(nurse), active_plan, clinic_a, recipient)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Disclosure recorded: download to send" in body and "does not fax or e-mail" in body
    data = re.search(r'href="data:application/pdf;base64,([^"]+)"', body).group(1)
    content = base64.b64decode(data)
    assert_pdf_has_content(content)
    text = pdf_text(content)
    assert notice.CORE_PHRASE in text and "Notice to any recipient (42 CFR 2.32)" in text
    assert "Disclosed to Dr. Quinn Harper" in text
    with tenant_context(clinic_a):
        disclosure = Disclosure.objects.get()
        assert disclosure.recipient == recipient and disclosure.patient == patient_a
        assert disclosure.purpose == "treatment" and disclosure.channel == "fax"
        assert disclosure.information_categories == list(documents.SUMMARY_CATEGORIES)
        assert disclosure.document_sha256 == hashlib.sha256(content).hexdigest()
        assert AuditEvent.objects.filter(action=AuditEvent.Action.DISCLOSE).count() == 1


# --- who may print --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["calendar-pdf", "summary-pdf", "summary-send"])
def test_outside_the_care_team_is_refused(clinic_a, active_plan, name):
    admissions = make_member(clinic_a, Role.ADMISSIONS)
    assert client_for(admissions).get(_url(name, active_plan, clinic_a)).status_code == 403
    assert _prints(clinic_a, active_plan, documents.CALENDAR_DOCUMENT) == 0


def test_other_clinic_plan_is_not_found(clinic_a, clinic_b, active_plan):
    outsider = make_member(clinic_b, Role.PSYCHIATRIST)
    url = reverse("taper:calendar-pdf", kwargs={"clinic_slug": clinic_b.slug, "plan_id": active_plan.pk})
    assert client_for(outsider).get(url).status_code == 404
