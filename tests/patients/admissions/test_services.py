"""Admissions services: every write validated, atomic, audited; bad input leaves nothing behind."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from clinic.tenancy.roles import Role
from patients.admissions import stages
from patients.admissions.models import Inquiry, InquiryStageChange, ReportedBenzodiazepine
from patients.admissions.selectors import days_in_stage, inquiry_board
from patients.admissions.services import (
    PossibleDuplicate,
    inquiry_advance,
    inquiry_close,
    inquiry_convert_to_patient,
    inquiry_create,
    inquiry_link_patient,
    inquiry_update,
)
from patients.models import CareEpisode, Patient
from patients.services import care_episode_start
from tests.conftest import make_patient
from tests.dates import clinic_date
from tests.patients.admissions.conftest import BENZOS, INQUIRY, make_inquiry, requirements_for, walk_to

pytestmark = pytest.mark.django_db
Stage = stages.Stage


def _rows(clinic) -> dict[str, int]:
    with tenant_context(clinic):
        return {
            "inquiries": Inquiry.objects.count(),
            "benzos": ReportedBenzodiazepine.objects.count(),
            "changes": InquiryStageChange.objects.count(),
            "patients": Patient.objects.count(),
            "episodes": CareEpisode.objects.count(),
            "audit": AuditEvent.objects.count(),
        }


def test_create_records_the_inquiry_its_doses_history_and_audit(clinic_a, staff_a):
    actor = staff_a[Role.ADMISSIONS]
    inquiry = make_inquiry(clinic_a, actor=actor, assigned_to=actor)
    with tenant_context(clinic_a):
        assert inquiry.stage == Stage.NEW and inquiry.assigned_to == actor
        assert [(b.drug, b.daily_dose_mg) for b in inquiry.benzodiazepines.all()] == [
            ("clonazepam", Decimal("2"))
        ]
        change = inquiry.stage_changes.get()
        assert (change.from_stage, change.to_stage, change.changed_by) == ("", Stage.NEW, actor)
        event = AuditEvent.objects.get(action=AuditEvent.Action.CREATE, object_id=str(inquiry.pk))
        assert event.actor == actor
        assert "Quillfeather" not in str(event.detail)  # field names and counts, never what was said


BAD = {
    "future-dob": (
        {"date_of_birth": clinic_date() + datetime.timedelta(days=3)},
        BENZOS,
        "date_of_birth",
    ),
    "ancient-dob": ({"date_of_birth": datetime.date(1850, 1, 1)}, BENZOS, "date_of_birth"),
    "zero-dose": ({}, [{"drug": "alprazolam", "daily_dose_mg": "0"}], "benzodiazepines"),
    "negative-dose": ({}, [{"drug": "alprazolam", "daily_dose_mg": "-1"}], "benzodiazepines"),
    "huge-dose": ({}, [{"drug": "alprazolam", "daily_dose_mg": "2000"}], "benzodiazepines"),
    "not-a-number": ({}, [{"drug": "diazepam", "daily_dose_mg": "ten"}], "benzodiazepines"),
    "unknown-drug": ({}, [{"drug": "xanaxium", "daily_dose_mg": "1"}], "benzodiazepines"),
    "same-drug-twice": (
        {},
        [{"drug": "diazepam", "daily_dose_mg": "5"}, {"drug": "diazepam", "daily_dose_mg": "5"}],
        "benzodiazepines",
    ),
    "oversized-reason": ({"reason": "x" * 2001}, BENZOS, "reason"),
    "oversized-name": ({"last_name": "L" * 101}, BENZOS, "last_name"),
    "bad-phone": ({"phone": "call me maybe"}, BENZOS, "phone"),
    "unknown-substance": ({"other_substances": ["kratom!"]}, BENZOS, "other_substances"),
    "unknown-referral": ({"referral_source": "billboard"}, BENZOS, "referral_source"),
    "blank-name": ({"first_name": "   "}, BENZOS, "first_name"),
}


@pytest.mark.parametrize(("fields", "benzos", "field"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused_and_nothing_is_written(clinic_a, staff_a, fields, benzos, field):
    before = _rows(clinic_a)
    with pytest.raises(ValidationError) as refused, tenant_context(clinic_a):
        inquiry_create(actor=staff_a[Role.ADMISSIONS], fields={**INQUIRY, **fields}, benzodiazepines=benzos)
    assert field in refused.value.message_dict
    assert _rows(clinic_a) == before


def test_huge_dose_error_names_the_drug_and_the_units(clinic_a):
    with pytest.raises(ValidationError) as refused, tenant_context(clinic_a):
        inquiry_create(
            actor=None, fields=INQUIRY, benzodiazepines=[{"drug": "lorazepam", "daily_dose_mg": "500"}]
        )
    message = refused.value.message_dict["benzodiazepines"][0]
    assert "lorazepam" in message and "micrograms" in message


def test_advance_writes_one_history_row_and_one_audit_event(clinic_a, staff_a, inquiry_a):
    actor = staff_a[Role.ADMISSIONS]
    before = _rows(clinic_a)
    with tenant_context(clinic_a):
        moved = inquiry_advance(actor=actor, inquiry=inquiry_a, to_stage="pre_screened", note="Called back")
        assert moved.stage == Stage.PRE_SCREENED and moved.stage_entered_at > inquiry_a.stage_entered_at
        change = moved.stage_changes.order_by("-changed_at").first()
        assert (change.from_stage, change.to_stage, change.note, change.changed_by) == (
            "new",
            "pre_screened",
            "Called back",
            actor,
        )
        event = AuditEvent.objects.filter(object_id=str(moved.pk)).latest("id")
        assert event.detail == {"stage": {"from": "new", "to": "pre_screened"}}
    after = _rows(clinic_a)
    assert (after["changes"], after["audit"]) == (before["changes"] + 1, before["audit"] + 1)


REFUSED_MOVES = {
    "skip-a-stage": (Stage.NEW, "benefits_verified", {}, "to_stage"),
    "unknown-stage": (Stage.NEW, "cured", {}, "to_stage"),
    "backwards": (Stage.BENEFITS_VERIFIED, "pre_screened", {}, "to_stage"),
    "intake-without-time": (Stage.BENEFITS_VERIFIED, "intake_scheduled", {}, "intake_at"),
    "intake-years-away": (
        Stage.BENEFITS_VERIFIED,
        "intake_scheduled",
        {"intake_at": timezone.now() + datetime.timedelta(days=900)},
        "intake_at",
    ),
    "assessed-without-level": (Stage.INTAKE_SCHEDULED, "assessed", {}, "level_of_care"),
    "assessed-unknown-level": (Stage.INTAKE_SCHEDULED, "assessed", {"level_of_care": "spa"}, "level_of_care"),
    "admit-without-patient": (
        Stage.ASSESSED,
        "admitted",
        {"level_of_care": "iop", "admitted_on": datetime.date(2026, 1, 1)},
        "patient",
    ),
    "decline-without-reason": (Stage.NEW, "declined", {}, "closed_reason"),
    "decline-other-without-note": (Stage.NEW, "declined", {"closed_reason": "other"}, "closed_note"),
}


@pytest.mark.parametrize(("start", "to", "given", "field"), REFUSED_MOVES.values(), ids=REFUSED_MOVES.keys())
def test_refused_moves_change_nothing(clinic_a, inquiry_a, start, to, given, field):
    inquiry = walk_to(clinic_a, inquiry_a, start)
    before = _rows(clinic_a)
    with pytest.raises(ValidationError) as refused, tenant_context(clinic_a):
        inquiry_advance(actor=None, inquiry=inquiry, to_stage=to, **given)
    assert field in refused.value.message_dict
    assert _rows(clinic_a) == before
    with tenant_context(clinic_a):
        assert Inquiry.objects.get(pk=inquiry.pk).stage == start


def test_closing_keeps_the_reason_and_is_terminal(clinic_a, staff_a, inquiry_a):
    with tenant_context(clinic_a):
        closed = inquiry_close(
            actor=staff_a[Role.ADMISSIONS],
            inquiry=inquiry_a,
            to_stage="referred_out",
            reason="higher_level",
            note="History of withdrawal seizures; referred to inpatient detox",
        )
        assert (closed.stage, closed.closed_reason) == ("referred_out", "higher_level")
        assert "seizures" in closed.closed_note
        with pytest.raises(ValidationError, match="closed inquiries do not move"):
            inquiry_advance(actor=None, inquiry=closed, to_stage="pre_screened")
        with pytest.raises(ValidationError, match="closed"):
            inquiry_update(actor=None, inquiry=closed, fields={"phone": "555-0100"})
        with pytest.raises(ValidationError, match="open inquiry"):
            inquiry_convert_to_patient(actor=None, inquiry=closed)


def test_convert_creates_the_patient_from_the_inquiry_without_retyping(clinic_a, staff_a, inquiry_a):
    with tenant_context(clinic_a):
        patient = inquiry_convert_to_patient(actor=staff_a[Role.ADMISSIONS], inquiry=inquiry_a)
        assert (
            patient.first_name,
            patient.last_name,
            patient.date_of_birth,
            patient.phone,
            patient.email,
        ) == ("Jordan", "Quillfeather", datetime.date(1979, 4, 12), "555-0143", "jordan@example.org")
        assert patient.mrn.startswith("SD-") and patient.status == Patient.Status.INTAKE
        assert Inquiry.objects.get(pk=inquiry_a.pk).patient == patient
        with pytest.raises(ValidationError, match="already linked"):
            inquiry_convert_to_patient(actor=None, inquiry=inquiry_a)


def test_convert_warns_of_a_possible_duplicate_until_confirmed(clinic_a, inquiry_a):
    existing = make_patient(
        clinic_a, first_name="JORDAN", last_name="quillfeather", date_of_birth=datetime.date(1979, 4, 12)
    )
    make_patient(
        clinic_a, first_name="Jordan", last_name="Quillfeather", date_of_birth=datetime.date(1980, 4, 12)
    )
    before = _rows(clinic_a)
    with pytest.raises(PossibleDuplicate) as warned, tenant_context(clinic_a):
        inquiry_convert_to_patient(actor=None, inquiry=inquiry_a)
    assert warned.value.matches == [existing]
    assert "Possible duplicate" in warned.value.messages[0] and existing.mrn in warned.value.messages[0]
    assert _rows(clinic_a) == before
    with tenant_context(clinic_a):
        patient = inquiry_convert_to_patient(actor=None, inquiry=inquiry_a, confirm_duplicate=True)
        assert patient != existing and Patient.objects.count() == before["patients"] + 1


def test_link_to_existing_patient_instead(clinic_a, clinic_b, inquiry_a, patient_a, patient_b):
    with tenant_context(clinic_a):
        with pytest.raises(Patient.DoesNotExist):
            inquiry_link_patient(actor=None, inquiry=inquiry_a, patient=patient_b)  # another clinic's
        linked = inquiry_link_patient(actor=None, inquiry=inquiry_a, patient=patient_a)
        assert linked.patient == patient_a


def test_convert_needs_a_date_of_birth(clinic_a):
    inquiry = make_inquiry(clinic_a, date_of_birth=None)
    with pytest.raises(ValidationError) as refused, tenant_context(clinic_a):
        inquiry_convert_to_patient(actor=None, inquiry=inquiry)
    assert "date_of_birth" in refused.value.message_dict


def test_admitting_opens_the_first_care_episode_in_the_same_transaction(clinic_a, staff_a, inquiry_a):
    inquiry = walk_to(clinic_a, inquiry_a, Stage.ADMITTED, actor=staff_a[Role.ADMISSIONS])
    with tenant_context(clinic_a):
        episode = CareEpisode.objects.get(patient=inquiry.patient)
        assert (episode.level, episode.started_on, episode.ended_on) == ("iop", clinic_date(), None)
        assert Patient.objects.get(pk=inquiry.patient_id).status == Patient.Status.ACTIVE
        assert [c.to_stage for c in inquiry.stage_changes.all()] == [s.value for s in stages.PIPELINE]


def test_a_failed_episode_start_undoes_the_admission(clinic_a, inquiry_a, patient_a):
    """The patient is already in IOP: care_episode_start refuses, so the inquiry must stay assessed."""
    with tenant_context(clinic_a):
        care_episode_start(actor=None, patient=patient_a, level="iop", started_on=clinic_date())
        inquiry_link_patient(actor=None, inquiry=inquiry_a, patient=patient_a)
    inquiry = walk_to(clinic_a, inquiry_a, Stage.ASSESSED)
    before = _rows(clinic_a)
    with pytest.raises(ValidationError, match="already at this level"), tenant_context(clinic_a):
        inquiry_advance(actor=None, inquiry=inquiry, to_stage="admitted", **requirements_for(Stage.ADMITTED))
    assert _rows(clinic_a) == before
    with tenant_context(clinic_a):
        assert Inquiry.objects.get(pk=inquiry.pk).stage == Stage.ASSESSED


def test_admission_date_cannot_be_in_the_future(clinic_a, inquiry_a, patient_a):
    with tenant_context(clinic_a):
        inquiry_link_patient(actor=None, inquiry=inquiry_a, patient=patient_a)
    inquiry = walk_to(clinic_a, inquiry_a, Stage.ASSESSED)
    with pytest.raises(ValidationError) as refused, tenant_context(clinic_a):
        inquiry_advance(
            actor=None,
            inquiry=inquiry,
            to_stage="admitted",
            level_of_care="iop",
            admitted_on=clinic_date() + datetime.timedelta(days=10),
        )
    assert "admitted_on" in refused.value.message_dict


def test_only_pipeline_staff_can_be_assigned(clinic_a, clinic_b, staff_a, staff_b, inquiry_a):
    with tenant_context(clinic_a):
        for outsider in (staff_a[Role.NURSE], staff_b[Role.ADMISSIONS]):
            with pytest.raises(ValidationError) as refused:
                inquiry_update(actor=None, inquiry=inquiry_a, fields={"assigned_to": outsider})
            assert "assigned_to" in refused.value.message_dict
        updated = inquiry_update(
            actor=None, inquiry=inquiry_a, fields={"assigned_to": staff_a[Role.CLINIC_ADMIN]}
        )
        assert updated.assigned_to == staff_a[Role.CLINIC_ADMIN]


def test_update_audits_changed_field_names_and_replaces_doses(clinic_a, inquiry_a):
    with tenant_context(clinic_a):
        inquiry_update(
            actor=None,
            inquiry=inquiry_a,
            fields={"phone": "555-0199", "last_name": "Quillfeather"},
            benzodiazepines=[{"drug": "alprazolam", "daily_dose_mg": "1.5"}],
        )
        event = AuditEvent.objects.filter(object_id=str(inquiry_a.pk)).latest("id")
        assert event.detail == {"fields": ["phone", "benzodiazepines"]}
        assert list(inquiry_a.benzodiazepines.values_list("drug", flat=True)) == ["alprazolam"]


def test_days_in_stage_count_calendar_days_in_the_clinic_time_zone():
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    late_evening = datetime.datetime(2026, 3, 9, 23, 30, tzinfo=chicago)  # 05:30 UTC on the 10th
    assert days_in_stage(late_evening, tz=chicago, today=datetime.date(2026, 3, 10)) == 1
    assert days_in_stage(late_evening, tz=datetime.UTC, today=datetime.date(2026, 3, 10)) == 0


def test_board_orders_oldest_first_and_flags_stale_cards(clinic_a):
    old = make_inquiry(clinic_a, last_name="Old")
    make_inquiry(clinic_a, last_name="Fresh")
    with tenant_context(clinic_a):
        Inquiry.objects.filter(pk=old.pk).update(stage_entered_at=timezone.now() - datetime.timedelta(days=5))
        column = next(c for c in inquiry_board() if c.stage == Stage.NEW)
    assert [card.inquiry.last_name for card in column.cards] == ["Old", "Fresh"]
    assert [card.stale for card in column.cards] == [True, False] and column.stale_count == 1
    assert column.cards[0].days >= 4
