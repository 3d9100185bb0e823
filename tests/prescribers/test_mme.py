"""prescribers/mme.py: the CDC IG's test patients, hand-computed orders, Hypothesis properties, and a
mutation check showing that each property and the example table go red on a broken implementation.

Every expected number below was worked out by hand and is written literally; none is computed by the
formula under test. Pure tests: no database.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from prescribers import mme
from prescribers.mme import MedicationOrder, OrderStatus

D = Decimal
COUNTED, EXCLUDED, NOT_OPIOID, NOT_COMPUTABLE = (
    OrderStatus.COUNTED,
    OrderStatus.EXCLUDED,
    OrderStatus.NOT_OPIOID,
    OrderStatus.NOT_COMPUTABLE,
)
THIRD = D(1) / D(3)  # a patch changed every 72 h


def order(ingredient, strength, strength_unit, dose, dose_unit, per_day, **kw) -> MedicationOrder:
    return MedicationOrder(ingredient, D(strength), strength_unit, D(dose), dose_unit, D(per_day), **kw)


def tab(ingredient, mg, per_dose, per_day, **kw) -> MedicationOrder:
    return order(ingredient, mg, "mg", per_dose, "tablet", per_day, **kw)


def patch(mcg_h, patches=1, per_day=THIRD, ingredient="fentanyl", **kw) -> MedicationOrder:
    return MedicationOrder(ingredient, D(mcg_h), "mcg/h", D(patches), "patch", D(per_day), **kw)


# ---------------------------------------------------------------------------------------------------
# The CDC MME implementation guide's test patients


CDC_IG = "cqframework/opioid-mme-r4 (commit 1357f45) input/tests/MMECalculatorTests"
CDC_PATIENTS = [
    pytest.param(
        # mmecalc/morphineMedRecMMECalc.json: "MORPHINE ER 20 MG CAPSULE" (RxNorm coding includes ingredient
        # 7052), doseQuantity 20 mg, timing.repeat.timeOfDay ["10:00:00"] only, so dosesPerDay = 1.
        # mmecalc/GuidanceResponse-mmecalc.json: TotalMME 20.0 {MME}/d.
        [order("morphine", 20, "mg", 20, "mg", 1, rxnorm="7052")],
        "20.00",
        id="mmecalc",
    ),
    pytest.param(
        # patient-mme-greater-than-fifty/example-rec-05-mme-greater-than-fifty-context.json: RxNorm 197696
        # "72 HR Fentanyl 0.075 MG/HR Transdermal System", doseQuantity 1 {patch}, frequency 1 per 3 d.
        # GuidanceResponse-patient-mme-greater-than-fifty.json: TotalMME 180.0.
        [patch(75, patches=1, per_day=THIRD)],
        "180.00",
        id="patient-mme-greater-than-fifty",
    ),
    pytest.param(
        # patient-mme-less-than-fifty/example-rec-05-mme-less-than-fifty-context.json: RxNorm 1049593
        # "oxycodone hydrochloride 60 MG 12 HR Extended Release Oral Tablet", doseQuantity 10 mg,
        # frequency 1 per 12 h (2 a day). GuidanceResponse-patient-mme-less-than-fifty.json: TotalMME 30.0.
        [order("oxycodone", 60, "mg", 10, "mg", 2)],
        "30.00",
        id="patient-mme-less-than-fifty",
    ),
    pytest.param(
        # patient-mme-with-timeofday/example-rec-05-mme-with-timeofday-context.json: the same oxycodone
        # order timed by timeOfDay ["10:00:00", "22:00:00"] (2 a day), doseQuantity 10 mg.
        # GuidanceResponse-patient-mme-with-timeofday.json: TotalMME 30.0.
        [order("oxycodone", 60, "mg", 10, "mg", 2, rxnorm="7804")],
        "30.00",
        id="patient-mme-with-timeofday",
    ),
]


@pytest.mark.parametrize("table", ["cdc2022", "cdc2016"])
@pytest.mark.parametrize(("orders", "expected"), CDC_PATIENTS)
def test_cdc_ig_test_patients(orders, expected, table):
    """The four MMECalculatorTests patients of the CDC/CQF MME IG (paths in CDC_PATIENTS, under CDC_IG):
    expected 20, 180, 30, 30 MME/day. Morphine, transdermal fentanyl and oxycodone have the same factor in
    both tables, so both must give the IG's number."""
    result = mme.daily_mme(orders, table)
    assert result.total == D(expected)
    assert result.complete
    assert [o.status for o in result.per_order] == [COUNTED]


def test_cdc_ig_patient_without_medications():
    """patient-no-meds/patient-no-meds.json has no orders (and the IG publishes no GuidanceResponse):
    nothing is counted, so there is no total, and nothing is missing."""
    result = mme.daily_mme([], "cdc2022")
    assert (result.total, result.complete, result.per_order) == (None, True, ())


# ---------------------------------------------------------------------------------------------------
# Hand-computed single orders: (id, table, order, MME/day) when counted, else (id, table, order, status,
# a phrase of the reason)

