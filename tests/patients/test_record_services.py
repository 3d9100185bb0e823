"""Record sections through their services: validated, atomic, audited; bad input changes nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from patients.models import (
    Allergy,
    Diagnosis,
    ExternalIdentifier,
    Patient,
    PatientContact,
    ReportedMedication,
    SubstanceUse,
)
from patients.services import (
    allergy_add,
    contact_add,
    diagnosis_add,
    identifier_add,
    medication_add,
    patient_update,
    record_entry_close,
    record_entry_update,
    substance_use_add,
)
from tests.conftest import make_patient
from tests.dates import clinic_date

pytestmark = pytest.mark.django_db

TODAY = clinic_date()
TOMORROW = TODAY + datetime.timedelta(days=1)
EHR = "urn:oid:2.16.840.1.113883.3.42"


@pytest.fixture
def inside(clinic_a):
    with tenant_context(clinic_a):
        yield clinic_a


def _rows(model) -> int:
    return model.objects.count()


def _audits() -> int:
    return AuditEvent.objects.count()


def _refused(call, field: str, model) -> ValidationError:
    before = (_rows(model), _audits())
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert (_rows(model), _audits()) == before, "a refused write left something behind"
    return caught.value


# --- demographics ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("zip_code", ["1234", "123456", "12345-67", "ABCDE", "12345 6789"])
def test_bad_zip_is_refused(inside, patient_a, zip_code):
    with pytest.raises(ValidationError) as caught:
        patient_update(actor=None, patient=patient_a, fields={"zip_code": zip_code})
    assert "zip_code" in caught.value.message_dict


def test_address_and_demographics_are_saved_and_audited_by_field_name(inside, patient_a):
    fields = {
        "address_line1": " 12 Elm St ",
        "city": "Portland",
        "state": "or",
        "zip_code": "97201-1234",
        "preferred_language": "Spanish",
        "marital_status": "married",
    }
    patient = patient_update(actor=None, patient=patient_a, fields=fields)
    patient.refresh_from_db()
    assert (patient.address_line1, patient.state, patient.zip_code) == ("12 Elm St", "OR", "97201-1234")
    assert patient.address_lines == ["12 Elm St", "Portland, OR 97201-1234"]
    event = AuditEvent.objects.filter(action="update", object_id=str(patient.pk)).latest("id")
    assert set(event.detail["fields"]) == set(fields)
    assert "Portland" not in str(event.detail)


def test_unknown_state_is_refused(inside, patient_a):
    with pytest.raises(ValidationError) as caught:
        patient_update(actor=None, patient=patient_a, fields={"state": "ZZ"})
    assert "state" in caught.value.message_dict


# --- contacts and identifiers -------------------------------------------------------------------------
def test_contact_add_is_audited_without_values(inside, patient_a):
    contact = contact_add(
        actor=None,
        patient=patient_a,
        fields={
            "name": "Robin Ellery",
            "relationship": "sibling",
            "phone": "503-555-0101",
            "is_emergency_contact": True,
        },
    )
    event = AuditEvent.objects.get(action="create", object_id=str(contact.pk))
    assert event.object_type == "patients.patientcontact" and str(event.patient_id) == str(patient_a.pk)
    assert "Robin" not in str(event.detail) and "name" in event.detail["fields"]


def test_contact_bad_phone_and_oversized_notes_are_refused(inside, patient_a):
    error = _refused(
        lambda: contact_add(
            actor=None,
            patient=patient_a,
            fields={"name": "R", "relationship": "friend", "phone": "call me", "notes": "n" * 1001},
        ),
        "phone",
        PatientContact,
    )
    assert "notes" in error.message_dict


def test_contact_mark_inactive_keeps_the_row(inside, patient_a):
    contact = contact_add(actor=None, patient=patient_a, fields={"name": "Sam", "relationship": "friend"})
    closed = record_entry_close(actor=None, entry=contact)
    assert closed.is_active is False and PatientContact.objects.filter(pk=contact.pk).exists()


def test_identifier_must_be_a_uri(inside, patient_a):
    _refused(
        lambda: identifier_add(actor=None, patient=patient_a, fields={"system": "county ehr", "value": "1"}),
        "system",
        ExternalIdentifier,
    )


def test_duplicate_identifier_names_the_patient_who_has_it(inside, clinic_a, patient_a):
    identifier_add(actor=None, patient=patient_a, fields={"system": EHR, "value": "A-100"})
    other = make_patient(clinic_a, first_name="Casey", last_name="Other")
    with tenant_context(clinic_a):
        error = _refused(
            lambda: identifier_add(actor=None, patient=other, fields={"system": EHR, "value": "A-100"}),
            "value",
            ExternalIdentifier,
        )
    assert patient_a.mrn in error.message_dict["value"][0]
    # The same value in another system is another identifier.
    identifier_add(
        actor=None, patient=other, fields={"system": "https://ehr.example.org/mrn", "value": "A-100"}
    )


def test_same_identifier_in_another_clinic_is_fine(clinic_a, clinic_b, patient_a):
    with tenant_context(clinic_a):
        identifier_add(actor=None, patient=patient_a, fields={"system": EHR, "value": "A-100"})
    other = make_patient(clinic_b)
    with tenant_context(clinic_b):
        identifier_add(actor=None, patient=other, fields={"system": EHR, "value": "A-100"})


# --- allergies and diagnoses -------------------------------------------------------------------------
def test_allergy_in_the_future_is_refused(inside, patient_a):
    _refused(
        lambda: allergy_add(
            actor=None, patient=patient_a, fields={"substance": "Latex", "noted_on": TOMORROW}
        ),
        "noted_on",
        Allergy,
    )


def test_allergy_mark_inactive(inside, patient_a):
    allergy = allergy_add(actor=None, patient=patient_a, fields={"substance": "Sulfa", "severity": "mild"})
    assert record_entry_close(actor=None, entry=allergy).status == "inactive"


def test_unknown_icd_code_is_refused_with_the_code_named(inside, patient_a):
    error = _refused(
        lambda: diagnosis_add(actor=None, patient=patient_a, fields={"code": "F13.77"}), "code", Diagnosis
    )
    assert "F13.77" in error.message_dict["code"][0]


def test_diagnosis_code_is_normalised_and_described(inside, patient_a):
    diagnosis = diagnosis_add(actor=None, patient=patient_a, fields={"code": "f13239"})
    assert diagnosis.code == "F13.239"
    assert diagnosis.description == "Sedative, hypnotic or anxiolytic dependence with withdrawal, unspecified"


def test_a_new_primary_diagnosis_demotes_the_old_one_and_audits_it(inside, patient_a):
    first = diagnosis_add(actor=None, patient=patient_a, fields={"code": "F13.20", "is_primary": True})
    second = diagnosis_add(actor=None, patient=patient_a, fields={"code": "F41.1", "is_primary": True})
    first.refresh_from_db()
    assert not first.is_primary and second.is_primary
    assert AuditEvent.objects.filter(
        action="update", object_id=str(first.pk), detail__fields=["is_primary"]
    ).exists()


def test_diagnosis_resolved_before_onset_is_refused(inside, patient_a):
    _refused(
        lambda: diagnosis_add(
            actor=None,
            patient=patient_a,
            fields={
                "code": "F41.1",
                "status": "resolved",
                "onset_on": TODAY,
                "resolved_on": TODAY - datetime.timedelta(days=3),
            },
        ),
        "resolved_on",
        Diagnosis,
    )


def test_resolve_sets_today_and_keeps_the_row(inside, patient_a):
    diagnosis = diagnosis_add(actor=None, patient=patient_a, fields={"code": "F43.10"})
    resolved = record_entry_close(actor=None, entry=diagnosis)
    assert (resolved.status, resolved.resolved_on) == ("resolved", TODAY)


def test_update_audits_changed_field_names_only(inside, patient_a):
    diagnosis = diagnosis_add(actor=None, patient=patient_a, fields={"code": "F41.1"})
    record_entry_update(actor=None, entry=diagnosis, fields={"code": "F41.0", "notes": "panic attacks"})
    event = AuditEvent.objects.filter(action="update", object_id=str(diagnosis.pk)).latest("id")
    assert event.detail == {"fields": ["code", "notes"]}
    diagnosis.refresh_from_db()
    assert diagnosis.description.startswith("Panic disorder")


# --- substance use -------------------------------------------------------------------------------------
BENZO = {
    "category": "benzodiazepine",
    "benzodiazepine": "clonazepam",
    "daily_amount": Decimal("1.5"),
    "unit": "mg",
}


def test_substance_use_benzodiazepine_needs_the_drug(inside, patient_a):
    _refused(
        lambda: substance_use_add(actor=None, patient=patient_a, fields={**BENZO, "benzodiazepine": ""}),
        "benzodiazepine",
        SubstanceUse,
    )
    saved = substance_use_add(actor=None, patient=patient_a, fields=BENZO)
    assert saved.substance_name == "Clonazepam"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"daily_amount": Decimal("-1")}, "daily_amount"),
        ({"daily_amount": Decimal("20000")}, "daily_amount"),
        ({"unit": ""}, "unit"),
        ({"duration_months": 5000}, "duration_months"),
        ({"age_at_first_use": 0}, "age_at_first_use"),
        ({"age_at_first_use": 99}, "age_at_first_use"),  # older than the patient
        ({"last_used_on": TOMORROW}, "last_used_on"),
        ({"last_used_on": datetime.date(1950, 1, 1)}, "last_used_on"),  # before birth
        ({"notes": "x" * 1001}, "notes"),
        ({"category": "alcohol"}, "benzodiazepine"),  # a benzodiazepine drug on an alcohol row
    ],
)
def test_substance_use_bounds(inside, patient_a, change, field):
    _refused(
        lambda: substance_use_add(actor=None, patient=patient_a, fields={**BENZO, **change}),
        field,
        SubstanceUse,
    )


# --- medications -----------------------------------------------------------------------------------------
def test_medication_benzodiazepine_flag_is_derived_from_the_name(inside, patient_a):
    xanax = medication_add(actor=None, patient=patient_a, fields={"name": "Xanax", "reported_on": TODAY})
    sertraline = medication_add(
        actor=None, patient=patient_a, fields={"name": "Sertraline", "reported_on": TODAY}
    )
    assert xanax.is_benzodiazepine and not sertraline.is_benzodiazepine
    renamed = record_entry_update(actor=None, entry=sertraline, fields={"name": "Lorazepam"})
    assert renamed.is_benzodiazepine
    assert record_entry_close(actor=None, entry=xanax).status == "stopped"


def test_medication_reported_in_the_future_is_refused(inside, patient_a):
    _refused(
        lambda: medication_add(
            actor=None, patient=patient_a, fields={"name": "Diazepam", "reported_on": TOMORROW}
        ),
        "reported_on",
        ReportedMedication,
    )


def test_substance_use_has_no_closed_state(inside, patient_a):
    row = substance_use_add(actor=None, patient=patient_a, fields=BENZO)
    with pytest.raises(ValidationError):
        record_entry_close(actor=None, entry=row)


def test_services_refuse_fields_they_do_not_edit(inside, patient_a):
    with pytest.raises(TypeError):
        medication_add(actor=None, patient=patient_a, fields={"name": "X", "is_benzodiazepine": True})
    assert Patient.objects.count() == 1
