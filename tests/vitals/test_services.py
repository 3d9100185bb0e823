"""vitals.services: what is refused, what needs confirmation, what is stored with a reading or a score."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.audit.models import AuditEvent
from clinic.tenancy.context import tenant_context
from tests.vitals.conftest import NORMAL, record, score
from vitals import selectors
from vitals.models import ClinicInstrument, InstrumentResult, VitalReading, VitalValue
from vitals.scoring import BUILTIN_DIR
from vitals.services import UnusualValues, clinic_instrument_load, vital_thresholds_save
from vitals.signals import clinical_fact_recorded

pytestmark = pytest.mark.django_db

ALL_NEWS2 = {**NORMAL, "temperature": "37.0"}


def counts(clinic):
    with tenant_context(clinic):
        return (
            VitalReading.objects.count(),
            VitalValue.objects.count(),
            InstrumentResult.objects.count(),
            AuditEvent.objects.filter(action="create").count(),
        )


@pytest.fixture
def signals():
    seen = []

    def receiver(sender, signal, **kwargs):
        seen.append(kwargs)

    clinical_fact_recorded.connect(receiver, dispatch_uid="vitals-test")
    yield seen
    clinical_fact_recorded.disconnect(dispatch_uid="vitals-test")


# --- vital signs --------------------------------------------------------------------------------------------
def test_a_reading_stores_each_value_with_unit_loinc_and_classification(clinic_a, patient_a, nurse, signals):
    reading = record(
        clinic_a, patient_a, actor=nurse, values={**NORMAL, "temperature": "37.2", "weight": "81.4"}
    )
    with tenant_context(clinic_a):
        values = {v.kind: v for v in VitalValue.objects.filter(reading=reading)}
        event = AuditEvent.objects.filter(object_id=str(reading.pk)).get()
    assert values["systolic_bp"].value == 122 and values["systolic_bp"].unit == "mm[Hg]"
    assert values["systolic_bp"].loinc == "8480-6"
    assert values["temperature"].unit == "Cel" and values["temperature"].value == Decimal("37.2")
    assert values["spo2"].loinc_codes == ["59408-5", "2708-6"]  # US Core pulse oximetry: both codings
    assert values["weight"].unit == "kg" and values["weight"].loinc == "29463-7"
    assert all(v.taken_at == reading.taken_at and v.patient_id == patient_a.pk for v in values.values())
    assert not any(v.confirmed_unusual for v in values.values())
    assert reading.bp_category == "elevated" and reading.bp_category_label == "Elevated"
    assert reading.entered_by == nurse and reading.taken_by == "Nurse Ratched"
    assert reading.news2_score is None  # consciousness and air/oxygen were not recorded
    assert reading.news2_partial == 0
    assert event.action == "create" and str(event.patient_id) == str(patient_a.pk)
    assert event.detail["values"]["systolic_bp"] == "122"
    assert signals == [
        {"clinic_id": clinic_a.pk, "patient_id": patient_a.pk, "kind": "vital", "object_id": reading.pk}
    ]


def test_news2_is_stored_when_all_seven_inputs_exist(clinic_a, patient_a):
    reading = record(clinic_a, patient_a, values=ALL_NEWS2, on_oxygen=False, consciousness="A")
    assert reading.news2_score == 0 and reading.news2_risk == "low"
    reading = record(
        clinic_a,
        patient_a,
        values={**ALL_NEWS2, "respiratory_rate": 22, "heart_rate": 95},
        on_oxygen=True,
        consciousness="A",
    )
    # RR 21-24 → 2, pulse 91-110 → 1, oxygen → 2 (RCP NEWS2 chart)
    assert reading.news2_score == 5 and reading.news2_risk == "medium"


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({**NORMAL, "systolic_bp": 400}, "systolic_bp", "not physiologically possible"),
        ({**NORMAL, "spo2": 101}, "spo2", "not physiologically possible"),
        ({**NORMAL, "temperature": "52"}, "temperature", "not physiologically possible"),
        ({**NORMAL, "diastolic_bp": 130, "systolic_bp": 120}, "diastolic_bp", "must be lower than systolic"),
        ({**NORMAL, "heart_rate": "fast"}, "heart_rate", "must be a number"),
        ({**NORMAL, "heart_rate": "72.5"}, "heart_rate", "whole numbers"),
        ({"systolic_bp": 120}, "diastolic_bp", "needs both"),
        ({"pulse": 70}, "values", "Unknown measurement"),
        ({}, "values", "at least one measurement"),
    ],
)
def test_impossible_or_malformed_values_are_refused_and_nothing_is_written(
    clinic_a, patient_a, signals, values, field, words
):
    before = counts(clinic_a)
    with pytest.raises(ValidationError) as refused:
        record(clinic_a, patient_a, values=values, confirm_unusual=True)
    assert not isinstance(refused.value, UnusualValues)
    assert words in " ".join(refused.value.message_dict[field])
    assert counts(clinic_a) == before
    assert signals == []


def test_refusals_name_every_bad_field_at_once(clinic_a, patient_a):
    with pytest.raises(ValidationError) as refused:
        record(
            clinic_a,
            patient_a,
            values={"heart_rate": 999, "spo2": 20},
            taken_by=" ",
            position="upside down",
        )
    assert {"heart_rate", "spo2", "taken_by", "position"} <= set(refused.value.message_dict)


def test_time_in_the_future_is_refused(clinic_a, patient_a):
    from vitals.services import vitals_record

    with tenant_context(clinic_a), pytest.raises(ValidationError) as refused:
        vitals_record(
            actor=None,
            patient=patient_a,
            taken_at=timezone.now() + dt.timedelta(hours=2),
            values=NORMAL,
            position="sitting",
            taken_by="N",
            source="clinic",
        )
    assert "cannot be in the future" in refused.value.message_dict["taken_at"][0]


def test_unusual_values_need_confirmation(clinic_a, patient_a, signals):
    before = counts(clinic_a)
    values = {**NORMAL, "heart_rate": 135, "spo2": 90}
    with pytest.raises(UnusualValues) as asked:
        record(clinic_a, patient_a, values=values)
    assert set(asked.value.unusual) == {"heart_rate", "spo2"}
    assert "unusually high" in asked.value.unusual["heart_rate"]
    assert "Please confirm" in asked.value.unusual["spo2"]
    assert counts(clinic_a) == before and signals == []

    reading = record(clinic_a, patient_a, values=values, confirm_unusual=True)
    with tenant_context(clinic_a):
        confirmed = set(
            VitalValue.objects.filter(reading=reading, confirmed_unusual=True).values_list("kind", flat=True)
        )
        event = AuditEvent.objects.get(object_id=str(reading.pk))
    assert confirmed == {"heart_rate", "spo2"}
    assert event.detail["confirmed_unusual"] == ["heart_rate", "spo2"]
    assert "tachycardia" in reading.flags and "oversedation_low_spo2" in reading.flags


def test_bp_category_is_stored_at_every_category(clinic_a, patient_a):
    cases = {(118, 78): "normal", (125, 79): "elevated", (132, 70): "stage_1", (150, 85): "stage_2"}
    for (sbp, dbp), category in cases.items():
        reading = record(clinic_a, patient_a, values={"systolic_bp": sbp, "diastolic_bp": dbp})
        assert reading.bp_category == category
    crisis = record(
        clinic_a, patient_a, values={"systolic_bp": 185, "diastolic_bp": 100}, confirm_unusual=True
    )
    assert crisis.bp_category == "crisis" and "hypertensive_crisis_systolic" in crisis.flags


# --- clinic thresholds: tighten only ------------------------------------------------------------------------
def test_a_clinic_may_tighten_a_threshold_and_readings_use_it(clinic_a, patient_a, nurse):
    with tenant_context(clinic_a):
        vital_thresholds_save(actor=nurse, overrides={"checks": {"tachycardia": {"value": "90"}}})
        assert selectors.clinic_thresholds().checks["tachycardia"].value == 90
    reading = record(clinic_a, patient_a, values={"heart_rate": 95})
    assert reading.flags == ["tachycardia"]


def test_loosening_is_refused_with_a_clear_message_and_nothing_saved(clinic_a, nurse):
    with tenant_context(clinic_a):
        vital_thresholds_save(actor=nurse, overrides={"checks": {"tachycardia": {"value": "95"}}})
        with pytest.raises(ValidationError) as refused:
            vital_thresholds_save(
                actor=nurse,
                overrides={
                    "checks": {
                        "tachycardia": {"value": "110"},
                        "oversedation_low_respiratory_rate": {"value": "6"},
                    },
                    "usual": {"heart_rate": {"max": "150"}},
                },
            )
        errors = refused.value.message_dict
        assert "would loosen the default" in errors["checks.tachycardia"][0]
        assert "raise it" in errors["checks.oversedation_low_respiratory_rate"][0]
        assert "wider than the default" in errors["usual.heart_rate"][0]
        assert selectors.clinic_overrides() == {"checks": {"tachycardia": {"value": "95"}}}


def test_fixed_thresholds_cannot_be_overridden(clinic_a, nurse):
    with tenant_context(clinic_a), pytest.raises(ValidationError) as refused:
        vital_thresholds_save(actor=nurse, overrides={"checks": {"oversedation_not_alert": {"value": "A"}}})
    assert "fixed by its source" in refused.value.message_dict["checks.oversedation_not_alert"][0]


def test_a_narrowed_usual_range_asks_for_confirmation_sooner(clinic_a, patient_a, nurse):
    record(clinic_a, patient_a, values={"heart_rate": 110})  # inside the reference usual range
    with tenant_context(clinic_a):
        vital_thresholds_save(actor=nurse, overrides={"usual": {"heart_rate": {"max": "100"}}})
    with pytest.raises(UnusualValues):
        record(clinic_a, patient_a, values={"heart_rate": 110})


def test_a_stored_override_that_no_longer_merges_falls_back_to_the_reference(clinic_a):
    with tenant_context(clinic_a):
        merged = selectors.thresholds_from({"checks": {"tachycardia": {"value": "500"}}})
    assert merged.checks["tachycardia"].value == 100


# --- instruments --------------------------------------------------------------------------------------------
def test_phq9_is_scored_and_saved_with_its_answers(clinic_a, patient_a, nurse, signals):
    answers = {"1": 2, "2": 2, "3": 1, "4": 1, "5": 1, "6": 1, "7": 1, "8": 0, "9": 1}
    result = score(clinic_a, patient_a, "phq9", answers, actor=nurse)
    assert result.answers == answers and result.total == 10
    assert result.band == "moderate" and result.band_label == "moderate"
    assert result.flags == ["phq9_item9_positive"]
    assert result.flag_details[0]["severity"] == "urgent"
    assert result.flag_details[0]["evidence"] == "item 9 = 1 (rule item 9 > 0)"
    assert result.loinc_total == "44261-6" and result.entered_by == nurse
    assert signals[-1] == {
        "clinic_id": clinic_a.pk,
        "patient_id": patient_a.pk,
        "kind": "instrument",
        "object_id": result.pk,
    }


def test_ciwa_b_severe_and_gad7_bands(clinic_a, patient_a):
    severe = score(clinic_a, patient_a, "ciwa_b", {str(n): 3 for n in range(1, 21)})  # 60
    assert severe.total == 60 and severe.band == "severe" and severe.flags == ["ciwa_b_severe"]
    mild = score(clinic_a, patient_a, "ciwa_b", {str(n): 1 for n in range(1, 21)})  # 20
    assert mild.band == "mild" and mild.flags == []
    gad = score(clinic_a, patient_a, "gad7", {str(n): 2 for n in range(1, 8)})  # 14
    assert gad.band == "moderate" and gad.flags == ["gad7_screen_positive"]


@pytest.mark.parametrize(
    ("instrument", "answers", "field", "words"),
    [
        ("phq9", {str(n): 0 for n in range(1, 9)}, "answers", "missing answer(s) for item(s) 9"),
        ("phq9", {**{str(n): 0 for n in range(1, 10)}, "9": 4}, "answers", "not one of 0, 1, 2, 3"),
        ("phq9", {**{str(n): 0 for n in range(1, 10)}, "10": 1}, "answers", "unknown item(s) 10"),
        ("phq9", {**{str(n): 0 for n in range(1, 10)}, "1": "2"}, "answers", "must be a whole number"),
        ("bwsq", {}, "instrument", "Unknown instrument 'bwsq'"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_written(
    clinic_a, patient_a, signals, instrument, answers, field, words
):
    before = counts(clinic_a)
    with pytest.raises(ValidationError) as refused:
        score(clinic_a, patient_a, instrument, answers)
    assert words in " ".join(refused.value.message_dict[field])
    assert counts(clinic_a) == before and signals == []


# --- licensed instruments a clinic loads --------------------------------------------------------------------
def _filled_isi() -> dict:
    raw = json.loads((BUILTIN_DIR / "examples" / "isi.example.json").read_text())
    raw = copy.deepcopy(raw)
    for scale in raw["answer_scales"].values():
        for option in scale["options"]:
            option["label"] = f"option {option['value']}"
    for item in raw["items"]:
        item["text"] = f"Licensed item text {item['id']} (synthetic stand-in)"
    raw["licence"]["item_text_included"] = True
    return raw


def test_a_clinic_loads_a_licensed_instrument_and_scores_it(clinic_a, clinic_b, patient_a, nurse):
    with tenant_context(clinic_a):
        clinic_instrument_load(actor=nurse, definition=_filled_isi())
    result = score(clinic_a, patient_a, "isi", {str(n): 2 for n in range(1, 8)})
    assert result.total == 14 and result.instrument_name == "ISI"
    with tenant_context(clinic_b):  # another clinic did not load it
        assert not ClinicInstrument.objects.exists()


def test_the_example_without_licensed_text_is_refused(clinic_a, nurse):
    raw = json.loads((BUILTIN_DIR / "examples" / "isi.example.json").read_text())
    with tenant_context(clinic_a), pytest.raises(ValidationError) as refused:
        clinic_instrument_load(actor=nurse, definition=raw)
    assert "fill every item text" in " ".join(refused.value.message_dict["definition"])


def test_a_loaded_instrument_cannot_take_a_built_in_id(clinic_a, nurse):
    raw = _filled_isi()
    raw["id"] = "phq9"
    with tenant_context(clinic_a), pytest.raises(ValidationError) as refused:
        clinic_instrument_load(actor=nurse, definition=raw)
    assert "built-in" in refused.value.message_dict["definition"][0]


def test_the_load_instrument_command(clinic_a, tmp_path):
    from django.core.management import CommandError, call_command

    example = BUILTIN_DIR / "examples" / "isi.example.json"
    with pytest.raises(CommandError, match="fill every item text"):
        call_command("load_instrument", clinic_a.slug, str(example))
    filled = tmp_path / "isi.json"
    filled.write_text(json.dumps(_filled_isi()))
    call_command("load_instrument", clinic_a.slug, str(filled))
    with tenant_context(clinic_a):
        assert ClinicInstrument.objects.get().instrument == "isi"
