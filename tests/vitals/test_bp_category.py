"""ACC/AHA 2017 categories (clinical.md 5a, V; crisis S) at every boundary, both sides."""

import pytest

from vitals.classification import bp_category

NORMAL_DBP, NORMAL_SBP = 70, 110


@pytest.mark.parametrize(
    ("sbp", "expected"),
    [
        (119, "normal"),
        (120, "elevated"),
        (129, "elevated"),
        (130, "stage_1"),
        (139, "stage_1"),
        (140, "stage_2"),
        (180, "stage_2"),
        (181, "crisis"),
    ],
)
def test_systolic_boundaries(sbp, expected):
    category = bp_category(sbp, NORMAL_DBP)
    assert category.id == expected
    assert category.systolic_category == expected


@pytest.mark.parametrize(
    ("dbp", "expected"),
    [(79, "normal"), (80, "stage_1"), (89, "stage_1"), (90, "stage_2"), (120, "stage_2"), (121, "crisis")],
)
def test_diastolic_boundaries(dbp, expected):
    # bp_category is a pure classifier; DBP < SBP is enforced by classify_reading, not here.
    category = bp_category(NORMAL_SBP, dbp)
    assert category.id == expected
    assert category.diastolic_category == expected


@pytest.mark.parametrize(
    ("sbp", "dbp", "expected"),
    [
        (125, 79, "elevated"),  # elevated needs DBP < 80
        (125, 80, "stage_1"),  # SBP elevated, DBP stage 1 → the higher one
        (118, 92, "stage_2"),
        (135, 95, "stage_2"),
        (145, 85, "stage_2"),
        (185, 70, "crisis"),
        (150, 125, "crisis"),
    ],
)
def test_higher_category_wins(sbp, dbp, expected):
    assert bp_category(sbp, dbp).id == expected


def test_statuses_follow_reference():
    assert bp_category(119, 79).status == "V"
    assert bp_category(145, 85).status == "V"
    assert bp_category(181, 85).status == "S"  # crisis threshold is secondary (Whelton 2018 as cited)
    assert bp_category(181, 85).label == "Hypertensive crisis"