C22, C16 = "cdc2022", "cdc2016"
CASES = [
    # CDC 2022, every factor
    ("22 codeine 30 mg x1 x4 = 120 mg x0.15", C22, tab("codeine", 30, 1, 4), "18.00"),
    ("22 codeine 45 mg doses x3", C22, order("codeine", 30, "mg", 45, "mg", 3), "20.25"),
    ("22 codeine 7.9 mg: 1.185 rounds half-up", C22, order("codeine", 15, "mg", "7.9", "mg", 1), "1.19"),
    ("22 fentanyl 25 mcg/h every 72 h", C22, patch(25), "60.00"),
    ("22 fentanyl 37.5 mcg/h", C22, patch("37.5"), "90.00"),
    ("22 fentanyl two 50 mcg/h patches", C22, patch(50, patches=2), "240.00"),
    ("22 fentanyl 25 mcg/h changed daily", C22, patch(25, per_day=1), "60.00"),
    ("22 hydrocodone 10 mg x1 x4", C22, tab("hydrocodone", 10, 1, 4), "40.00"),
    ("22 hydromorphone 2 mg x2 x4 = 16 mg x5", C22, tab("hydromorphone", 2, 2, 4), "80.00"),
    ("22 hydromorphone 1 mg/mL 2.5 mL x4", C22, order("hydromorphone", 1, "mg/mL", "2.5", "mL", 4), "50.00"),
    ("22 hydromorphone PRN 4 mg max 6/day", C22, tab("hydromorphone", 4, 1, 6, as_needed=True), "120.00"),
    ("22 methadone 10 mg x1 x3 = 30 mg x4.7", C22, tab("methadone", 10, 1, 3), "141.00"),
    ("22 methadone 90 mg/day: no tiers in 2022", C22, tab("methadone", 10, 3, 3), "423.00"),
    ("22 methadone 0.5 mg/day", C22, order("methadone", 5, "mg", "0.5", "mg", 1), "2.35"),
    ("22 morphine 15 mg x1 x2", C22, tab("morphine", 15, 1, 2), "30.00"),
    ("22 morphine 2 mg/mL 5 mL x6", C22, order("morphine", 2, "mg/mL", 5, "mL", 6), "60.00"),
    ("22 morphine 30 mg x1 x1.5", C22, tab("morphine", 30, 1, "1.5"), "45.00"),
    ("22 MORPHINE upper case", C22, tab("MORPHINE", 30, 1, 2), "60.00"),
    ("22 oxycodone PRN 5 mg max 4/day", C22, tab("oxycodone", 5, 1, 4, as_needed=True), "30.00"),
    ("22 oxycodone 5 mg capsule x3", C22, order("oxycodone", 5, "mg", 1, "capsule", 3), "22.50"),
    ("22 oxycodone half of 10 mg x2", C22, tab("oxycodone", 10, "0.5", 2), "15.00"),
    ("22 oxycodone by RxNorm only", C22, tab("", 5, 1, 2, rxnorm="7804"), "15.00"),
    ("22 oxymorphone 10 mg x1 x2", C22, tab("oxymorphone", 10, 1, 2), "60.00"),
    ("22 tapentadol 50 mg x1 x4", C22, tab("tapentadol", 50, 1, 4), "80.00"),
    ("22 tramadol 50 mg x2 x3 = 300 mg x0.2", C22, tab("tramadol", 50, 2, 3), "60.00"),
    ("22 tramadol 5 mg/mL 10 mL x4", C22, order("tramadol", 5, "mg/mL", 10, "mL", 4), "40.00"),
    # CDC 2016, every factor and every methadone tier (the total methadone mg/day picks the tier)
    ("16 codeine 30 mg x1 x4", C16, tab("codeine", 30, 1, 4), "18.00"),
    ("16 fentanyl 50 mcg/h", C16, patch(50), "120.00"),
    ("16 hydrocodone 5 mg x1 x4", C16, tab("hydrocodone", 5, 1, 4), "20.00"),
    ("16 hydromorphone 2 mg x2 x4 = 16 mg x4", C16, tab("hydromorphone", 2, 2, 4), "64.00"),
    ("16 morphine 30 mg x1 x2", C16, tab("morphine", 30, 1, 2), "60.00"),
    ("16 oxycodone 10 mg x1 x3", C16, tab("oxycodone", 10, 1, 3), "45.00"),
    ("16 oxymorphone 5 mg x1 x2", C16, tab("oxymorphone", 5, 1, 2), "30.00"),
    ("16 tapentadol 50 mg x1 x4", C16, tab("tapentadol", 50, 1, 4), "80.00"),
    ("16 tramadol 50 mg x2 x3 = 300 mg x0.1", C16, tab("tramadol", 50, 2, 3), "30.00"),
    ("16 methadone 1 mg/day: x4", C16, order("methadone", 5, "mg", 1, "mg", 1), "4.00"),
    ("16 methadone 15 mg/day: x4", C16, tab("methadone", 5, 1, 3), "60.00"),
    ("16 methadone 20 mg/day: x4", C16, tab("methadone", 10, 1, 2), "80.00"),
    ("16 methadone 20.5 mg/day: x8", C16, order("methadone", 5, "mg", "20.5", "mg", 1), "164.00"),
    ("16 methadone 30 mg/day: x8", C16, tab("methadone", 10, 1, 3), "240.00"),
    ("16 methadone 10 mg/mL 1.5 mL x2: x8", C16, order("methadone", 10, "mg/mL", "1.5", "mL", 2), "240.00"),
    ("16 methadone 40 mg/day: x8", C16, tab("methadone", 10, 1, 4), "320.00"),
    ("16 methadone 50 mg/day: x10", C16, tab("methadone", 10, 1, 5), "500.00"),
    ("16 methadone 60 mg/day: x10", C16, tab("methadone", 10, 2, 3), "600.00"),
    ("16 methadone 70 mg/day: x12", C16, tab("methadone", 10, 1, 7), "840.00"),
    ("16 methadone 80 mg/day: x12", C16, tab("methadone", 10, 2, 4), "960.00"),
    (
        "16 methadone 80.5 mg/day: unknown",
        C16,
        order("methadone", 5, "mg", "80.5", "mg", 1),
        NOT_COMPUTABLE,
        "above 80 mg/day",
    ),
    (
        "16 methadone 90 mg/day: unknown",
        C16,
        tab("methadone", 10, 3, 3),
        NOT_COMPUTABLE,
        "total methadone 90 mg/day",
    ),
    (
        "16 methadone 0.5 mg/day: below the table",
        C16,
        order("methadone", 5, "mg", "0.5", "mg", 1),
        NOT_COMPUTABLE,
        "starts at 1 mg/day",
    ),
    # Excluded and not opioids: no MME, not missing
    ("buprenorphine SL 8 mg", C22, tab("buprenorphine", 8, 1, 2), EXCLUDED, "excluded: partial agonist"),
    (
        "buprenorphine 5 mcg/h weekly patch",
        C22,
        patch(5, per_day=D(1) / D(7), ingredient="buprenorphine"),
        EXCLUDED,
        "excluded: partial agonist",
    ),
    ("buprenorphine in 2016", C16, tab("Buprenorphine", 2, 1, 1), EXCLUDED, "CDC 2022 table footnote"),
    (
        "buprenorphine by RxNorm only",
        C22,
        tab("", 8, 1, 1, rxnorm="1819"),
        EXCLUDED,
        "excluded: partial agonist",
    ),
    (
        "methadone for OUD 80 mg",
        C22,
        order("methadone", 10, "mg/mL", 8, "mL", 1, indication="oud"),
        EXCLUDED,
        "opioid use disorder",
    ),
    (
        "methadone for OUD in 2016",
        C16,
        order("methadone", 10, "mg/mL", 8, "mL", 1, indication="oud"),
        EXCLUDED,
        "opioid use disorder",
    ),
    ("alprazolam", C22, tab("alprazolam", 1, 1, 3), NOT_OPIOID, "not an opioid"),
    (
        "diazepam by RxNorm only",
        C22,
        tab("", 5, 1, 2, rxnorm="3322"),
        NOT_OPIOID,
        "not an opioid (benzodiazepine)",
    ),
    # Should count and cannot: reported, never 0
    (
        "tablet with a mg/mL strength",
        C22,
        order("oxycodone", 5, "mg/mL", 1, "tablet", 4),
        NOT_COMPUTABLE,
        "needs a strength in mg",
    ),
    (
        "mL with a mg strength",
        C22,
        order("morphine", 10, "mg", 5, "mL", 4),
        NOT_COMPUTABLE,
        "needs a strength in mg/mL",
    ),
    ("oxycodone as a patch", C22, patch(25, ingredient="oxycodone"), NOT_COMPUTABLE, "only for fentanyl"),
    (
        "morphine tablet in mcg/h",
        C22,
        order("morphine", 10, "mcg/h", 1, "tablet", 2),
        NOT_COMPUTABLE,
        "only for fentanyl",
    ),
    (
        "fentanyl buccal tablet",
        C22,
        order("fentanyl", "0.1", "mg", 1, "tablet", 4),
        NOT_COMPUTABLE,
        "transdermal fentanyl only",
    ),
    (
        "fentanyl patch with a mg strength",
        C16,
        order("fentanyl", 25, "mg", 1, "patch", THIRD),
        NOT_COMPUTABLE,
        "transdermal fentanyl only",
    ),
    ("zero dose", C22, tab("morphine", 30, 0, 2), NOT_COMPUTABLE, "dose must be positive"),
    ("zero strength", C22, tab("morphine", 0, 1, 2), NOT_COMPUTABLE, "strength must be positive"),
    (
        "negative doses per day",
        C22,
        tab("morphine", 30, 1, -2),
        NOT_COMPUTABLE,
        "doses per day must be positive",
    ),
    ("negative patch rate", C22, patch(-25), NOT_COMPUTABLE, "strength must be positive"),
    ("dose not a number", C22, tab("morphine", 30, "NaN", 2), NOT_COMPUTABLE, "dose is not a number"),
    ("30 doses a day", C22, tab("morphine", 30, 1, 30), NOT_COMPUTABLE, "implausible"),
    ("12 tablets a dose", C22, tab("morphine", 30, 12, 1), NOT_COMPUTABLE, "implausible"),
    ("150 mcg/h patch", C22, patch(150), NOT_COMPUTABLE, "implausible"),
    (
        "meperidine: opioid without a factor",
        C22,
        tab("meperidine", 50, 1, 4),
        NOT_COMPUTABLE,
        "without a CDC MME conversion factor",
    ),
    ("typo 'oxycodon'", C22, tab("oxycodon", 5, 1, 4), NOT_COMPUTABLE, "unrecognised ingredient"),
    ("name and RxNorm disagree", C22, tab("oxycodone", 5, 1, 4, rxnorm="7052"), NOT_COMPUTABLE, "disagree"),
    (
        "product RxCUI, not an ingredient",
        C22,
        tab("morphine", 15, 1, 2, rxnorm="1049593"),
        NOT_COMPUTABLE,
        "not an ingredient RxCUI",
    ),
    (
        "OUD indication on oxycodone",
        C22,
        tab("oxycodone", 5, 1, 4, indication="oud"),
        NOT_COMPUTABLE,
        "indication 'oud'",
    ),
    (
        "0.0015 MME/day rounds to nothing",
        C22,
        order("codeine", 15, "mg", "0.01", "mg", 1),
        NOT_COMPUTABLE,
        "implausibly small",
    ),
]


