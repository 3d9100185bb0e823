"""Browser views: the entry form and its confirmation step, the instrument form, lists, settings, roles."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from tests.conftest import client_for
from tests.dates import DEFAULT_ZONE, clinic_date
from tests.vitals.conftest import record, score
from vitals.models import InstrumentResult, VitalReading, VitalThresholdSettings

pytestmark = pytest.mark.django_db


def base(clinic, patient) -> str:
    return f"/c/{clinic.slug}/vitals/patients/{patient.pk}"


def local_now(clinic=None) -> str:
    """Now as the clinic's wall clock shows it (forms are filled in the clinic's time zone)."""
    zone = ZoneInfo(clinic.timezone if clinic else DEFAULT_ZONE)
    return timezone.localtime(timezone=zone).strftime("%Y-%m-%dT%H:%M")


def form_data(**values) -> dict:
    return {
        "taken_at": local_now(),
        "taken_by": "Nurse Joy",
        "position": "sitting",
        "on_oxygen": "",
        "consciousness": "",
        "note": "",
        **values,
    }


def readings(clinic):
    with tenant_context(clinic):
        return list(VitalReading.objects.prefetch_related("values"))


# --- vitals entry -------------------------------------------------------------------------------------------
def test_nurse_records_vitals_and_sees_the_category(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/readings/new/"
    page = nurse_client.get(url)
    assert page.status_code == 200
    assert b'inputmode="numeric"' in page.content and b"Nurse clinic-a" in page.content  # taken_by prefilled
    response = nurse_client.post(
        url, form_data(systolic_bp="142", diastolic_bp="88", heart_rate="76", spo2="97"), follow=True
    )
    assert response.redirect_chain[-1][0].endswith(f"{base(clinic_a, patient_a)}/")
    assert b"Stage 2 hypertension" in response.content
    assert b"142/88" in response.content
    (saved,) = readings(clinic_a)
    assert saved.bp_category == "stage_2" and saved.position == "sitting" and saved.source == "clinic"


def test_impossible_value_shows_a_plain_error_and_saves_nothing(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/readings/new/"
    response = nurse_client.post(url, form_data(systolic_bp="420", diastolic_bp="80", heart_rate="7O"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "not physiologically possible" in body and "Heart rate must be a number" in body
    assert 'aria-invalid="true"' in body
    assert readings(clinic_a) == []


def test_empty_form_is_refused(clinic_a, patient_a, nurse_client):
    response = nurse_client.post(f"{base(clinic_a, patient_a)}/readings/new/", form_data())
    assert response.status_code == 400 and b"Enter at least one measurement" in response.content
    assert nurse_client.post(f"{base(clinic_a, patient_a)}/readings/new/", {}).status_code == 400


def test_unusual_values_need_the_confirm_step(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/readings/new/"
    data = form_data(heart_rate="135", spo2="98", systolic_bp="", diastolic_bp="")
    asked = nurse_client.post(url, data)
    assert asked.status_code == 200
    body = asked.content.decode()
    assert "Confirm these values" in body and "Heart rate of 135 beats/min is unusually high" in body
    assert 'name="confirmed_values" value="heart_rate=135;spo2=98"' in body
    assert readings(clinic_a) == []

    # Changing a value after being asked asks again (the confirmation was for the old values).
    changed = nurse_client.post(
        url, {**data, "heart_rate": "140", "confirm": "yes", "confirmed_values": "heart_rate=135;spo2=98"}
    )
    assert b"Confirm these values" in changed.content and readings(clinic_a) == []

    saved = nurse_client.post(
        url, {**data, "confirm": "yes", "confirmed_values": "heart_rate=135;spo2=98"}, follow=True
    )
    assert saved.status_code == 200
    (reading,) = readings(clinic_a)
    assert {v.kind: v.confirmed_unusual for v in reading.values.all()} == {"heart_rate": True, "spo2": False}
    assert reading.position == ""  # no blood pressure, so the default position was not stored


def test_reading_detail_shows_units_loinc_and_is_audited(clinic_a, patient_a, nurse_client):
    reading = record(clinic_a, patient_a, values={"heart_rate": 130, "spo2": 97}, confirm_unusual=True)
    response = nurse_client.get(f"/c/{clinic_a.slug}/vitals/readings/{reading.pk}/")
    body = response.content.decode()
    assert "8867-4" in body and "59408-5, 2708-6" in body and "/min" in body
    assert "resting heart rate above 100/min" in body  # the threshold crossed
    with tenant_context(clinic_a):
        assert AuditEvent.objects.filter(action="view", object_id=str(reading.pk)).exists()


# --- instruments --------------------------------------------------------------------------------------------
def test_ciwa_b_form_is_generated_from_the_data_and_shows_total_and_band(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/scores/new/ciwa_b/"
    page = nurse_client.get(url)
    body = page.content.decode()
    assert body.count('type="radio"') == 20 * 5
    assert "Do you feel irritable?" in body and "Clinician review required" in body
    data = {"completed_at": local_now(clinic_a)}
    data.update({f"item_{n}": "2" for n in range(1, 21)})
    response = nurse_client.post(url, data, follow=True)
    body = response.content.decode()
    assert 'id="result-total">40<' in body and "moderate" in body
    with tenant_context(clinic_a):
        result = InstrumentResult.objects.get()
    assert result.answers == {str(n): 2 for n in range(1, 21)} and result.total == 40


def test_missing_answers_are_listed_and_nothing_saved(clinic_a, patient_a, nurse_client):
    url = f"{base(clinic_a, patient_a)}/scores/new/phq9/"
    data = {"completed_at": local_now(clinic_a), "item_1": "1", "item_2": "7"}
    response = nurse_client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert body.count("Choose an answer.") >= 7 and "Choose one of the answers." in body
    with tenant_context(clinic_a):
        assert not InstrumentResult.objects.exists()


def test_phq9_item9_shows_the_urgent_flag(clinic_a, patient_a, nurse_client):
    result = score(clinic_a, patient_a, "phq9", {**{str(n): 0 for n in range(1, 9)}, "9": 2})
    body = nurse_client.get(f"/c/{clinic_a.slug}/vitals/scores/{result.pk}/").content.decode()
    assert 'role="alert"' in body and "urgent safety assessment" in body


def test_unknown_instrument_is_404(clinic_a, patient_a, nurse_client):
    assert nurse_client.get(f"{base(clinic_a, patient_a)}/scores/new/bwsq/").status_code == 404


# --- lists, panel, flowsheet --------------------------------------------------------------------------------
def test_patient_page_lists_readings_with_badges_and_scores(clinic_a, patient_a, nurse_client):
    record(clinic_a, patient_a, values={"systolic_bp": 118, "diastolic_bp": 70})
    score(clinic_a, patient_a, "gad7", {str(n): 1 for n in range(1, 8)})
    body = nurse_client.get(f"{base(clinic_a, patient_a)}/").content.decode()
    assert "bp-normal" in body and "118/70" in body and "GAD-7" in body and "Record CIWA-B" in body


def test_the_patient_record_page_has_the_vitals_panel(clinic_a, patient_a, nurse_client):
    body = nurse_client.get(f"/c/{clinic_a.slug}/patients/{patient_a.pk}/").content.decode()
    assert f"/c/{clinic_a.slug}/vitals/patients/{patient_a.pk}/panel/" in body and 'id="open-vitals"' in body
    panel = nurse_client.get(f"{base(clinic_a, patient_a)}/panel/", headers={"HX-Request": "true"})
    assert b"Record vitals" in panel.content and b"<html" not in panel.content


def test_flowsheet_draws_charts(clinic_a, patient_a, nurse_client):
    record(clinic_a, patient_a, minutes_ago=60 * 24 * 3)
    record(clinic_a, patient_a, values={"systolic_bp": 135, "diastolic_bp": 85, "heart_rate": 88})
    score(clinic_a, patient_a, "ciwa_b", {str(n): 1 for n in range(1, 21)})
    body = nurse_client.get(f"{base(clinic_a, patient_a)}/flowsheet/?days=14").content.decode()
    assert body.count("<svg") >= 4
    assert 'id="chart-bp"' in body and 'id="chart-withdrawal"' in body and "CIWA-B" in body
    assert 'id="no-dose"' in body  # no taper plan: no dose series, said plainly


@pytest.mark.parametrize("path", ["/", "/flowsheet/"])
def test_list_pages_use_a_flat_number_of_queries(
    clinic_a, patient_a, nurse_client, django_assert_max_num_queries, path
):
    url = base(clinic_a, patient_a) + path
    record(clinic_a, patient_a)
    score(clinic_a, patient_a, "phq9", {str(n): 0 for n in range(1, 10)})
    nurse_client.get(url)
    with django_assert_max_num_queries(60) as one:
        nurse_client.get(url)
    for n in range(6):
        record(clinic_a, patient_a, minutes_ago=30 + n, values={"heart_rate": 70 + n, "spo2": 97})
        score(clinic_a, patient_a, "gad7", {str(i): 1 for i in range(1, 8)})
    with django_assert_max_num_queries(len(one.captured_queries)):
        nurse_client.get(url)


# --- clinic thresholds --------------------------------------------------------------------------------------
def test_admin_tightens_a_threshold_and_loosening_is_refused(clinic_a, staff_a):
    admin = client_for(staff_a[Role.CLINIC_ADMIN])
    url = f"/c/{clinic_a.slug}/vitals/settings/"
    page = admin.get(url).content.decode()
    assert "Whelton 2018" in page and "check__tachycardia" in page
    assert "Fixed by its source" in page  # consciousness check is not overridable
    saved = admin.post(url, {"check__tachycardia": "95", "usual__heart_rate__max": "120"}, follow=True)
    assert b"Vital-sign thresholds saved" in saved.content
    refused = admin.post(url, {"check__tachycardia": "120", "check__oversedation_low_spo2": "88"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "would loosen the default" in body and "may only tighten" in body
    with tenant_context(clinic_a):
        assert VitalThresholdSettings.objects.get().overrides == {
            "checks": {"tachycardia": {"value": "95"}},
            "usual": {"heart_rate": {"max": "120"}},
        }


def test_roles(clinic_a, patient_a, staff_a):
    url = f"{base(clinic_a, patient_a)}/readings/new/"
    assert client_for(staff_a[Role.ADMISSIONS]).get(url).status_code == 403
    assert client_for(staff_a[Role.PSYCHIATRIST]).get(url).status_code == 200
    assert client_for(staff_a[Role.NURSE]).get(f"/c/{clinic_a.slug}/vitals/settings/").status_code == 403
    assert client_for(staff_a[Role.AUDITOR]).get(f"{base(clinic_a, patient_a)}/").status_code == 403


def test_other_clinics_patient_is_404(clinic_a, patient_b, nurse_client):
    assert nurse_client.get(f"{base(clinic_a, patient_b)}/readings/new/").status_code == 404


def test_flowsheet_shows_the_taper_dose_and_step_dates_beside_the_vitals(clinic_a, patient_a, nurse_client):
    import datetime as dt

    from taper.selectors import step_dates
    from tests.conftest import make_member
    from tests.taper.factories import create_plan, plan_input

    psychiatrist = make_member(clinic_a, Role.PSYCHIATRIST, email="psych@clinic-a.example.org")
    start = clinic_date() - dt.timedelta(days=40)
    with tenant_context(clinic_a):
        create_plan(patient_a, psychiatrist, plan_input(start_date=start), status="active")
        steps = [d for d in step_dates(patient=patient_a) if d >= start]
    record(clinic_a, patient_a, minutes_ago=60 * 24 * 20)
    record(clinic_a, patient_a)
    body = nurse_client.get(f"{base(clinic_a, patient_a)}/flowsheet/?days=90").content.decode()
    assert 'id="chart-dose"' in body and 'id="no-dose"' not in body
    assert "Planned dose" in body and "Diazepam equivalent (mg)" in body
    assert steps and body.count("Dotted line: taper step") >= 2  # the dose chart and the BP chart
