"""Possible (refuse) vs usual (confirm) limits per vital, and whole-reading validation."""

import subprocess
import sys
from decimal import Decimal

import pytest

from vitals.classification import check_value, classify_reading
from vitals.errors import ImpossibleValue, InvalidReading, InvalidValue
from vitals.thresholds import vital_specs

# vital: (possible min, usual min, usual max, possible max, step). Program policy (status U), pinned here so a
# change to the data file is a deliberate, reviewed change.
LIMITS = {
    "systolic_bp": ("40", "90", "180", "300", "1"),
    "diastolic_bp": ("20", "50", "120", "200", "1"),
    "heart_rate": ("20", "41", "130", "300", "1"),
    "respiratory_rate": ("2", "9", "24", "80", "1"),
    "body_temperature": ("25.0", "35.1", "39.0", "45.0", "0.1"),
    "spo2": ("50", "92", "100", "100", "1"),
    "body_weight": ("20.0", "35.0", "250.0", "400.0", "0.1"),
}


def test_every_vital_has_limits_pinned():
    assert set(LIMITS) == set(vital_specs())


@pytest.mark.parametrize("vital", LIMITS)
def test_limits_at_every_edge(vital):
    pmin, umin, umax, pmax, step = (Decimal(x) for x in LIMITS[vital])
    with pytest.raises(ImpossibleValue):
        check_value(vital, pmin - step)
    with pytest.raises(ImpossibleValue):
        check_value(vital, pmax + step)
    assert check_value(vital, pmin).needs_confirmation
    assert check_value(vital, umin - step).needs_confirmation
    assert not check_value(vital, umin).needs_confirmation
    assert not check_value(vital, umax).needs_confirmation
    if umax < pmax:
        assert check_value(vital, umax + step).needs_confirmation
        assert check_value(vital, pmax).needs_confirmation


@pytest.mark.parametrize("vital", LIMITS)
def test_limits_carry_source_and_status(vital):
    spec = vital_specs()[vital]
    for rng in (spec.possible, spec.usual):
        assert rng.status in {"V", "S", "U"}
        assert rng.source
    assert spec.loinc and spec.unit


def test_loinc_codes_from_reference_6a():
    codes = {name: spec.loinc for name, spec in vital_specs().items()}
    assert codes == {
        "systolic_bp": ("8480-6",),
        "diastolic_bp": ("8462-4",),
        "heart_rate": ("8867-4",),
        "respiratory_rate": ("9279-1",),
        "body_temperature": ("8310-5",),
        "spo2": ("59408-5", "2708-6"),  # US Core Pulse Oximetry requires both
        "body_weight": ("29463-7",),
    }


def test_impossible_message_is_plain():
    with pytest.raises(ImpossibleValue) as exc:
        check_value("spo2", 101)
    assert str(exc.value).startswith(
        "Oxygen saturation (pulse oximetry) of 101 % is not physiologically possible"
    )
    assert exc.value.vital == "spo2"


def test_confirmation_reason_says_low_or_high():
    assert "unusually low" in check_value("respiratory_rate", 8).confirmation_reason
    assert "unusually high" in check_value("heart_rate", 131).confirmation_reason


@pytest.mark.parametrize(
    ("vital", "value"),
    [
        ("heart_rate", 72.5),
        ("body_temperature", "36.55"),
        ("spo2", True),
        ("heart_rate", "abc"),
        ("heart_rate", float("nan")),
        ("heart_rate", None),
        ("heart_rate", [72]),
    ],
)
def test_malformed_values_refused(vital, value):
    with pytest.raises(InvalidValue):
        check_value(vital, value)


@pytest.mark.parametrize("value", [1e300, Decimal("1E+40"), -5, 10**40])
def test_absurd_numbers_are_impossible_not_crashes(value):
    with pytest.raises(ImpossibleValue):
        check_value("heart_rate", value)