def check_case(table, the_order, *expected) -> None:
    """`expected` is the MME/day of a counted order, or the status and a phrase of the reason."""
    (row,) = mme.daily_mme([the_order], table).per_order
    if len(expected) == 1:
        assert (row.status, row.mme, row.reason) == (COUNTED, D(expected[0]), None), row
    else:
        status, phrase = expected
        assert (row.status, row.mme) == (status, None), (row.status, row.reason)
        assert row.reason and phrase in row.reason, row.reason


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed_order(case):
    check_case(*case[1:])


def test_the_table_covers_what_it_claims():
    assert len(CASES) >= 30
    for table in (C22, C16):
        ingredients = {c[2].ingredient.lower() for c in CASES if c[1] == table and len(c) == 4}
        assert {"codeine", "fentanyl", "hydrocodone", "hydromorphone", "methadone", "morphine", "oxycodone",
                "oxymorphone", "tapentadol", "tramadol"} <= ingredients  # fmt: skip


# Several orders together: (id, table, orders, per-order MME (None = not counted), total, complete)
MULTI = [
    ("2016 methadone tier from the total: 20 + 10 = 30 mg/day -> x8", C16,
     [tab("methadone", 10, 1, 2), tab("methadone", 5, 1, 2)], ["160.00", "80.00"], "240.00", True),
    ("2016 methadone 40 + 5 = 45 mg/day -> x10", C16,
     [tab("methadone", 10, 1, 4), order("methadone", 5, "mg", 5, "mg", 1)],
     ["400.00", "50.00"], "450.00", True),
    ("2016 methadone 80 + 1 = 81 mg/day -> unknown; morphine still counts", C16,
     [tab("methadone", 10, 2, 4), order("methadone", 1, "mg", 1, "mg", 1), tab("morphine", 15, 1, 2)],
     [None, None, "30.00"], "30.00", False),
    ("2016 one methadone order unconvertible -> the total, and so every tier, is unknown", C16,
     [tab("methadone", 10, 1, 2), order("methadone", 10, "mg/mL", 1, "tablet", 2)],
     [None, None], None, False),
    ("2016 methadone for OUD is not part of the tier total", C16,
     [order("methadone", 10, "mg/mL", 8, "mL", 1, indication="oud"), tab("methadone", 10, 1, 2)],
     [None, "80.00"], "80.00", True),
    ("2022 methadone is linear: 20 + 10 mg/day", C22,
     [tab("methadone", 10, 1, 2), tab("methadone", 5, 1, 2)], ["94.00", "47.00"], "141.00", True),
    ("two identical orders count twice", C22,
     [tab("oxycodone", 5, 1, 4), tab("oxycodone", 5, 1, 4)], ["30.00", "30.00"], "60.00", True),
    ("excluded and non-opioid orders leave the total complete", C22,
     [tab("oxycodone", 5, 1, 4), tab("alprazolam", 1, 1, 3), tab("buprenorphine", 8, 1, 2)],
     ["30.00", None, None], "30.00", True),
    ("an unconvertible order makes the total partial", C22,
     [tab("oxycodone", 5, 1, 4), tab("oxycodon", 5, 1, 4)], ["30.00", None], "30.00", False),
    ("only a benzodiazepine: no total, nothing missing", C22,
     [tab("alprazolam", 1, 1, 3)], [None], None, True),
    ("only unconvertible orders: no total, and it is partial", C22,
     [tab("morphine", 30, 0, 2)], [None], None, False),
    ("morphine 20 mg daily + fentanyl 75 mcg/h", C22,
     [order("morphine", 20, "mg", 20, "mg", 1), patch(75)], ["20.00", "180.00"], "200.00", True),
    ("rounding: total is the sum of the rounded rows (1.19 + 1.19)", C22,
     [order("codeine", 15, "mg", "7.9", "mg", 1), order("codeine", 15, "mg", "7.9", "mg", 1)],
     ["1.19", "1.19"], "2.38", True),
]  # fmt: skip


