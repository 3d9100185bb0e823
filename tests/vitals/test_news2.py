"""NEWS2 (RCP 2017, clinical.md 5c, V) sub-scores at every band boundary, both sides; aggregate risk (S).

Expected points are typed in from the reference chart, not read from the data file, so the data is checked.
"""

from decimal import Decimal

import pytest

from vitals.classification import news2
from vitals.errors import InvalidValue


def sub(param, value, **extra):
    kwargs = {param: value, **extra}
    return news2(**kwargs).sub_scores


@pytest.mark.parametrize(
    ("value", "points"), [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)]
)
def test_respiratory_rate(value, points):
    assert sub("respiratory_rate", value)["respiratory_rate"] == points


@pytest.mark.parametrize(
    ("value", "points"), [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
def test_spo2_scale_1(value, points):
    assert sub("spo2", value)["spo2"] == points


@pytest.mark.parametrize(
    ("value", "on_oxygen", "points"),
    [
        (83, False, 3),
        (84, False, 2),
        (85, False, 2),
        (86, False, 1),
        (87, False, 1),
        (88, False, 0),
        (92, False, 0),
        (93, False, 0),
        (100, False, 0),
        (83, True, 3),
        (88, True, 0),
        (92, True, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
    ],
)
def test_spo2_scale_2(value, on_oxygen, points):
    assert sub("spo2", value, spo2_scale=2, on_oxygen=on_oxygen)["spo2"] == points


def test_spo2_scale_2_at_93_or_more_needs_air_or_oxygen():
    assert news2(spo2=93, spo2_scale=2).sub_scores == {}
    assert "spo2" in news2(spo2=93, spo2_scale=2).missing
    assert news2(spo2=92, spo2_scale=2).sub_scores == {"spo2": 0}  # both scale-2 columns agree up to 92


@pytest.mark.parametrize(
    ("value", "points"), [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
)
def test_systolic_bp(value, points):
    assert sub("systolic_bp", value)["systolic_bp"] == points


@pytest.mark.parametrize(
    ("value", "points"),
    [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_pulse(value, points):
    assert sub("pulse", value)["pulse"] == points


@pytest.mark.parametrize(
    ("value", "points"),
    [("35.0", 3), ("35.1", 1), ("36.0", 1), ("36.1", 0), ("38.0", 0), ("38.1", 1), ("39.0", 1), ("39.1", 2)],
)
def test_temperature(value, points):
    assert sub("temperature", Decimal(value))["temperature"] == points
    assert sub("temperature", float(value))["temperature"] == points


@pytest.mark.parametrize(("code", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(code, points):
    assert sub("consciousness", code)["consciousness"] == points


@pytest.mark.parametrize(("on_oxygen", "points"), [(False, 0), (True, 2)])
def test_air_or_oxygen(on_oxygen, points):
    assert news2(on_oxygen=on_oxygen).sub_scores["air_or_oxygen"] == points


NORMAL = dict(
    respiratory_rate=16,
    spo2=98,
    on_oxygen=False,
    systolic_bp=120,
    pulse=70,
    consciousness="A",
    temperature=37.0,
)


# Hand-computed aggregate examples (the reference gives no worked example): labelled per case.
@pytest.mark.parametrize(
    ("changes", "total", "risk"),
    [
        ({}, 0, "low"),
        ({"respiratory_rate": 22, "pulse": 95, "temperature": 38.5}, 4, "low"),  # 2+1+1, no single 3
        ({"respiratory_rate": 8}, 3, "low-medium"),  # single parameter scoring 3
        ({"consciousness": "V", "pulse": 95}, 4, "low-medium"),
        ({"respiratory_rate": 22, "pulse": 95, "temperature": 38.5, "spo2": 95}, 5, "medium"),  # 2+1+1+1
        ({"respiratory_rate": 8, "spo2": 93, "pulse": 95}, 6, "medium"),  # 3+2+1: the 3 does not lower it
        ({"respiratory_rate": 8, "spo2": 91, "pulse": 95}, 7, "high"),  # 3+3+1
        (
            {
                "respiratory_rate": 25,
                "spo2": 91,
                "on_oxygen": True,
                "systolic_bp": 90,
                "pulse": 131,
                "consciousness": "U",
                "temperature": 35.0,
            },
            20,
            "high",
        ),  # every parameter at its maximum
    ],
)
def test_aggregate_and_risk(changes, total, risk):
    result = news2(**{**NORMAL, **changes})
    assert result.complete
    assert result.total == total
    assert result.risk == risk


def test_partial_inputs_give_sub_scores_and_a_risk_floor_only():
    result = news2(respiratory_rate=7, spo2=90, pulse=72)
    assert result.sub_scores == {"respiratory_rate": 3, "spo2": 3, "pulse": 0}
    assert result.missing == ("air_or_oxygen", "systolic_bp", "consciousness", "temperature")
    assert result.total is None and result.risk is None
    assert result.partial_total == 6
    assert result.risk_at_least == "medium"


def test_sources_and_status():
    result = news2(**NORMAL)
    assert result.status == "V" and result.risk_status == "S"
    assert "Royal College of Physicians" in result.source


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spo2_scale": 3, "spo2": 95},
        {"consciousness": "alert"},
        {"on_oxygen": "yes"},
        {"pulse": 70.5},
        {"respiratory_rate": 0},
    ],
)
def test_bad_inputs_refused(kwargs):
    with pytest.raises(InvalidValue):
        news2(**kwargs)
