"""Converting an inquiry keeps what the caller reported: benzodiazepines and doses become substance-use
rows and current reported medications, other substances become substance-use rows, all marked as reported
at inquiry, audited, in the conversion's transaction. Linking an existing patient copies nothing."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions import services as admissions_services
from patients.admissions.models import Inquiry
from patients.admissions.services import inquiry_convert_to_patient, inquiry_link_patient
from patients.models import Patient, RecordSource, ReportedMedication, SubstanceUse
from tests.patients.admissions.conftest import make_inquiry

pytestmark = pytest.mark.django_db

REPORTED = [
    {"drug": "alprazolam", "daily_dose_mg": "2"},
    {"drug": "other", "daily_dose_mg": "1.5"},
]
OTHERS = {"other_substances": ["alcohol", "opioids", "other"], "other_substances_note": "Kratom, most days"}


def _convert(clinic, inquiry, actor=None) -> Patient:
    with tenant_context(clinic):
        return inquiry_convert_to_patient(actor=actor, inquiry=inquiry, confirm_duplicate=True)


def test_convert_carries_the_reported_facts_into_the_record(clinic_a, staff_a):
    actor = staff_a[Role.ADMISSIONS]
    inquiry = make_inquiry(clinic_a, actor=actor, benzodiazepines=REPORTED, **OTHERS)
    patient = _convert(clinic_a, inquiry, actor)
    with tenant_context(clinic_a):
        uses = list(SubstanceUse.objects.filter(patient=patient).order_by("created_at"))
        meds = list(ReportedMedication.objects.filter(patient=patient))
        created_on = timezone.localtime(
            Inquiry.objects.get(pk=inquiry.pk).created_at, zoneinfo.ZoneInfo(clinic_a.timezone)
        ).date()

        assert {u.source for u in uses} == {RecordSource.INQUIRY}
        alprazolam, unknown, *rest = uses
        assert (alprazolam.category, alprazolam.benzodiazepine, alprazolam.daily_amount, alprazolam.unit) == (
            "benzodiazepine",
            "alprazolam",
            Decimal("2"),
            "mg",
        )
        assert (unknown.category, unknown.benzodiazepine, unknown.drug_name) == (
            "benzodiazepine",
            "other",
            "unknown benzodiazepine (reported at inquiry)",
        )
        assert [(u.category, u.drug_name) for u in rest] == [
            ("alcohol", ""),
            ("opioid", ""),
            ("other", "Kratom, most days"),
        ]
        # The note says when and by whom (the relationship), never the caller's name or other free text.
        for use in uses:
            assert "reported at first contact" in use.notes.lower()
            assert "spouse or partner" in use.notes
            assert "Morgan" not in use.notes and "Quillfeather" not in use.notes
            assert "clonazepam" not in use.notes.lower()  # the reason for seeking care is not copied

        # One current medication, for the named drug only; the flag follows the name through the service.
        [med] = meds
        assert (med.name, med.strength, med.status, med.source) == (
            "Alprazolam",
            "2 mg a day",
            ReportedMedication.Status.CURRENT,
            RecordSource.INQUIRY,
        )
        assert med.is_benzodiazepine and med.reported_on == created_on

        # Every created row is audited as a record write, about the patient, by the person converting.
        created = AuditEvent.objects.filter(action=AuditEvent.Action.CREATE, patient_id=patient.pk)
        for row in [*uses, med]:
            event = created.get(object_type=row._meta.label_lower, object_id=str(row.pk))
            assert event.actor == actor and event.detail["source"] == "inquiry"


def test_reported_on_is_the_inquiry_day_in_the_clinic_time_zone(clinic_a):
    clinic_a.timezone = "America/Los_Angeles"
    clinic_a.save(update_fields=["timezone"])
    inquiry = make_inquiry(clinic_a)
    # 03:00 UTC is still the evening before in Los Angeles.
    day = timezone.now().date() - datetime.timedelta(days=10)
    created = datetime.datetime.combine(day, datetime.time(3, 0), tzinfo=datetime.UTC)
    with tenant_context(clinic_a):
        Inquiry.objects.filter(pk=inquiry.pk).update(created_at=created)
    patient = _convert(clinic_a, inquiry)
    with tenant_context(clinic_a):
        med = ReportedMedication.objects.get(patient=patient)
        assert med.reported_on == day - datetime.timedelta(days=1)
        assert med.name == "Clonazepam" and med.strength == "2 mg a day"


def test_a_failure_midway_leaves_nothing(clinic_a, monkeypatch):
    inquiry = make_inquiry(clinic_a, benzodiazepines=REPORTED, **OTHERS)

    def fail(**kwargs):
        raise RuntimeError("the medication list is down")

    monkeypatch.setattr(admissions_services, "medication_add", fail)

    def counts() -> tuple[int, ...]:
        with tenant_context(clinic_a):
            return (
                Patient.objects.count(),
                SubstanceUse.objects.count(),
                ReportedMedication.objects.count(),
                AuditEvent.objects.count(),
            )

    before = counts()
    with pytest.raises(RuntimeError, match="medication list"):
        _convert(clinic_a, inquiry)
    # The patient, its link and the first substance-use row were written before the failure: all undone.
    assert counts() == before
    with tenant_context(clinic_a):
        assert Inquiry.objects.get(pk=inquiry.pk).patient_id is None


def test_an_inquiry_without_reports_adds_nothing(clinic_a):
    inquiry = make_inquiry(clinic_a, benzodiazepines=[], other_substances=[], other_substances_note="x")
    patient = _convert(clinic_a, inquiry)
    with tenant_context(clinic_a):
        assert not SubstanceUse.objects.filter(patient=patient).exists()
        assert not ReportedMedication.objects.filter(patient=patient).exists()


def test_the_note_is_copied_only_to_the_other_substance_row(clinic_a):
    long_note = "Kratom powder, several grams most days, and sometimes gabapentin from a friend " * 3
    inquiry = make_inquiry(
        clinic_a, benzodiazepines=[], other_substances=["cannabis", "other"], other_substances_note=long_note
    )
    patient = _convert(clinic_a, inquiry)
    with tenant_context(clinic_a):
        cannabis, other = SubstanceUse.objects.filter(patient=patient).order_by("created_at")
        assert "Kratom" not in cannabis.notes
        assert len(other.drug_name) <= 100 and other.drug_name.endswith("…")
        assert long_note.strip() in other.notes  # cut short in the name, kept whole in the notes


def test_linking_an_existing_patient_copies_nothing(clinic_a, patient_a):
    """The existing record is the care team's; the inquiry stays linked for reference, nothing is doubled."""
    inquiry = make_inquiry(clinic_a, benzodiazepines=REPORTED, **OTHERS)
    with tenant_context(clinic_a):
        inquiry_link_patient(actor=None, inquiry=inquiry, patient=patient_a)
        assert not SubstanceUse.objects.filter(patient=patient_a).exists()
        assert not ReportedMedication.objects.filter(patient=patient_a).exists()