def check_multi(table, orders, per_order, total, complete) -> None:
    result = mme.daily_mme(orders, table)
    assert [r.mme for r in result.per_order] == [None if v is None else D(v) for v in per_order]
    assert result.total == (None if total is None else D(total))
    assert result.complete is complete
    assert result.table == table


@pytest.mark.parametrize("case", MULTI, ids=[m[0] for m in MULTI])
def test_several_orders(case):
    check_multi(*case[1:])


def check_examples() -> None:
    """Every hand-computed example, as one check (the mutation test runs it on broken variants)."""
    for case in CASES:
        check_case(*case[1:])
    for _, table, orders, per_order, total, complete in MULTI:
        check_multi(table, orders, per_order, total, complete)
    for param in CDC_PATIENTS:
        orders, expected = param.values
        assert mme.daily_mme(orders, C22).total == D(expected)


def test_counted_rows_say_which_factor_and_source():
    result = mme.daily_mme([tab("methadone", 10, 1, 3), patch(25)], C16)
    methadone, fentanyl = result.per_order
    assert (methadone.factor, methadone.daily_amount) == (D(8), D(30))
    assert methadone.factor_status is mme.Status.SECONDARY
    assert "30 mg/day" in methadone.factor_source
    assert (fentanyl.factor, fentanyl.daily_amount, fentanyl.daily_amount_unit) == (D("2.4"), D(25), "mcg/h")
    (hydromorphone,) = mme.daily_mme([tab("hydromorphone", 2, 1, 1)], C22).per_order
    assert (hydromorphone.factor, hydromorphone.factor_status) == (D("5.0"), mme.Status.VERIFIED)