@pytest.mark.parametrize("value", ["7_2", "72 bpm", "", "1e2"])
def test_strings_must_be_plain_numbers(value):
    with pytest.raises(InvalidValue, match="must be a number"):
        check_value("heart_rate", value)


def test_malformed_is_not_impossible():
    with pytest.raises(InvalidValue) as exc:
        check_value("heart_rate", 72.5)
    assert not isinstance(exc.value, ImpossibleValue)
    assert "whole numbers" in str(exc.value)


def test_decimal_and_string_inputs_accepted():
    assert check_value("body_temperature", "37.2").value == Decimal("37.2")
    assert check_value("body_temperature", 37.2).value == Decimal("37.2")
    assert check_value("heart_rate", Decimal("72")).value == Decimal("72")


def test_measurement_carries_unit_and_loinc():
    m = check_value("body_temperature", 37)
    assert (m.unit, m.loinc, m.value) == ("Cel", ("8310-5",), Decimal("37.0"))


SITTING = {"systolic_bp": 118, "diastolic_bp": 76, "bp_position": "sitting"}


def test_reading_collects_every_field_error():
    with pytest.raises(InvalidReading) as exc:
        classify_reading(
            {
                "systolic_bp": 85,
                "diastolic_bp": 95,
                "bp_position": "kneeling",
                "heart_rate": 900,
                "spo2": 101,
                "body_temperature": 36.55,
                "mood": 3,
            }
        )
    errors = exc.value.errors
    assert set(errors) == {"diastolic_bp", "bp_position", "heart_rate", "spo2", "body_temperature", "mood"}
    assert "swapped" in errors["diastolic_bp"]
    assert exc.value.impossible == {"diastolic_bp", "heart_rate", "spo2"}


def test_diastolic_equal_to_systolic_refused():
    with pytest.raises(InvalidReading) as exc:
        classify_reading({"systolic_bp": 100, "diastolic_bp": 100, "bp_position": "lying"})
    assert "diastolic_bp" in exc.value.impossible


@pytest.mark.parametrize(
    "reading",
    [
        {"systolic_bp": 120, "bp_position": "sitting"},
        {"diastolic_bp": 80, "bp_position": "sitting"},
        {"systolic_bp": 120, "diastolic_bp": 80},
        {"bp_position": "sitting", "heart_rate": 70},
    ],
)
def test_blood_pressure_needs_both_values_and_a_position(reading):
    with pytest.raises(InvalidReading):
        classify_reading(reading)


def test_reading_with_unusual_values_asks_for_confirmation_and_still_classifies():
    result = classify_reading({**SITTING, "systolic_bp": 185, "respiratory_rate": 8})
    assert set(result.needs_confirmation) == {"systolic_bp", "respiratory_rate"}
    assert result.bp_category.id == "crisis"
    assert {a.check_id for a in result.alerts} >= {
        "hypertensive_crisis_systolic",
        "oversedation_low_respiratory_rate",
    }


def test_normal_reading():
    result = classify_reading(
        {
            **SITTING,
            "heart_rate": 70,
            "respiratory_rate": 16,
            "spo2": 98,
            "body_temperature": 36.8,
            "body_weight": 72.4,
            "on_oxygen": False,
            "consciousness": "A",
        }
    )
    assert result.needs_confirmation == {}
    assert result.bp_category.id == "normal"
    assert result.bp_position == "sitting"
    assert result.news2.total == 0 and result.news2.risk == "low"
    assert result.alerts == ()
    assert result.measurements["body_weight"].loinc == ("29463-7",)


def test_none_fields_are_absent():
    result = classify_reading({"heart_rate": 70, "spo2": None, "systolic_bp": None})
    assert set(result.measurements) == {"heart_rate"}
    assert result.bp_category is None


def test_no_django_imported():
    code = (
        "import sys, vitals.classification, vitals.scoring, vitals.thresholds;"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2])
    )
