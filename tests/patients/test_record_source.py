"""Where a substance-use or medication row came from: set by the services, shown on the record, never a
form field, and kept when staff edit the row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions.services import inquiry_convert_to_patient
from patients.forms import MedicationForm, SubstanceUseForm
from patients.models import RecordSource, ReportedMedication, SubstanceUse
from patients.services import medication_add, record_entry_update, substance_use_add
from tests.dates import clinic_date
from tests.patients.admissions.conftest import make_inquiry

pytestmark = pytest.mark.django_db


def _detail(client, staff, clinic, patient) -> str:
    client.force_login(staff[Role.NURSE])
    response = client.get(
        reverse("patients:detail", kwargs={"clinic_slug": clinic.slug, "patient_id": patient.pk})
    )
    assert response.status_code == 200
    return response.content.decode()


def test_record_page_says_which_rows_were_reported_at_inquiry(client, clinic_a, staff_a):
    inquiry = make_inquiry(
        clinic_a, benzodiazepines=[{"drug": "alprazolam", "daily_dose_mg": "2"}], other_substances=[]
    )
    with tenant_context(clinic_a):
        patient = inquiry_convert_to_patient(actor=None, inquiry=inquiry, confirm_duplicate=True)
        substance_use_add(actor=None, patient=patient, fields={"category": "alcohol"})
    html = _detail(client, staff_a, clinic_a, patient)
    substance_section = html.split('id="substance-use"')[1].split("</section>")[0]
    medication_section = html.split('id="medications"')[1].split("</section>")[0]
    assert "No substance use recorded" not in html and "No medications reported" not in html
    rows = substance_section.split("<tr>")[2:]  # after the header row
    marks = {("Alprazolam" in r, "reported at inquiry" in r) for r in rows}
    assert marks == {(True, True), (False, False)}  # the staff-entered alcohol row is not marked
    assert "Alprazolam</strong> 2 mg a day" in medication_section
    assert "reported at inquiry" in medication_section


def test_source_is_not_a_form_field_and_survives_an_edit(clinic_a, patient_a):
    assert "source" not in SubstanceUseForm.base_fields and "source" not in MedicationForm.base_fields
    with tenant_context(clinic_a):
        med = medication_add(
            actor=None,
            patient=patient_a,
            fields={"name": "Xanax", "strength": "1 mg", "reported_on": clinic_date()},
            source=RecordSource.INQUIRY,
        )
        staff_row = substance_use_add(actor=None, patient=patient_a, fields={"category": "alcohol"})
        assert staff_row.source == RecordSource.STAFF
        edited = record_entry_update(actor=None, entry=med, fields={"dose_frequency": "twice a day"})
        assert ReportedMedication.objects.get(pk=edited.pk).source == RecordSource.INQUIRY
        assert SubstanceUse.objects.get(pk=staff_row.pk).source == RecordSource.STAFF
        with pytest.raises(ValueError):
            substance_use_add(actor=None, patient=patient_a, fields={"category": "alcohol"}, source="made up")
