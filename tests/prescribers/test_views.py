"""Browser pages of a patient's medications: the list (every source, MME, timeline, co-prescription alerts),
adding/editing/stopping a medication, the panel on the patient page, the PDF; query counts stay flat."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from prescribers.models import Medication
from tests.conftest import client_for
from tests.dates import clinic_date
from tests.pdf_checks import pdf_text
from tests.prescribers.factories import NPIS, make_fill, make_medication, make_pharmacy, make_prescriber

pytestmark = pytest.mark.django_db
TODAY = clinic_date()


def url(name: str, clinic, **kwargs) -> str:
    return reverse(f"prescribers:{name}", kwargs={"clinic_slug": clinic.slug, **kwargs})


def _bar_spans(html: str) -> dict[str, tuple[float, float, float]]:
    spans = {}
    for tag in re.findall(r'<rect class="tl-bar"[^>]*>', html):
        line = re.search(r'data-line="([^"]+)"', tag).group(1)
        x, w, y = (float(re.search(rf' {a}="([^"]+)"', tag).group(1)) for a in ("x", "width", "y"))
        spans[line] = (x, x + w, y)
    return spans


# --- the medication list ---------------------------------------------------------------------------------
def test_the_list_shows_every_row_with_class_prescriber_pharmacy_and_source(clinic_a, patient_a, nurse):
    hale = make_prescriber(clinic_a, npi=NPIS[0], last_name="Hale", practice="Maple Family Medicine")
    pharmacy = make_pharmacy(clinic_a, "Riverside Pharmacy")
    make_medication(
        clinic_a,
        patient_a,
        drug_text="Alprazolam 1 mg tablet",
        strength=Decimal("1"),
        doses_per_day=Decimal("2"),
        prescriber=hale,
        pharmacy=pharmacy,
        sig="1 tablet twice a day",
    )
    make_fill(
        clinic_a, patient_a, drug_text="Oxycodone 10 mg tablet", strength=Decimal("10"), daily_amount=40
    )
    response = client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="rx-class rx-class-benzodiazepine">Benzodiazepine' in body
    assert 'class="rx-class rx-class-opioid">Opioid' in body
    assert "Robin Hale, MD" in body and "Riverside Pharmacy" in body and "1 tablet twice a day" in body
    assert "Entered by staff" in body and "PDMP OR" in body and "Imported " in body
    assert "60 MME/day" in body  # the fill: 40 mg oxycodone a day x 1.5
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="sd-chart sd-timeline"' in body
    with tenant_context(clinic_a):
        event = AuditEvent.objects.filter(action="view", patient_id=patient_a.pk).latest("id")
    assert event.detail["view"] == "medication list" and event.detail["rows"] == 2


def test_timeline_on_the_page_shows_the_overlap_of_two_prescribers(clinic_a, patient_a, nurse):
    hale = make_prescriber(clinic_a, npi=NPIS[0], last_name="Hale")
    quinn = make_prescriber(clinic_a, npi=NPIS[1], last_name="Quinn", first_name="Pat")
    first = make_medication(
        clinic_a,
        patient_a,
        drug_text="Clonazepam 0.5 mg tablet",
        strength=Decimal("0.5"),
        prescriber=hale,
        start_on=TODAY - datetime.timedelta(days=60),
        end_on=TODAY - datetime.timedelta(days=10),
    )
    second = make_fill(
        clinic_a,
        patient_a,
        prescriber=quinn,
        filled_on=TODAY - datetime.timedelta(days=30),
        days_supply=30,
    )
    page = client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk))
    body = page.content.decode().split('id="med-timeline-compact"')[0]  # the wide chart (phones: 60 days)
    spans = _bar_spans(body)
    a, b = spans[f"medication:{first.pk}"], spans[f"dispensation:{second.pk}"]
    assert a[2] != b[2]  # two prescribers: two rows
    assert b[0] < a[1] and a[0] < b[1]  # the bars overlap in time
    (band,) = re.findall(r'<rect class="tl-overlap" data-start="([^"]+)" data-end="([^"]+)"', body)
    assert band == (
        (TODAY - datetime.timedelta(days=30)).isoformat(),
        (TODAY - datetime.timedelta(days=10)).isoformat(),
    )


def test_mme_says_at_least_when_an_opioid_cannot_be_converted(clinic_a, patient_a, nurse):
    make_medication(clinic_a, patient_a)  # oxycodone 10 mg x 4 a day = 60 MME
    make_medication(clinic_a, patient_a, drug_text="Hydrocodone 5 mg tablet", doses_per_day=None)
    body = (
        client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk)).content.decode()
    )
    assert re.search(r'id="mme-figure">At least 60 MME/day<', body)
    assert "Hydrocodone 5 mg tablet 10 mg: strength, dose or frequency missing" in body


def test_mme_is_never_zero_when_the_only_opioid_cannot_be_converted(clinic_a, patient_a, nurse):
    make_medication(clinic_a, patient_a, doses_per_day=None)
    body = (
        client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk)).content.decode()
    )
    assert 'id="mme-figure">Cannot be calculated<' in body and "0 MME/day" not in body


def test_open_co_prescription_alerts_are_shown_through_the_signal(clinic_a, patient_a, nurse):
    from safety.models import Alert

    with tenant_context(clinic_a):
        alert = Alert.objects.create(
            clinic=clinic_a,
            patient=patient_a,
            rule_id="corx_opioid_benzo",
            severity="high",
            title="Opioid and benzodiazepine from different prescribers",
            source="test",
            dedup_key="corx:1",
            occurred_at=timezone.now(),
        )
        Alert.objects.create(
            clinic=clinic_a,
            patient=patient_a,
            rule_id="spo2_low",
            severity="critical",
            title="Low oxygen saturation",
            source="test",
            dedup_key="spo2:1",
            occurred_at=timezone.now(),
        )
    body = (
        client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk)).content.decode()
    )
    assert "Opioid and benzodiazepine from different prescribers" in body
    assert reverse("safety:detail", kwargs={"clinic_slug": clinic_a.slug, "alert_id": alert.pk}) in body
    assert "Low oxygen saturation" not in body


def _list_queries(client, clinic, patient, django_assert_max_num_queries) -> int:
    """Queries of one page load, without the session bookkeeping (the idle-timeout stamp and its clinic
    setting are refreshed only now and then, so they come and go between two loads)."""
    with django_assert_max_num_queries(60) as captured:
        assert client.get(url("patient-medications", clinic, patient_id=patient.pk)).status_code == 200
    bookkeeping = ("django_session", "idle_timeout_minutes")
    return len([q for q in captured.captured_queries if not any(b in q["sql"] for b in bookkeeping)])


def test_the_list_query_count_is_flat_in_the_number_of_rows(
    clinic_a, patient_a, nurse, django_assert_max_num_queries
):
    hale = make_prescriber(clinic_a, npi=NPIS[0])
    pharmacy = make_pharmacy(clinic_a)
    client = client_for(nurse)
    make_medication(clinic_a, patient_a, prescriber=hale, pharmacy=pharmacy)
    make_fill(clinic_a, patient_a, prescriber=hale, pharmacy=pharmacy)
    client.get(url("patient-medications", clinic_a, patient_id=patient_a.pk))  # warm caches (drug table)
    one = _list_queries(client, clinic_a, patient_a, django_assert_max_num_queries)
    for n in range(19):
        other = make_prescriber(clinic_a, npi="", last_name=f"Other{n}")
        make_medication(clinic_a, patient_a, prescriber=other, pharmacy=pharmacy)
        make_fill(clinic_a, patient_a, prescriber=other, filled_on=TODAY - datetime.timedelta(days=n + 1))
    twenty = _list_queries(client, clinic_a, patient_a, django_assert_max_num_queries)
    assert twenty == one


def test_the_list_is_for_the_care_team(clinic_a, patient_a, staff_a):
    for role, expected in (("admissions", 403), ("clinic_admin", 403), ("auditor", 403), ("clinician", 200)):
        response = client_for(staff_a[role]).get(
            url("patient-medications", clinic_a, patient_id=patient_a.pk)
        )
        assert response.status_code == expected, role


def test_another_clinics_patient_is_not_found(clinic_a, clinic_b, patient_b, nurse):
    assert (
        client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_b.pk)).status_code
        == 404
    )


def test_patient_page_links_the_list_and_loads_the_panel(clinic_a, patient_a, nurse):
    make_medication(clinic_a, patient_a)
    client = client_for(nurse)
    detail = client.get(
        reverse("patients:detail", kwargs={"clinic_slug": clinic_a.slug, "patient_id": patient_a.pk})
    )
    body = detail.content.decode()
    assert url("patient-medications", clinic_a, patient_id=patient_a.pk) in body
    assert url("patient-panel", clinic_a, patient_id=patient_a.pk) in body
    panel = client.get(url("patient-panel", clinic_a, patient_id=patient_a.pk), HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and "<html" not in panel.content.decode()
    assert "1 opioid" in panel.content.decode() and "60 MME/day" in panel.content.decode()


def test_pdmp_import_link_only_when_the_route_exists(clinic_a, patient_a, nurse):
    from django.urls import NoReverseMatch

    body = (
        client_for(nurse).get(url("patient-medications", clinic_a, patient_id=patient_a.pk)).content.decode()
    )
    try:
        url("pdmp-import", clinic_a, patient_id=patient_a.pk)
    except NoReverseMatch:
        assert 'id="import-pdmp"' not in body
    else:
        assert 'id="import-pdmp"' in body


def test_the_pdf_has_the_list_and_the_timeline(clinic_a, patient_a, nurse):
    make_medication(clinic_a, patient_a, drug_text="Alprazolam 1 mg tablet", strength=Decimal("1"))
    response = client_for(nurse).get(url("medications-pdf", clinic_a, patient_id=patient_a.pk))
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Alprazolam 1 mg tablet" in text and "Benzodiazepine" in text and "Today" in text
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action=AuditEvent.Action.PRINT, patient_id=patient_a.pk).exists()


# --- add, edit, stop -------------------------------------------------------------------------------------
def _form(**changes) -> dict:
    data = {
        "drug_text": "Alprazolam 0.5 mg tablet",
        "strength": "0.5",
        "strength_unit": "mg",
        "dose": "1",
        "dose_unit": "tablet",
        "doses_per_day": "3",
        "start_on": (TODAY - datetime.timedelta(days=5)).isoformat(),
        "route": "oral",
    }
    data.update(changes)
    return data


def test_adding_a_medication_classifies_it_and_goes_back_to_the_list(clinic_a, patient_a, nurse):
    hale = make_prescriber(clinic_a, npi=NPIS[0])
    client = client_for(nurse)
    assert client.get(url("medication-create", clinic_a, patient_id=patient_a.pk)).status_code == 200
    response = client.post(
        url("medication-create", clinic_a, patient_id=patient_a.pk),
        _form(prescriber=str(hale.pk)),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url("patient-medications", clinic_a, patient_id=patient_a.pk)
    assert "Alprazolam 0.5 mg tablet added (Benzodiazepine)" in response.content.decode()
    with tenant_context(clinic_a):
        medication = Medication.objects.get()
    assert medication.drug_class == "benzodiazepine" and medication.prescriber_id == hale.pk
    assert medication.entered_by_id == nurse.pk


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"drug_text": ""}, "drug_text"),
        ({"strength": "abc"}, "strength"),
        ({"dose_unit": "patch"}, "dose_unit"),  # the service's rule, shown on the field
        ({"doses_per_day": "40"}, "doses_per_day"),
        ({"end_on": (TODAY - datetime.timedelta(days=30)).isoformat()}, "end_on"),
        ({"start_on": "0001-01-01"}, "start_on"),
    ],
)
def test_bad_medication_input_is_a_form_error_and_writes_nothing(clinic_a, patient_a, nurse, changes, field):
    response = client_for(nurse).post(
        url("medication-create", clinic_a, patient_id=patient_a.pk), _form(**changes)
    )
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert 'id="error-summary"' in response.content.decode()
    with tenant_context(clinic_a):
        assert not Medication.objects.exists()


def test_another_clinics_prescriber_cannot_be_chosen(clinic_a, clinic_b, patient_a, nurse):
    theirs = make_prescriber(clinic_b, npi=NPIS[0])
    response = client_for(nurse).post(
        url("medication-create", clinic_a, patient_id=patient_a.pk), _form(prescriber=str(theirs.pk))
    )
    assert response.status_code == 400 and "prescriber" in response.context["form"].errors


def test_edit_and_stop_a_medication(clinic_a, patient_a, nurse):
    medication = make_medication(clinic_a, patient_a)
    client = client_for(nurse)
    edit = url("medication-edit", clinic_a, med_id=medication.pk)
    assert client.get(edit).status_code == 200
    response = client.post(edit, _form(drug_text="Oxycodone 5 mg tablet", strength="5", doses_per_day="2"))
    assert response.status_code == 302
    stop = url("medication-stop", clinic_a, med_id=medication.pk)
    assert client.post(stop, {"stopped_on": TODAY.isoformat(), "reason": ""}).status_code == 400
    future = (TODAY + datetime.timedelta(days=3)).isoformat()
    bad = client.post(stop, {"stopped_on": future, "reason": "Consolidated"})
    assert bad.status_code == 400 and "stopped_on" in bad.context["form"].errors
    assert client.post(stop, {"stopped_on": TODAY.isoformat(), "reason": "Consolidated"}).status_code == 302
    with tenant_context(clinic_a):
        medication.refresh_from_db()
    assert (medication.drug_text, medication.status, medication.end_on) == (
        "Oxycodone 5 mg tablet",
        "stopped",
        TODAY,
    )
    again = client.post(stop, {"stopped_on": TODAY.isoformat(), "reason": "again"})
    assert again.status_code == 400 and "Already stopped" in again.content.decode()


OXYCODONE = {"drug_text": "Oxycodone 10 mg tablet", "strength": "10", "doses_per_day": "4"}


def test_an_order_the_rules_would_flag_is_shown_before_it_is_saved(clinic_a, patient_a, psychiatrist, nurse):
    """On a taper plan (a benzodiazepine), oxycodone 10 mg four times a day (60 MME/day): the form says which
    alerts saving would raise, saves nothing, and saves once the nurse confirms those alerts."""
    from tests.taper.factories import make_taper_plan

    make_taper_plan(
        clinic_a, patient_a, psychiatrist, status="active", start_date=TODAY - datetime.timedelta(days=10)
    )
    client = client_for(nurse)
    create = url("medication-create", clinic_a, patient_id=patient_a.pk)
    first = client.post(create, _form(**OXYCODONE))
    body = first.content.decode()
    assert first.status_code == 200 and 'id="order-check"' in body
    assert "would raise 2 safety alerts" in body
    assert "Benzodiazepine and opioid pain medicine at the same time" in body
    assert "Opioid dose at or above 50 MME/day" in body and "FDA" in body
    assert body.index("Benzodiazepine and opioid") < body.index("Opioid dose at or above")  # high first
    with tenant_context(clinic_a):
        assert not Medication.objects.exists()
    fingerprint = first.context["fingerprint"]
    # A changed order (8 a day: 120 MME/day) raises more: the earlier confirmation does not cover it.
    changed = client.post(create, _form(**{**OXYCODONE, "doses_per_day": "8"}, confirm_warnings=fingerprint))
    assert changed.status_code == 200 and "would raise 3 safety alerts" in changed.content.decode()
    saved = client.post(create, _form(**OXYCODONE, confirm_warnings=fingerprint))
    assert saved.status_code == 302
    with tenant_context(clinic_a):
        medication = Medication.objects.get()
        confirmed = AuditEvent.objects.filter(
            object_id=str(medication.pk), detail__has_key="order_check_confirmed"
        )
        assert confirmed.get().detail["order_check_confirmed"] == ["corx_benzo_opioid", "corx_mme_reassess"]


def test_an_order_that_raises_nothing_new_saves_at_once(clinic_a, patient_a, nurse):
    """No benzodiazepine on file, 5 mg twice a day (15 MME/day): no rule fires, no confirm step."""
    response = client_for(nurse).post(
        url("medication-create", clinic_a, patient_id=patient_a.pk),
        _form(**{**OXYCODONE, "strength": "5", "doses_per_day": "2", "drug_text": "Oxycodone 5 mg tablet"}),
    )
    assert response.status_code == 302


def test_editing_an_order_up_to_the_avoid_level_asks_first(clinic_a, patient_a, nurse):
    medication = make_medication(clinic_a, patient_a)  # 60 MME/day
    edit = url("medication-edit", clinic_a, med_id=medication.pk)
    same_start = medication.start_on.isoformat()  # an earlier start would move the 50-MME episode too
    response = client_for(nurse).post(
        edit, _form(**OXYCODONE | {"doses_per_day": "6", "start_on": same_start})
    )
    body = response.content.decode()
    assert response.status_code == 200 and "would raise 1 safety alert<" in body  # only the new level
    assert "Opioid dose at or above 90 MME/day" in body
    with tenant_context(clinic_a):
        medication.refresh_from_db()
    assert medication.doses_per_day == 4


def test_recording_is_for_the_care_team(clinic_a, patient_a, staff_a):
    for role in ("admissions", "clinic_admin", "auditor"):
        client = client_for(staff_a[role])
        assert (
            client.post(url("medication-create", clinic_a, patient_id=patient_a.pk), _form()).status_code
            == 403
        )
    with tenant_context(clinic_a):
        assert not Medication.objects.exists()