def test_an_int_is_taken_as_an_exact_decimal():
    assert MedicationOrder("morphine", 30, "mg", 1, "tablet", 2) == tab("morphine", 30, 1, 2)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: mme.daily_mme([], "cdc2020"), ValueError),
        (lambda: mme.daily_mme([], None), TypeError),
        (lambda: mme.daily_mme(["morphine 30 mg"]), TypeError),
        (lambda: MedicationOrder("morphine", 30.0, "mg", D(1), "tablet", D(2)), TypeError),
        (lambda: MedicationOrder("morphine", D(30), "mg", "1", "tablet", D(2)), TypeError),
        (lambda: MedicationOrder("morphine", D(30), "mg", True, "tablet", D(2)), TypeError),
        (lambda: MedicationOrder("morphine", D(30), "g", D(1), "tablet", D(2)), ValueError),
        (lambda: MedicationOrder("morphine", D(30), "mg", D(1), "drop", D(2)), ValueError),
        (lambda: MedicationOrder("methadone", D(30), "mg", 1, "tablet", 2, indication="OUD"), ValueError),
        (lambda: MedicationOrder("morphine", D(30), "mg", D(1), "tablet", D(2), rxnorm=7052), TypeError),
    ],
)
def test_programming_errors_raise(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------------------------------------------
# The data file says what the issue and the sources say


def test_factors_are_the_published_ones():
    f22 = {k: v.value for k, v in mme.factor_table(C22).factors.items()}
    assert f22 == {"codeine": D("0.15"), "fentanyl": D("2.4"), "hydrocodone": D(1), "hydromorphone": D(5),
                   "methadone": D("4.7"), "morphine": D(1), "oxycodone": D("1.5"), "oxymorphone": D(3),
                   "tapentadol": D("0.4"), "tramadol": D("0.2")}  # fmt: skip
    t16 = mme.factor_table(C16)
    assert {k: v.value for k, v in t16.factors.items()} == {
        "codeine": D("0.15"), "fentanyl": D("2.4"), "hydrocodone": D(1), "hydromorphone": D(4),
        "morphine": D(1), "oxycodone": D("1.5"), "oxymorphone": D(3), "tapentadol": D("0.4"),
        "tramadol": D("0.1")}  # fmt: skip
    assert t16.methadone_tiers.from_mg_per_day == D(1)
    assert t16.methadone_tiers.tiers == ((D(20), D(4)), (D(40), D(8)), (D(60), D(10)), (D(80), D(12)))
    roles = ("opioid", "partial_agonist")
    codes = {i.name: i.rxnorm for i in mme.rules().ingredients.values() if i.role in roles}
    assert codes == {"codeine": "2670", "fentanyl": "4337", "hydrocodone": "5489", "hydromorphone": "3423",
                     "methadone": "6813", "morphine": "7052", "oxycodone": "7804", "oxymorphone": "7814",
                     "tapentadol": "787390", "tramadol": "10689", "buprenorphine": "1819"}  # fmt: skip


def test_every_value_has_a_source_and_a_status():
    raw = json.loads(mme.DATA_FILE.read_text())
    statuses = {"V", "S", "U"}
    for section in ("rounding", "plausibility", *(f"exclusions.{k}" for k in raw["exclusions"])):
        item = raw
        for key in section.split("."):
            item = item[key]
        assert item["status"] in statuses and item["source"], section
    for name, table in raw["tables"].items():
        assert table["status"] in statuses and table["source"], name
        for factor in mme.factor_table(name).factors.values():
            assert factor.status in statuses and factor.source
        if "methadone_tiers" in table:
            tiers = table["methadone_tiers"]
            assert tiers["status"] in statuses and tiers["source"]
            assert tiers["above_last_tier"]["status"] == "U"
    assert raw["ingredients"]["_source"]


def test_the_module_is_pure():
    """Standard library only: no Django, no app code (the architecture test's PURE_MODULES rule)."""
    tree = ast.parse(Path(mme.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert all(name.split(".")[0] in sys.stdlib_module_names | {"__future__"} for name in imported), imported


# ---------------------------------------------------------------------------------------------------
# Hypothesis properties. Each property is a plain check (raises AssertionError) so the mutation test
# below can run the same check against broken variants.

ORAL = ["codeine", "hydrocodone", "hydromorphone", "methadone", "morphine", "oxycodone", "oxymorphone",
        "tapentadol", "tramadol"]  # fmt: skip
TABLES = st.sampled_from([C22, C16])
MULTIPLIERS = st.sampled_from([2, 3])


def decimals(low: str, high: str, places: int):
    return st.decimals(D(low), D(high), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def convertible(draw, names=(*ORAL, "methadone", "methadone", "fentanyl")):
    """A well-formed order within the plausibility limits (methadone weighted up: its 2016 tiers)."""
    name = draw(st.sampled_from(names))
    prn = draw(st.booleans())
    if name == "fentanyl":
        rate = draw(st.sampled_from(["12", "25", "37.5", "50", "62.5", "75", "87.5", "100"]))
        per_day = draw(st.sampled_from([THIRD, D("0.5"), D(1)]))
        return patch(rate, patches=draw(st.integers(1, 3)), per_day=per_day, as_needed=prn)
    form = draw(st.sampled_from(["mg", "tablet", "capsule", "mL"]))
    per_day = draw(decimals("0.25", "6", 2))
    if form == "mL":
        strength, volume = draw(decimals("0.5", "20", 1)), draw(decimals("0.5", "20", 1))
        return order(name, strength, "mg/mL", volume, "mL", per_day, as_needed=prn)
    strength = draw(decimals("0.5", "100", 1))
    units = st.sampled_from(["0.5", "1", "1.5", "2", "3"])
    dose = draw(decimals("0.5", "200", 1)) if form == "mg" else draw(units)
    return order(name, strength, "mg", dose, form, per_day, as_needed=prn)


@st.composite
def unconvertible(draw, methadone: bool = False):
    """An order that should count and cannot. Not methadone unless asked: in 2016 an unconvertible
    methadone order rightly blocks the other methadone orders' tier (see MULTI)."""
    name = draw(st.sampled_from([n for n in ORAL if methadone or n != "methadone"]))
    base = tab(name, 10, 1, 2)
    field = draw(st.sampled_from(["strength", "dose", "doses_per_day"]))
    kinds = {
        "tablet in mg/mL": replace(base, strength_unit="mg/mL"),
        "tablet in mcg/h": replace(base, strength_unit="mcg/h"),
        "mL with mg": order(name, 10, "mg", 5, "mL", 2),
        "oral opioid patch": patch(25, ingredient=name),
        "zero": replace(base, **{field: D(0)}),
        "negative": replace(base, **{field: -draw(decimals("0.1", "50", 1))}),
        "too often": replace(base, doses_per_day=draw(decimals("24.01", "1000", 2))),
        "no factor": tab(draw(st.sampled_from(["meperidine", "pentazocine", "levorphanol"])), 50, 1, 4),
        "unrecognised": tab(
            draw(st.sampled_from(["oxycodon", "morphine sulphate", "apap/codeine"])), 5, 1, 4
        ),
        "fentanyl not transdermal": order("fentanyl", "0.1", "mg", 1, "tablet", 4),
    }
    return kinds[draw(st.sampled_from(sorted(kinds)))]


def not_mme():
    """Orders that are not MME by definition: excluded or not opioids."""
    return st.sampled_from([
        tab("buprenorphine", 8, 1, 2),
        patch(10, per_day=D(1) / D(7), ingredient="buprenorphine"),
        order("methadone", 10, "mg/mL", 8, "mL", 1, indication="oud"),
        tab("alprazolam", 1, 1, 3),
        tab("Clonazepam", "0.5", 1, 2),
        tab("", 5, 1, 2, rxnorm="3322"),
    ])  # fmt: skip


def any_order():
    return st.one_of(convertible(), convertible(), unconvertible(methadone=True), not_mme())


ORDER_LISTS = st.lists(any_order(), max_size=6)


def single_scalable():
    """(order, table, k): an order linear in its dose (2016 methadone is tiered, so it is not)."""
    pairs = st.tuples(convertible(), TABLES, MULTIPLIERS)
    return pairs.filter(lambda p: not (p[1] == C16 and p[0].ingredient == "methadone"))


def check_total_is_the_sum(orders, table) -> None:
    result = mme.daily_mme(orders, table)
    assert len(result.per_order) == len(orders)
    assert all(row.order is given for row, given in zip(result.per_order, orders, strict=True))
    for row in result.per_order:
        assert (row.mme is None) == (row.status is not COUNTED) == bool(row.reason)
        assert row.mme is None or row.mme > 0
    counted = [row.mme for row in result.per_order if row.mme is not None]
    assert result.total == (sum(counted) if counted else None)
    assert result.complete == all(row.status is not NOT_COMPUTABLE for row in result.per_order)


def check_duplicate_doubles(orders, extra, table) -> None:
    if table == C16 and extra.ingredient == "methadone":
        return
    once = mme.daily_mme([*orders, extra], table)
    twice = mme.daily_mme([*orders, extra, extra], table)
    contribution = once.per_order[-1].mme
    assert twice.per_order[-1].mme == twice.per_order[-2].mme == contribution
    if contribution is not None:
        assert twice.total == once.total + contribution
    else:
        assert twice.total == once.total


def check_unconvertible_changes_nothing(orders, bad, position, table) -> None:
    base = mme.daily_mme(orders, table)
    at = min(position, len(orders))
    result = mme.daily_mme([*orders[:at], bad, *orders[at:]], table)
    row = result.per_order[at]
    assert (row.mme, row.status) == (None, NOT_COMPUTABLE) and row.reason
    assert result.total == base.total
    assert result.complete is False
    others = [r.mme for i, r in enumerate(result.per_order) if i != at]
    assert others == [r.mme for r in base.per_order]


def _within_rounding(scaled: Decimal, original: Decimal, k: int) -> bool:
    return abs(scaled - k * original) <= D("0.005") * (k + 1)


def check_dose_scales(the_order, table, k) -> None:
    (row,) = mme.daily_mme([the_order], table).per_order
    (scaled,) = mme.daily_mme([replace(the_order, dose=the_order.dose * k)], table).per_order
    assert row.status is scaled.status is COUNTED, (row, scaled)
    assert scaled.daily_amount == k * row.daily_amount
    assert _within_rounding(scaled.mme, row.mme, k), (scaled.mme, row.mme, k)


def check_doses_per_day(the_order, table, k) -> None:
    """More doses a day scale an oral order; a patch's MME is its rate, however often it is changed."""
    (row,) = mme.daily_mme([the_order], table).per_order
    (more,) = mme.daily_mme([replace(the_order, doses_per_day=the_order.doses_per_day * k)], table).per_order
    assert row.status is more.status is COUNTED, (row, more)
    if the_order.dose_unit == "patch":
        assert more.mme == row.mme
    else:
        assert _within_rounding(more.mme, row.mme, k), (more.mme, row.mme, k)


def check_order_does_not_matter(orders, permutation, table) -> None:
    result = mme.daily_mme(orders, table)
    shuffled = mme.daily_mme([orders[i] for i in permutation], table)
    assert shuffled.total == result.total
    assert shuffled.complete == result.complete
    assert [(r.status, r.mme) for r in shuffled.per_order] == [
        (result.per_order[i].status, result.per_order[i].mme) for i in permutation
    ]


def check_names_match_any_case_or_by_code(the_order, table) -> None:
    code = mme.rules().ingredients[the_order.ingredient].rxnorm
    variants = [
        the_order,
        replace(the_order, ingredient=the_order.ingredient.upper()),
        replace(the_order, ingredient=f"  {the_order.ingredient.title()} "),
        replace(the_order, rxnorm=code),
        replace(the_order, ingredient="", rxnorm=code),
    ]
    rows = [mme.daily_mme([v], table).per_order[0] for v in variants]
    assert {(r.status, r.mme) for r in rows} == {(rows[0].status, rows[0].mme)}, rows


PROPERTIES: dict[str, tuple[Callable, st.SearchStrategy]] = {
    "total is the sum": (check_total_is_the_sum, st.tuples(ORDER_LISTS, TABLES)),
    "duplicate doubles": (check_duplicate_doubles, st.tuples(ORDER_LISTS, convertible(), TABLES)),
    "unconvertible changes nothing": (
        check_unconvertible_changes_nothing,
        st.tuples(ORDER_LISTS, unconvertible(), st.integers(0, 6), TABLES),
    ),
    "dose scales": (check_dose_scales, single_scalable()),
    "doses per day": (check_doses_per_day, single_scalable()),
    "order does not matter": (
        check_order_does_not_matter,
        ORDER_LISTS.flatmap(lambda os: st.tuples(st.just(os), st.permutations(range(len(os))), TABLES)),
    ),
    "names match any case or by code": (
        check_names_match_any_case_or_by_code,
        st.tuples(convertible(), TABLES),
    ),
}
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@pytest.mark.parametrize("name", PROPERTIES)
def test_property(name):
    check, strategy = PROPERTIES[name]

    @PROPERTY_SETTINGS
    @given(strategy)
    def run(args):
        check(*args)

    run()


@PROPERTY_SETTINGS
@given(st.lists(convertible(), min_size=1, max_size=4), TABLES)
def test_only_convertible_orders_give_a_complete_total(orders, table):
    result = mme.daily_mme(orders, table)
    # 2016 methadone can still fall outside the tiers; everything else counts.
    if table == C16 and any(o.ingredient == "methadone" for o in orders):
        assume(result.complete)
    assert result.complete and result.total is not None and result.total > 0


# ---------------------------------------------------------------------------------------------------
# Mutation check: each property, and the example table, go red on a broken implementation.

REAL = mme.daily_mme


def _rebuild(result, rows):
    return mme._result(tuple(rows), result.table)


def _rewrite(transform):
    """A mutant that feeds the real calculation rewritten orders, then reports them as the originals."""

    def broken(orders, table="cdc2022"):
        orders = list(orders)
        result = REAL([transform(o) for o in orders], table)
        rows = [replace(row, order=o) for row, o in zip(result.per_order, orders, strict=True)]
        return _rebuild(result, rows)

    return broken


def unconvertible_counted_as_zero(orders, table="cdc2022"):
    result = REAL(orders, table)
    rows = [
        replace(r, status=COUNTED, mme=D("0.00"), reason=None) if r.status is NOT_COMPUTABLE else r
        for r in result.per_order
    ]
    return _rebuild(result, rows)


def patch_times_doses_per_day(orders, table="cdc2022"):
    result = REAL(orders, table)
    rows = [
        replace(r, mme=(r.mme * r.order.doses_per_day).quantize(D("0.01")))
        if r.counted and r.order.dose_unit == "patch"
        else r
        for r in result.per_order
    ]
    return _rebuild(result, rows)


def identical_orders_counted_once(orders, table="cdc2022"):
    orders = list(orders)
    unique = list(dict.fromkeys(orders))
    result = REAL(unique, table)
    first = {o: row for o, row in zip(unique, result.per_order, strict=True)}
    rows = tuple(replace(first[o], order=o) for o in orders)
    return replace(result, per_order=rows)  # total still over the unique orders


def total_from_unrounded_values(orders, table="cdc2022"):
    result = REAL(orders, table)
    exact = [r.daily_amount * r.factor for r in result.per_order if r.counted]
    return replace(result, total=sum(exact) if exact else None)


def methadone_tier_from_a_running_total(orders, table="cdc2022"):
    orders = list(orders)
    rows = [REAL(orders[: i + 1], table).per_order[i] for i in range(len(orders))]
    return _rebuild(REAL(orders, table), rows)


def methadone_tier_per_order(orders, table="cdc2022"):
    """What the CQF IG does: each methadone order tiered on its own dose."""
    orders = list(orders)
    result = REAL(orders, table)
    rows = [
        REAL([o], table).per_order[0] if o.ingredient == "methadone" else r
        for o, r in zip(orders, result.per_order, strict=True)
    ]
    return _rebuild(result, rows)


def prn_orders_dropped(orders, table="cdc2022"):
    result = REAL(orders, table)
    rows = [
        replace(r, status=EXCLUDED, mme=None, reason="PRN") if r.order.as_needed else r
        for r in result.per_order
    ]
    return _rebuild(result, rows)


def hydromorphone_2016_factor_in_2022(monkeypatch):
    real_table = mme.factor_table

    def broken(name):
        table = real_table(name)
        if name != C22:
            return table
        factors = dict(table.factors, hydromorphone=replace(table.factors["hydromorphone"], value=D(4)))
        return replace(table, factors=factors)

    monkeypatch.setattr(mme, "factor_table", broken)


def _no_dose_count(o):
    return replace(o, dose=D(1)) if o.dose_unit in ("tablet", "capsule", "patch") else o


def _case_sensitive(o):
    return replace(o, ingredient="?" + o.ingredient) if o.ingredient != o.ingredient.lower() else o


def _buprenorphine_as_morphine(o):
    return replace(o, ingredient="morphine", rxnorm=None) if o.ingredient.lower() == "buprenorphine" else o


MUTANTS: dict[str, Callable] = {
    "unconvertible counted as 0": unconvertible_counted_as_zero,
    "doses_per_day forgotten": _rewrite(lambda o: replace(o, doses_per_day=D(1))),
    "patch multiplied by doses_per_day": patch_times_doses_per_day,
    "tablet count ignored": _rewrite(_no_dose_count),
    "identical orders counted once": identical_orders_counted_once,
    "total summed before rounding": total_from_unrounded_values,
    "2016 methadone tier from a running total": methadone_tier_from_a_running_total,
    "2016 methadone tier per order (CQF IG)": methadone_tier_per_order,
    "ingredient matched case-sensitively": _rewrite(_case_sensitive),
    "buprenorphine counted as morphine": _rewrite(_buprenorphine_as_morphine),
    "PRN orders dropped": prn_orders_dropped,
    "2016 hydromorphone factor in 2022": hydromorphone_2016_factor_in_2022,
}

# Which check must catch which mutant. Every property appears at least once.
CAUGHT_BY = [
    ("unconvertible counted as 0", "unconvertible changes nothing"),
    ("unconvertible counted as 0", "total is the sum"),
    ("total summed before rounding", "total is the sum"),
    ("identical orders counted once", "duplicate doubles"),
    ("tablet count ignored", "dose scales"),
    ("doses_per_day forgotten", "doses per day"),
    ("patch multiplied by doses_per_day", "doses per day"),
    ("patch multiplied by doses_per_day", "examples"),
    ("2016 methadone tier from a running total", "order does not matter"),
    ("ingredient matched case-sensitively", "names match any case or by code"),
    ("2016 hydromorphone factor in 2022", "examples"),
    ("2016 methadone tier per order (CQF IG)", "examples"),
    ("buprenorphine counted as morphine", "examples"),
    ("PRN orders dropped", "examples"),
    ("doses_per_day forgotten", "examples"),
]
MUTATION_SETTINGS = settings(
    max_examples=400,
    derandomize=True,  # the same examples every run: a detection that passed once always passes
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a counterexample is all we need
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


def _goes_red(detector: str) -> bool:
    if detector == "examples":
        runner = check_examples
    else:
        check, strategy = PROPERTIES[detector]

        @MUTATION_SETTINGS
        @given(strategy)
        def runner(args):
            check(*args)

    try:
        runner()
    except AssertionError:
        return True
    return False


def test_every_property_is_shown_to_fail_once():
    assert {d for _, d in CAUGHT_BY} == {*PROPERTIES, "examples"}
    assert {m for m, _ in CAUGHT_BY} == set(MUTANTS)


@pytest.mark.parametrize(("mutant", "detector"), CAUGHT_BY, ids=[f"{m} <- {d}" for m, d in CAUGHT_BY])
def test_mutant_is_caught(mutant, detector, monkeypatch):
    assert not _goes_red(detector), "the real implementation must pass first"
    broken = MUTANTS[mutant]
    if broken is hydromorphone_2016_factor_in_2022:
        broken(monkeypatch)
    else:
        monkeypatch.setattr(mme, "daily_mme", broken)
    assert _goes_red(detector), f"{detector!r} did not notice {mutant!r}"
